"""Tools for running ingestd on one machine: an embedded Kafka-protocol broker (Tansu), a real
`ingestd start` subprocess, condition polling, and the seed document's example configs.

Used by the quickstart, `scripts/`, `perf/` and `tests/`; nothing in the server imports them.
"""
