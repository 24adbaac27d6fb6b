"""Conditional GANs for tabular records and images (plain PyTorch, no Dagster)."""
