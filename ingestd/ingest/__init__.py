"""Per-partition ingestion: recovery from the ledger, then consume → decode → build → seal → commit."""
