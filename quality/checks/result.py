"""The record every quality check returns, so assets and data cards read one shape, and how its figures read."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Optional


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one quality check.

    ``metrics`` holds the figures (JSON-serialisable scalars), ``threshold`` what they were held
    against, and ``details`` one human sentence that says why it passed or failed.
    """

    name: str
    passed: bool
    blocking: bool
    metrics: dict[str, Any] = field(default_factory=dict)
    threshold: dict[str, Any] = field(default_factory=dict)
    details: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def figure_text(value: Optional[float]) -> str:
    """A figure as the ``details`` sentences print it: three significant digits, ``n/a`` where it is missing."""
    return "n/a" if value is None else f"{value:.3g}"
