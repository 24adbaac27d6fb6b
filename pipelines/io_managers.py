"""An IO manager that stores artefacts as files (Parquet, npz, JSON, state_dicts), never pickles.

Every artefact type exposes ``save(directory)`` and a ``load(directory)`` classmethod and a stable
``artifact_key``; the IO manager records that key beside the files and finds the type again in
``ARTIFACT_TYPES``, so moving or renaming a class never breaks a stored artefact.
"""

import contextlib
import json
import shutil
import uuid
from pathlib import Path
from typing import Any, Iterator, Optional

from dagster import (
    AssetKey, ConfigurableIOManager, DagsterInvariantViolationError, InputContext, OutputContext, ResourceDependency,
)

from pipelines.interrupts import INTERRUPTS, stop_interactive_run
from pipelines.resources import SynthliftStorage

TYPE_FILE = "artifact_type.json"


def artifact_types() -> dict[str, type]:
    """Every type a step may store, by its ``artifact_key``."""
    from gan_models.image import ImageGAN, PerClassImageGAN
    from gan_models.tabular import TabularGAN
    from quality.data.artifacts import (
        LiftResult, PublicationRecord, SyntheticImages, SyntheticTable, TabularGenerators,
    )
    from quality.data.images import ImageDataset, ImageSplit
    from quality.data.tables import TabularDataset, TabularPlan

    kinds = (TabularDataset, TabularPlan, TabularGAN, TabularGenerators, SyntheticTable, ImageDataset, ImageSplit, ImageGAN,
             PerClassImageGAN, SyntheticImages, LiftResult, PublicationRecord)
    return {kind.artifact_key: kind for kind in kinds}


# Artefacts stored before types were keyed recorded their import path; these still load. (A table's split of
# that time has no evaluation plan: it is refused, and the run that needs it plans again.)
LEGACY_IMPORT_PATHS = {
    "quality.tabular_ingest.TabularDataset": "tabular_dataset",
    "gan_models.tabular.trainer.TabularGAN": "tabular_gan",
    "quality.artifacts.SyntheticTable": "synthetic_table",
    "quality.image_ingest.ImageDataset": "image_dataset",
    "quality.image_ingest.ImageSplit": "image_split",
    "gan_models.image.trainer.ImageGAN": "image_gan",
    "gan_models.image.trainer.PerClassImageGAN": "per_class_image_gan",
    "quality.artifacts.SyntheticImages": "synthetic_images",
    "quality.artifacts.LiftResult": "lift_result",
    "quality.artifacts.PublicationRecord": "publication_record",
}


def stored_type(path: Path) -> type:
    """The artefact type recorded at ``path``, by key (or, for older artefacts, by import path)."""
    recorded = json.loads((path / TYPE_FILE).read_text())
    key = recorded.get("key") or LEGACY_IMPORT_PATHS.get(f"{recorded.get('module')}.{recorded.get('name')}")
    types = artifact_types()
    if key not in types:
        raise ValueError(f"{path}: stored as {recorded}, a type this version of synthlift does not know; "
                         "materialize the asset again")
    return types[key]


def _retried_step(context):
    """The step a retry policy covers, or None (no policy, or a context built outside a run: load_asset_value)."""
    try:
        step = context.step_context
    except DagsterInvariantViolationError:
        return None
    return step if step.op_retry_policy is not None else None


@contextlib.contextmanager
def _interrupts_stop_interactive_runs(context: InputContext | OutputContext) -> Iterator[None]:
    """An interrupt while a step with a retry policy loads or stores would be retried: stop an interactive run
    instead (other steps stop the run themselves)."""
    try:
        yield
    except INTERRUPTS as err:
        step = _retried_step(context)
        if step is not None:
            stop_interactive_run(step.run_id, step.run_tags, err)
        raise


class ArtifactIOManager(ConfigurableIOManager):
    storage: ResourceDependency[SynthliftStorage]

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        with _interrupts_stop_interactive_runs(context):
            self._handle_output(context, obj)

    def load_input(self, context: InputContext) -> Any:
        with _interrupts_stop_interactive_runs(context):
            return self._load_input(context)

    def _handle_output(self, context: OutputContext, obj: Any) -> None:
        key = getattr(obj, "artifact_key", None)
        if artifact_types().get(key) is not type(obj):
            raise TypeError(f"{type(obj).__name__} cannot be stored as files: it is not a registered artefact type "
                            "(pipelines.io_managers.artifact_types)")
        final = self._output_path(context)
        final.parent.mkdir(parents=True, exist_ok=True)
        staging = final.with_name(f".{final.name}.{uuid.uuid4().hex}")
        try:
            obj.save(staging)
            (staging / TYPE_FILE).write_text(json.dumps({"key": key}))
            _swap_into_place(staging, final)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        context.add_output_metadata({"path": str(final)})

    def _load_input(self, context: InputContext) -> Any:
        upstream = context.upstream_output
        if context.has_asset_key:
            partition = context.asset_partition_key if context.has_asset_partitions else None
            path = self._path(context.asset_key, partition)
        elif upstream.has_asset_key:  # an op inside a graph asset reading an asset: the run's partition
            path = self._path(upstream.asset_key, context.partition_key if context.has_partition_key else None)
        else:
            path = self._step_output_path(upstream)
        if not (path / TYPE_FILE).exists():
            raise FileNotFoundError(f"no stored artefact at {path}; materialize the upstream asset first")
        return stored_type(path).load(path)

    def _output_path(self, context: OutputContext) -> Path:
        """Assets live under their key and partition; a step output inside a graph asset (one trained
        part of a generator) lives under its run, step and mapping key."""
        if context.has_asset_key:
            return self._path(context.asset_key, context.partition_key if context.has_partition_key else None)
        return self._step_output_path(context)

    def _step_output_path(self, context: OutputContext) -> Path:
        name = context.name if context.mapping_key is None else f"{context.name}.{context.mapping_key}"
        return self.storage.artifacts_root / "runs" / context.run_id / context.step_key / name

    def _path(self, asset_key: AssetKey, partition: Optional[str]) -> Path:
        return self.storage.artifacts_root.joinpath(*asset_key.path, partition or "default")


def _swap_into_place(staging: Path, final: Path) -> None:
    """Replace ``final`` with ``staging`` so readers never see a half-written artefact."""
    retired = final.with_name(f".{final.name}.retired-{uuid.uuid4().hex}")
    if final.exists():
        final.rename(retired)
    staging.rename(final)
    shutil.rmtree(retired, ignore_errors=True)
