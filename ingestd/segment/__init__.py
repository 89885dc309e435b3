"""Segments: the consuming (in-memory) segment, sealing to a durable file, loading per loadMode."""
