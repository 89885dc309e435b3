"""The deep store: every sealed segment committed, exactly once, to a Delta Lake table in a shared store
(S3 or a filesystem) that any Delta reader (Trino, Spark, DuckDB, polars) can query directly."""
