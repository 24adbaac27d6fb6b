"""Helpers that turn figures and tables into Dagster metadata values."""

from __future__ import annotations

import base64
from typing import Any

from dagster import MetadataValue


def png_markdown(png: bytes, alt: str) -> MetadataValue:
    """A PNG shown inline in the Dagster UI (a base64 data URI inside Markdown)."""
    encoded = base64.b64encode(png).decode("ascii")
    return MetadataValue.md(f"![{alt}](data:image/png;base64,{encoded})")


def check_metadata(result: Any) -> dict[str, Any]:
    """Scalar figures of a CheckResult as floats (Dagster plots them over time) plus its details."""
    metadata: dict[str, Any] = {"details": MetadataValue.text(result.details or "")}
    for key, value in result.metrics.items():
        if isinstance(value, bool):
            metadata[key] = MetadataValue.bool(value)
        elif isinstance(value, (int, float)):
            metadata[key] = MetadataValue.float(float(value))
        elif isinstance(value, (dict, list)):
            metadata[key] = MetadataValue.json(value)
        else:
            metadata[key] = MetadataValue.text(str(value))
    for key, value in result.threshold.items():
        metadata[f"threshold_{key}"] = MetadataValue.text(str(value))
    return metadata
