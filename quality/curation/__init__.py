"""Curation of synthetic samples before the gate: keep those that look like their class and add coverage."""
