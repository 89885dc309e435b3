"""SQL: planning (scatter/gather split), per-worker execution, broker merge and Pinot's response shape."""
