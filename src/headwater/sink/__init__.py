"""`headwater sink`: topics into lake tables, exactly once (a consumer group of sink processes)."""
