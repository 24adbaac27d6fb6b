"""Dagster wiring for synthlift: Definitions, jobs, resources, IO managers and run config."""
