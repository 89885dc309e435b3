"""Test helpers: a real Tansu broker, a real `ingestd start` process, polling, seed configs."""
