"""Running a scenario's simulation: truth, measurements and their files."""
