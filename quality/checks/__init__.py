"""Quality checks of synthetic samples, one module per kind of check, both modalities side by side."""
