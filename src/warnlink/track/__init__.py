"""Tracking: measurements to tracks, and tracks to launch and impact estimates."""
