"""The registry of modalities: each implements the ``Modality`` protocol, the steps the assets call.

Assets find a modality by the ``modality`` attribute every artefact carries (``"tabular"`` or ``"image"``),
and a source's modality by its name or path (``quality.data.sources.modality_of``), never by module names.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Optional, Protocol

from quality.checks.result import CheckResult
from quality.data.artifacts import LiftResult
from quality.data.sources import modality_of


class Modality(Protocol):
    """The steps of the pipeline that differ between tables and images. Each registered module defines
    every one of them; ``tests/test_modalities.py`` holds each module to this list."""

    MODALITY: str

    # raw_dataset
    def load(self, config: Any, name: str) -> Any: ...
    def dataset_metadata(self, dataset: Any) -> dict[str, Any]: ...
    def input_warnings(self, dataset: Any) -> list[str]: ...
    # evaluation_plan
    def plan(self, dataset: Any, config: Any) -> Any: ...
    def plan_summary(self, data: Any) -> dict[str, Any]: ...
    def plan_sizes(self, data: Any) -> dict[str, dict[Any, int]]: ...
    def class_counts(self, data: Any) -> dict[str, int]: ...
    # gan_generator
    def training_parts(self, data: Any, config: Any) -> dict[str, int]: ...
    def train_part(self, data: Any, config: Any, part: int, progress: Callable,
                   checkpoint_dir: Optional[Path]) -> Any: ...
    def combine_parts(self, data: Any, parts: list) -> Any: ...
    def resumed_from_step(self, model: Any) -> int: ...
    def model_version(self, model: Any) -> str: ...
    def generator_summary(self, model: Any) -> dict[str, Any]: ...
    def training_metadata(self, model: Any, data: Any) -> dict[str, Any]: ...
    # synthetic_samples and its checks
    def rows_to_generate(self, data: Any, config: Any) -> dict: ...
    def generate(self, model: Any, data: Any, config: Any) -> Any: ...
    def curation_summary(self, synthetic: Any) -> dict[str, Any]: ...
    def run_check(self, name: str, data: Any, synthetic: Any, thresholds: Any) -> CheckResult: ...
    def comparison_metadata(self, data: Any, synthetic: Any) -> dict[str, Any]: ...
    # lift_report and published_dataset
    def measure_lift(self, data: Any, synthetic: Any, config: Any, log: Callable) -> LiftResult: ...
    def write_publication(self, directory: Path, data: Any, synthetic: Any) -> dict[str, str]: ...


STEP_NAMES = tuple(name for name in Modality.__dict__ if not name.startswith("_")) + ("MODALITY",)


def _registered() -> dict[str, ModuleType]:
    from assets.modalities import image, tabular

    return {module.MODALITY: module for module in (tabular, image)}


def modality_named(name: str) -> Modality:
    """The modality registered as ``name``; ``KeyError`` naming the known ones otherwise."""
    registry = _registered()
    if name not in registry:
        raise KeyError(f"no modality {name!r}; registered: {', '.join(sorted(registry))}")
    return registry[name]


def modality_for(artifact: Any) -> Modality:
    """The modality an artefact (dataset, split, generator, samples) belongs to, read from its ``modality``."""
    name = getattr(artifact, "modality", None)
    if not isinstance(name, str):
        raise TypeError(f"{type(artifact).__name__} carries no modality; artefacts passed between steps name one")
    return modality_named(name)


def modality_for_source(source: str) -> Modality:
    return modality_named(modality_of(source))
