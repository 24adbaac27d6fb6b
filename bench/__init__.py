"""Benchmarks of synthlift against classic and third-party baselines (not part of the package)."""
