"""Scenario files: what an exercise contains (parties, sensors, launches, links)."""
