"""Small helpers every asset uses: the partition, progress logging with an ETA, and timing."""

from __future__ import annotations

import time
from typing import Any, Callable, Optional

from dagster import AssetExecutionContext


def partition_of(context: AssetExecutionContext) -> Optional[str]:
    return context.partition_key if context.has_partition_key else None


def progress_logger(context: AssetExecutionContext, what: str, every_percent: int = 10) -> Callable:
    """A ``progress(step, total, losses)`` callback that logs about every ``every_percent`` percent, with the
    time left estimated from the steps done so far."""
    due = _every_percent(every_percent)
    started = time.perf_counter()

    def report(step: int, total: int, losses: dict) -> None:
        if due(step, total):
            figures = ", ".join(f"{k}={v:.3f}" for k, v in losses.items() if k.endswith("loss"))
            context.log.info(f"{what}: step {step}/{total} ({_percent(step, total)}%){eta(started, step, total)} "
                             f"{figures}")

    return report


def count_progress(log: Callable[[str], None], what: str, every_percent: int = 10) -> Callable[[int, int], None]:
    """A ``progress(done, total)`` callback that logs ``what`` done so far, with the time left: the first, then
    about every ``every_percent`` percent, and the last."""
    due = _every_percent(every_percent)
    started = time.perf_counter()

    def report(done: int, total: int) -> None:
        if due(done, total):
            log(f"{what}: {done}/{total} done{eta(started, done, total)}")

    return report


def _every_percent(every_percent: int) -> Callable[[int, int], bool]:
    """``due(done, total)``: true for the first call, then once ``every_percent`` more percent are done, and at
    the end."""
    last = {"percent": -every_percent}

    def due(done: int, total: int) -> bool:
        percent = _percent(done, total)
        if percent - last["percent"] >= every_percent or done >= total:
            last["percent"] = percent
            return True
        return False

    return due


def _percent(done: int, total: int) -> int:
    return int(100 * done / max(total, 1))


def eta(started: float, done: int, total: int) -> str:
    """``", about N s left"`` from the pace since ``started`` (a ``time.perf_counter()`` reading)."""
    if done <= 0 or done >= total:
        return ""
    left = (time.perf_counter() - started) / done * (total - done)
    return f", about {left:.0f} s left" if left < 120 else f", about {left / 60:.1f} min left"


def timed(function: Callable, *args, **kwargs) -> tuple[Any, float]:
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, round(time.perf_counter() - start, 2)
