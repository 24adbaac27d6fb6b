"""The dataset catalog: a YAML file listing every dataset synthlift augments on a schedule.

Framework-free on purpose (no Dagster import): the sensor, partitions and schedule call
``load_catalog``, ``CatalogEntry.run_config`` and ``entry_fingerprint``; this module only reads,
validates and hashes.

    datasets:
      - name: breast_cancer          # partition key
        source: breast_cancer        # built-in name, or a path relative to this file
        training: {epochs: 50, seed: 0}
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any, Literal, Optional, Union

import yaml
from pydantic import (
    BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, create_model, field_validator, model_serializer,
    model_validator,
)

from gan_models.sampling import check_sampling_strategy_text
from pipelines.run_config import MAX_SEED, augmentation_run_config
from quality.checks.thresholds import RENAMED_THRESHOLDS, THRESHOLDS, renamed_threshold_message
from quality.data.sources import IMAGE_BUILTINS, MAX_NAME_LENGTH, canonical_path, modality_of
from quality.data.images import FOLDER_IMAGE_SIZE
from quality.data.tables import BUILTIN_TABLES
from quality.lift.statistics import MIN_LIFT_SEEDS

BUILTIN_SOURCES = (*BUILTIN_TABLES, *IMAGE_BUILTINS)
NAME_PATTERN = rf"[a-z0-9][a-z0-9_\-]{{0,{MAX_NAME_LENGTH - 1}}}"
DEVICE_PATTERN = r"auto|cpu|cuda(:\d+)?"
HASH_BLOCK_BYTES = 1 << 20
# Options that only one modality uses (the other would ignore them silently).
OPTION_MODALITY = {"epochs": "tabular", "repeats": "tabular", "max_steps": "tabular", "image_steps": "image", "image_minutes": "image", "per_class": "image", "lift_epochs": "image",
                   "image_size": "image", "image_curation": "image", "drop_columns": "tabular", "keep_columns": "tabular",
                   "drop": "tabular", "keep": "tabular"}  # the command line's names of drop_columns, keep_columns
# Settings added after the catalog's first release whose default is left out of ``entry_fingerprint``, so that
# upgrading re-runs no dataset that does not use them. ``folds`` and ``holdout_fraction`` are not among them on
# purpose: they came with the cross-fitted protocol, which changes every table's decision, so each runs once again.
UNFINGERPRINTED_DEFAULTS = {"drop_columns": (), "keep_columns": (), "image_curation": None, "repeats": 1}


class _ThresholdOverrides(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, values: Any) -> Any:
        for name in values if isinstance(values, dict) else ():
            if name in RENAMED_THRESHOLDS:
                raise ValueError(renamed_threshold_message(name))
        return values


# Overrides of ``pipelines.config.QualityThresholds``: the same names and ranges, unset keeps the default.
Thresholds = create_model(
    "Thresholds", __base__=_ThresholdOverrides,
    **{name: (Optional[float], Field(default=None, **threshold.bounds)) for name, threshold in THRESHOLDS.items()},
)


class TrainingBudget(BaseModel):
    """How much the GAN trains: ``epochs`` for tables, ``image_steps`` for images (unset: job default)."""

    model_config = ConfigDict(extra="forbid")

    epochs: Optional[int] = Field(default=None, gt=0)
    max_steps: Optional[int] = Field(default=None, ge=0, description="Tables: step budget (0: no cap).")
    image_steps: Optional[int] = Field(default=None, gt=0)
    image_minutes: Optional[float] = Field(default=None, ge=0, allow_inf_nan=False,
                                           description="Images: wall-clock budget of the GAN (0: none).")
    seed: int = Field(default=0, ge=0, le=MAX_SEED, description="Seed of the split, the GAN and the sampler.")
    device: str = "auto"
    checkpoint_every: int = Field(default=0, ge=0)

    @field_validator("device")
    @classmethod
    def _known_device(cls, device: str) -> str:
        check_device(device)
        return device

    @model_serializer(mode="wrap")
    def _without_unset_step_budget(self, handler: Any) -> dict[str, Any]:
        """``max_steps`` and ``image_minutes`` came after the catalog's first release: unset, it is left out of the dump, so the
        entry fingerprint (and whether a run is due) stays what it was before it existed."""
        values = handler(self)
        for later in ("max_steps", "image_minutes"):
            if values.get(later, 0) is None:
                values.pop(later)
        return values


class CatalogEntry(BaseModel):
    """One dataset of the catalog. Fields are validated in the order written, so later validators can
    read earlier fields (``modality`` needs ``source``; ``label`` and ``training`` need ``modality``).

    Validate with ``CatalogEntry.model_validate(data, context={"base_dir": folder})`` so a relative
    ``source`` path is resolved against ``folder`` (``load_catalog`` passes the catalog's folder).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Partition key: lower case, digits, '_' or '-'.")
    source: str
    modality: Optional[Literal["tabular", "image"]] = Field(default=None, validate_default=True)
    label: Optional[str] = Field(default=None, validate_default=True)
    drop_columns: tuple[str, ...] = Field(default=(), description="Tables: columns to leave out; never the label.")
    keep_columns: tuple[str, ...] = Field(
        default=(), description="Tables: columns to keep that would be dropped as record numbers.")
    sampling_strategy: str = "auto"
    image_curation: Optional[int] = Field(
        default=None, ge=1, description="Images: candidates generated per image kept by curation (1: no curation).")
    thresholds: Optional[Thresholds] = None
    min_lift: float = 0.0
    require_beat_baseline: bool = False
    training: TrainingBudget = Field(default_factory=TrainingBudget, validate_default=True)
    folds: Optional[int] = Field(default=None, ge=0, description="0: by the rule; 1: a validation split; K: K folds.")
    repeats: int = Field(default=1, ge=1, description="Tables: draw the cross-fitting folds this many times.")
    holdout_fraction: Optional[float] = Field(default=None, ge=0.0, lt=0.5,
                                              description="Rows held out to report only (default: by source).")
    lift_seeds: int = Field(default=MIN_LIFT_SEEDS, ge=1,
                            description=f"Downstream seeds; a lift over fewer than {MIN_LIFT_SEEDS} never publishes.")
    image_size: int = Field(default=FOLDER_IMAGE_SIZE, ge=8)

    @field_validator("name")
    @classmethod
    def _valid_partition_key(cls, name: str) -> str:
        check_partition_key(name)
        return name

    @field_validator("source")
    @classmethod
    def _resolve_source(cls, source: str, info: ValidationInfo) -> str:
        if source in BUILTIN_SOURCES:
            return source
        path = Path(source).expanduser()
        base_dir = (info.context or {}).get("base_dir")
        if not path.is_absolute() and base_dir is not None:
            path = Path(base_dir) / path
        path = canonical_path(path)
        if not path.exists():
            raise ValueError(
                f"{path} does not exist; give a CSV/Parquet/.npz file or an image folder (relative paths "
                f"are read from the catalog's folder) or a built-in name: {', '.join(BUILTIN_SOURCES)}"
            )
        modality_of(str(path))  # raises ValueError for a file synthlift cannot read
        return str(path)

    @field_validator("modality")
    @classmethod
    def _agree_with_source(cls, modality: Optional[str], info: ValidationInfo) -> Optional[str]:
        if "source" not in info.data:  # the source itself is invalid and already reported
            return modality
        inferred = modality_of(info.data["source"])
        if modality is not None and modality != inferred:
            raise ValueError(f"modality {modality!r} disagrees with the source, which is {inferred!r}; "
                             f"remove the field or set it to {inferred!r}")
        return inferred

    @field_validator("label")
    @classmethod
    def _label_where_needed(cls, label: Optional[str], info: ValidationInfo) -> Optional[str]:
        source, modality = info.data.get("source"), info.data.get("modality")
        if source is None or modality is None:
            return label
        if modality == "image" and label:
            raise ValueError("label applies to tables only; image classes come from the source itself")
        if modality == "tabular" and source not in BUILTIN_TABLES and not label:
            raise ValueError(f"name the label column of {Path(source).name} (label: COLUMN)")
        return label

    @field_validator("drop_columns", "keep_columns", "image_curation")
    @classmethod
    def _options_of_the_modality(cls, value: Any, info: ValidationInfo) -> Any:
        if info.data.get("modality") is not None:
            check_options_for_modality(info.data["modality"], {info.field_name: value or None})
        return value

    @field_validator("repeats")
    @classmethod
    def _repeats_for_tables(cls, repeats: int, info: ValidationInfo) -> int:
        if info.data.get("modality") is not None:
            check_options_for_modality(info.data["modality"], {"repeats": repeats if repeats > 1 else None})
        return repeats

    @field_validator("sampling_strategy", mode="before")
    @classmethod
    def _sampling_strategy_as_text(cls, strategy: Any) -> Any:
        # YAML users write {malignant: 200} or 0.8; the job's config takes the text form.
        if isinstance(strategy, dict):
            return json.dumps(strategy, sort_keys=True)
        if isinstance(strategy, float):
            return str(strategy)
        return strategy

    @field_validator("sampling_strategy")
    @classmethod
    def _known_sampling_strategy(cls, strategy: str) -> str:
        check_sampling_strategy_text(strategy)
        return strategy

    @field_validator("min_lift")
    @classmethod
    def _valid_min_lift(cls, min_lift: float) -> float:
        check_min_lift(min_lift)
        return min_lift

    @field_validator("training")
    @classmethod
    def _budget_fits_modality(cls, training: TrainingBudget, info: ValidationInfo) -> TrainingBudget:
        if info.data.get("modality") is not None:
            check_options_for_modality(info.data["modality"], training.model_dump(include={"epochs", "max_steps", "image_steps", "image_minutes"}))
        return training

    def run_config(self) -> dict[str, Any]:
        """Run config of the asset job for this dataset (the same builder as the CLI's)."""
        budget = self.training
        return augmentation_run_config(
            source=self.source, label=self.label or "", drop_columns=self.drop_columns,
            keep_columns=self.keep_columns, seed=budget.seed, device=budget.device,
            epochs=budget.epochs, max_steps=budget.max_steps, image_steps=budget.image_steps,
            image_minutes=budget.image_minutes, checkpoint_every=budget.checkpoint_every,
            image_size=self.image_size, sampling_strategy=self.sampling_strategy,
            image_curation=self.image_curation, folds=self.folds, repeats=self.repeats,
            holdout_fraction=self.holdout_fraction, lift_seeds=self.lift_seeds,
            min_lift=self.min_lift, require_beat_baseline=self.require_beat_baseline,
            thresholds=self.thresholds.model_dump(exclude_none=True) if self.thresholds else None,
        )


@dataclass(frozen=True)
class CatalogError:
    """One problem with one entry: ``entry`` is its name, or ``#N`` (its position counting from 1)
    when it has no usable name; ``field`` is dotted (``training.epochs``), empty for the whole entry."""

    entry: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.entry}: {self.field or 'entry'}: {self.message}"


@dataclass
class CatalogLoad:
    """The valid entries of a catalog, and an error for every invalid one (which is left out)."""

    entries: list[CatalogEntry] = field(default_factory=list)
    errors: list[CatalogError] = field(default_factory=list)


def load_catalog(path: Union[str, Path]) -> CatalogLoad:
    """Read a catalog file (``datasets: [...]``) and validate each entry on its own.

    An invalid entry, or a second entry with a name already used, becomes a ``CatalogError`` and the
    others still load. A file that is missing, unreadable, not YAML, or not shaped ``datasets: [...]``
    raises ``ValueError`` naming the file.
    """
    path = Path(path).expanduser().absolute()
    raw_entries = _read_dataset_list(path)
    load = CatalogLoad()
    first_position: dict[str, int] = {}
    for position, raw in enumerate(raw_entries, start=1):
        entry_id = _entry_id(raw, position)
        errors: list[CatalogError] = []
        if entry_id in first_position:
            errors.append(CatalogError(entry_id, "name", f"duplicate name: dataset #{first_position[entry_id]} "
                                                         "already uses it; names must be unique"))
        elif not entry_id.startswith("#"):
            first_position[entry_id] = position
        entry, entry_errors = _validate_entry(raw, entry_id, path.parent)
        errors.extend(entry_errors)
        if errors:
            load.errors.extend(errors)
        else:
            load.entries.append(entry)
    return load


def check_partition_key(name: str) -> None:
    """Raise ``ValueError`` unless ``name`` is a valid partition key (it also names storage folders)."""
    if not re.fullmatch(NAME_PATTERN, name):
        raise ValueError(f"{name!r}: use 1 to 63 lower-case letters, digits, '_' and '-', starting with a letter "
                         "or digit")


def check_device(device: str) -> None:
    """Raise ``ValueError`` unless ``device`` is auto, cpu, cuda or cuda:N."""
    if not re.fullmatch(DEVICE_PATTERN, device):
        raise ValueError(f"{device!r}: use auto, cpu, cuda or cuda:N")


def check_min_lift(min_lift: float) -> None:
    """Raise ``ValueError`` unless ``min_lift`` is a finite number >= 0: a negative bound would let an
    augmentation publish while its lift's interval lies below zero, i.e. while it measurably hurts."""
    if not math.isfinite(min_lift) or min_lift < 0:
        raise ValueError(f"min_lift must be a finite number >= 0 (a negative bound would publish augmentation "
                         f"that lowers accuracy), got {min_lift}")


def check_options_for_modality(modality: str, options: dict[str, Any]) -> None:
    """Raise ``ValueError`` naming the first option that is set (not None or False) but that a source of
    ``modality`` ("tabular" or "image") does not use; ``options`` may name them as on the command line."""
    for name, value in options.items():
        wanted = OPTION_MODALITY.get(name.lstrip("-").replace("-", "_"))
        if value is not None and value is not False and wanted not in (None, modality):
            applies, source = ("tables", "images") if wanted == "tabular" else ("images", "a table")
            raise ValueError(f"{name} applies to {applies} only, and this source is {source}")


def source_fingerprint(entry: CatalogEntry) -> str:
    """SHA-256 (hex) of the source's content: a file's bytes; an image folder's sorted relative paths
    and bytes (hidden files skipped, as the loader skips them); a built-in's name and the installed
    scikit-learn version that ships it. Never timestamps, so touching a file changes nothing."""
    if entry.source in BUILTIN_SOURCES:
        return _sha256_text(f"builtin:{entry.source}:scikit-learn=={version('scikit-learn')}")
    path = Path(entry.source)
    digest = hashlib.sha256()
    if path.is_dir():
        for file in _visible_files(path):
            relative = file.relative_to(path).as_posix().encode()
            # Length prefixes keep the stream unambiguous (no name/content boundary shifts).
            digest.update(len(relative).to_bytes(8, "big") + relative)
            digest.update(file.stat().st_size.to_bytes(8, "big"))
            _hash_file_into(digest, file)
    else:
        _hash_file_into(digest, path)
    return digest.hexdigest()


def entry_fingerprint(entry: CatalogEntry) -> str:
    """SHA-256 (hex) of the source's content and the entry's settings: a run is due when it changes."""
    # The source path is left out: its content stands for it, so moving the checkout re-runs nothing.
    unused = {name for name, default in UNFINGERPRINTED_DEFAULTS.items() if getattr(entry, name) == default}
    settings = entry.model_dump(mode="json", exclude={"source", *unused})
    payload = json.dumps({"source": source_fingerprint(entry), "settings": settings}, sort_keys=True)
    return _sha256_text(payload)


def _read_dataset_list(path: Path) -> list[Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"catalog {path} cannot be read: {err}") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ValueError(f"catalog {path} is not valid YAML: {err}") from None
    if not isinstance(document, dict) or set(document) != {"datasets"} or not isinstance(document["datasets"], list):
        found = sorted(map(str, document)) if isinstance(document, dict) else type(document).__name__
        raise ValueError(f"catalog {path} must hold one key, 'datasets', with a list of datasets; found {found}")
    return document["datasets"]


def _entry_id(raw: Any, position: int) -> str:
    name = raw.get("name") if isinstance(raw, dict) else None
    return name if isinstance(name, str) and name else f"#{position}"


def _validate_entry(raw: Any, entry_id: str, base_dir: Path) -> tuple[Optional[CatalogEntry], list[CatalogError]]:
    if not isinstance(raw, dict):
        return None, [CatalogError(entry_id, "", f"a dataset must be a mapping of settings, got {type(raw).__name__}")]
    try:
        return CatalogEntry.model_validate(raw, context={"base_dir": base_dir}), []
    except ValidationError as err:
        return None, [CatalogError(entry_id, ".".join(map(str, e["loc"])), _plain_message(e)) for e in err.errors()]


def _plain_message(error: dict) -> str:
    if error["type"] == "extra_forbidden":
        model = _MODEL_AT.get(tuple(error["loc"][:-1]), CatalogEntry)
        return f"unknown setting; expected one of: {', '.join(model.model_fields)}"
    return error["msg"].removeprefix("Value error, ")


_MODEL_AT: dict[tuple, type[BaseModel]] = {("thresholds",): Thresholds, ("training",): TrainingBudget}


def _visible_files(folder: Path) -> list[Path]:
    files = (p for p in folder.rglob("*") if p.is_file())
    visible = [p for p in files if not any(part.startswith(".") for part in p.relative_to(folder).parts)]
    return sorted(visible, key=lambda p: p.relative_to(folder).as_posix())


def _hash_file_into(digest: "hashlib._Hash", file: Path) -> None:
    with file.open("rb") as stream:
        while block := stream.read(HASH_BLOCK_BYTES):
            digest.update(block)


def _sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
