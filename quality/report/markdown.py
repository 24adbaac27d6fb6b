"""Markdown tables for data cards and Dagster metadata."""

from __future__ import annotations

from typing import Any


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def format_figure(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)
