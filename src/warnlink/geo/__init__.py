"""Geodesy (WGS84 frames) and the bundled map data of the region."""
