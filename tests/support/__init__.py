"""Test-only helpers: an in-memory stream behind the stream SPI, and creating seed-shaped tables."""
