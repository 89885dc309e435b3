"""Stream SPI (per-partition consumers, metadata) and the built-in Kafka implementation."""
