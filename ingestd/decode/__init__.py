"""Message decoders: raw stream values → Arrow record batches, bad messages counted and skipped."""
