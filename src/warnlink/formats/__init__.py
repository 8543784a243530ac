"""The file formats of docs/formats.md: wire structs and JSON Lines reading/writing."""
