"""ingestd: real-time stream ingestion for analytics, speaking Pinot's configs and APIs."""

__version__ = "0.1.0"
