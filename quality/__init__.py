"""Input validation, quality checks, the downstream-lift protocol and the publish decision (no Dagster)."""
