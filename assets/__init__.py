"""Dagster assets and asset checks: thin wrappers over gan_models/ and quality/."""
