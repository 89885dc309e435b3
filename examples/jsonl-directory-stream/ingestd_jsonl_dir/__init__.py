"""Example ingestd stream plugin: a directory of JSON-lines files (see stream.py and docs/plugins.md)."""
