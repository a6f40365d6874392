"""SQL over the lake: DuckDB reading Delta tables as Arrow datasets from `deltalake`."""
