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
    last = {"percent": -every_percent}
    started = time.perf_counter()

    def report(step: int, total: int, losses: dict) -> None:
        percent = int(100 * step / max(total, 1))
        if percent - last["percent"] >= every_percent or step == total:
            last["percent"] = percent
            figures = ", ".join(f"{k}={v:.3f}" for k, v in losses.items() if k.endswith("loss"))
            context.log.info(f"{what}: step {step}/{total} ({percent}%){eta(started, step, total)} {figures}")

    return report


def count_progress(log: Callable[[str], None], what: str) -> Callable[[int, int], None]:
    """A ``progress(done, total)`` callback that logs ``what`` done so far, with the time left."""
    started = time.perf_counter()
    return lambda done, total: log(f"{what}: {done}/{total} done{eta(started, done, total)}")


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
