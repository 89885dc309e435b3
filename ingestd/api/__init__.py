"""The HTTP API: Pinot's controller routes (schemas, tables, segments) and broker route (query)."""
