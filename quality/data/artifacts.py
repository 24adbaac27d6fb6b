"""File-backed results that flow between pipeline steps: synthetic tables, lift results, publications."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Iterable, Optional

import pandas as pd

from quality.lift.report import REAL_PLUS_SYNTHETIC

PROVENANCE_COLUMNS = ("synthetic", "model_version", "seed")


@dataclass
class SyntheticTable:
    """Synthetic rows of the published generator and, for the lift, of each fold's generator; streamed to
    Parquet chunk by chunk so memory stays flat however many there are."""

    modality: ClassVar[str] = "tabular"
    artifact_key: ClassVar[str] = "synthetic_table"  # names the type in stored artefacts: never change it

    label_column: str
    model_version: str
    seed: int
    counts: dict[str, int]
    chunks: Optional[Iterable[pd.DataFrame]] = None
    columns_template: Optional[pd.DataFrame] = None
    path: Optional[Path] = None
    fold_chunks: dict[int, Iterable[pd.DataFrame]] = field(default_factory=dict)
    fold_paths: dict[int, Path] = field(default_factory=dict)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._write(directory / "synthetic.parquet", self.chunks, provenance=True)
        for fold, chunks in self.fold_chunks.items():
            self._write(directory / f"fold_{fold}.parquet", chunks, provenance=False)
        meta = {"label_column": self.label_column, "model_version": self.model_version, "seed": self.seed,
                "counts": {str(k): int(v) for k, v in self.counts.items()}, "folds": sorted(self.fold_chunks)}
        (directory / "meta.json").write_text(json.dumps(meta, indent=2))

    @classmethod
    def load(cls, directory: Path) -> "SyntheticTable":
        meta = json.loads((directory / "meta.json").read_text())
        folds = {int(fold): directory / f"fold_{fold}.parquet" for fold in meta.pop("folds", [])}
        return cls(**meta, path=directory / "synthetic.parquet", fold_paths=folds)

    def frame(self) -> pd.DataFrame:
        """The published generator's rows, with their provenance columns."""
        if self.path is None:
            raise ValueError("this synthetic table has not been written yet")
        return pd.read_parquet(self.path)

    def fold_frame(self, fold: int) -> pd.DataFrame:
        """Fold ``fold``'s generator's rows, which balance that fold's training rows (no provenance)."""
        if fold not in self.fold_paths:
            raise ValueError(f"no synthetic rows of fold {fold}; folds written: {sorted(self.fold_paths)}")
        return pd.read_parquet(self.fold_paths[fold])

    def _write(self, target: Path, chunks: Optional[Iterable[pd.DataFrame]], provenance: bool) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        shape = self._with_provenance if provenance else (lambda chunk: chunk)
        writer = None
        try:
            for chunk in chunks or ():
                table = pa.Table.from_pandas(shape(chunk), preserve_index=False)
                if writer is None:
                    writer = pq.ParquetWriter(target, table.schema)
                writer.write_table(table.cast(writer.schema))
            if writer is None:
                shape(self.columns_template.iloc[:0]).to_parquet(target, index=False)
        finally:
            if writer is not None:
                writer.close()

    def _with_provenance(self, chunk: pd.DataFrame) -> pd.DataFrame:
        return chunk.assign(synthetic=True, model_version=self.model_version, seed=self.seed)


@dataclass
class TabularGenerators:
    """The published generator and, for the lift, each fold's generator: fold k's never saw fold k's rows.
    With a validation split there is one fold, and its generator is the published one."""

    modality: ClassVar[str] = "tabular"
    artifact_key: ClassVar[str] = "tabular_generators"  # names the type in stored artefacts: never change it

    final: Any
    folds: list[Any]

    @property
    def final_is_fold(self) -> bool:
        return any(model is self.final for model in self.folds)

    @property
    def trained(self) -> list[Any]:
        """Every generator that was trained, once each."""
        return self.folds if self.final_is_fold else [*self.folds, self.final]

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        for fold, model in enumerate(self.folds):
            model.save(directory / f"fold_{fold}")
        if not self.final_is_fold:
            self.final.save(directory / "final")
        meta = {"folds": len(self.folds), "final": "fold_0" if self.final_is_fold else "final"}
        (directory / "generators.json").write_text(json.dumps(meta))

    @classmethod
    def load(cls, directory: Path) -> "TabularGenerators":
        from gan_models.tabular import TabularGAN

        meta = json.loads((directory / "generators.json").read_text())
        folds = [TabularGAN.load(directory / f"fold_{fold}") for fold in range(meta["folds"])]
        final = folds[0] if meta["final"] == "fold_0" else TabularGAN.load(directory / "final")
        return cls(final=final, folds=folds)


@dataclass
class LiftResult:
    """The lift on the validation split (it decides) and on the holdout split (it is only reported)."""

    artifact_key: ClassVar[str] = "lift_result"  # names the type in stored artefacts: never change it

    decision_report: dict[str, Any]
    final_report: dict[str, Any]
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def gated_method(self) -> str:
        """The method whose lift the gate judges (a modality may name another than real+synthetic)."""
        return self.extras.get("gated_method", REAL_PLUS_SYNTHETIC)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "lift.json").write_text(json.dumps(self.__dict__, indent=2, default=str))

    @classmethod
    def load(cls, directory: Path) -> "LiftResult":
        return cls(**json.loads((directory / "lift.json").read_text()))


@dataclass
class PublicationRecord:
    """What the publish step decided, where it wrote, and the full data card."""

    artifact_key: ClassVar[str] = "publication_record"  # names the type in stored artefacts: never change it

    decision: str
    reasons: list[str]
    output: Optional[str]
    card: dict[str, Any]

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "record.json").write_text(json.dumps(self.__dict__, indent=2, default=str))

    @classmethod
    def load(cls, directory: Path) -> "PublicationRecord":
        return cls(**json.loads((directory / "record.json").read_text()))


@dataclass
class SyntheticImages:
    """Synthetic images with their labels and provenance, stored as one compressed npz."""

    modality: ClassVar[str] = "image"
    artifact_key: ClassVar[str] = "synthetic_images"  # names the type in stored artefacts: never change it

    images: Any
    labels: Any
    class_names: list[str]
    model_version: str
    seed: int
    counts: dict[str, int]
    curation: dict[str, Any] = field(default_factory=dict)  # quality.curation's summary; empty when not curated
    # The images the lift adds to the train split (they balance it); None: ``images`` themselves (earlier runs).
    lift_images: Any = None
    lift_labels: Any = None

    def for_lift(self) -> tuple[Any, Any]:
        """The synthetic images and labels the lift trains on beside the real train images."""
        if self.lift_images is None:
            return self.images, self.labels
        return self.lift_images, self.lift_labels

    def save(self, directory: Path) -> None:
        import numpy as np

        directory.mkdir(parents=True, exist_ok=True)
        lift_images, lift_labels = self.for_lift()
        np.savez_compressed(directory / "synthetic.npz", images=self.images, labels=self.labels,
                            lift_images=lift_images, lift_labels=lift_labels)
        meta = {"class_names": self.class_names, "model_version": self.model_version, "seed": self.seed,
                "counts": {str(k): int(v) for k, v in self.counts.items()}, "curation": self.curation}
        (directory / "meta.json").write_text(json.dumps(meta, indent=2))

    @classmethod
    def load(cls, directory: Path) -> "SyntheticImages":
        import numpy as np

        with np.load(directory / "synthetic.npz") as arrays:
            images, labels = arrays["images"], arrays["labels"]
            lift = {name: arrays[name] for name in ("lift_images", "lift_labels") if name in arrays.files}
        return cls(images=images, labels=labels, **lift, **json.loads((directory / "meta.json").read_text()))
