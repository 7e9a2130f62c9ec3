"""Asset definitions, one module per layer: module name = asset group = DuckDB schema."""
