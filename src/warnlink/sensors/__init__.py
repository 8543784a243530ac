"""Sensor simulation: radars and space-based infrared observing the truth."""
