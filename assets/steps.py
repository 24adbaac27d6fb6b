"""Pick the modality's implementation of a step from the artefact it works on."""

from __future__ import annotations

import time
from types import ModuleType
from typing import Any, Callable, Optional

from dagster import AssetExecutionContext

from quality.sources import modality_of


def steps_for_source(source: str) -> ModuleType:
    return _module(modality_of(source))


def steps_for(artifact: Any) -> ModuleType:
    """Tabular artefacts come from quality.tabular_ingest / quality.artifacts; everything else is images."""
    module = type(artifact).__module__
    return _module("tabular" if module in ("quality.tabular_ingest", "quality.artifacts")
                   or module.startswith("gan_models.tabular") else "image")


def _module(modality: str) -> ModuleType:
    if modality == "tabular":
        from assets import tabular_steps

        return tabular_steps
    from assets import image_steps

    return image_steps


def partition_of(context: AssetExecutionContext) -> Optional[str]:
    return context.partition_key if context.has_partition_key else None


def progress_logger(context: AssetExecutionContext, what: str, every_percent: int = 10) -> Callable:
    """A ``progress(step, total, losses)`` callback that logs about every ``every_percent`` percent."""
    last = {"percent": -every_percent}

    def report(step: int, total: int, losses: dict) -> None:
        percent = int(100 * step / max(total, 1))
        if percent - last["percent"] >= every_percent or step == total:
            last["percent"] = percent
            figures = ", ".join(f"{k}={v:.3f}" for k, v in losses.items() if k.endswith("loss"))
            context.log.info(f"{what}: step {step}/{total} ({percent}%) {figures}")

    return report


def timed(function: Callable, *args, **kwargs) -> tuple[Any, float]:
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, round(time.perf_counter() - start, 2)
