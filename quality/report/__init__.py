"""Plots and Markdown tables shown in Dagster metadata and data cards."""
