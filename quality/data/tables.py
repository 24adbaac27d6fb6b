"""Load a labelled table (built-in, CSV or Parquet), validate it, and plan how its lift is proved."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, ClassVar, Optional, Sequence

import numpy as np
import pandas as pd

from quality.data.artifacts import PROVENANCE_COLUMNS
from quality.data.plan import (
    AUTO_FOLDS, CROSS_FIT, DEMO_HOLDOUT_FRACTION, Protocol, assign_repeated_folds, choose_protocol, holdout_rows,
    part_name,
)
from quality.data.messages import column_list, them
from quality.data.record_numbers import (
    MIN_IDENTIFIER_ROWS, USER_DROPPED, record_number_columns,
)
from quality.data.splitting import VALIDATION_FRACTION, cap_class_rows
from quality.data.table_files import read_table_file

# A text column whose filled cells are (almost) all distinct is a record identifier even with a few blanks or a
# repeated value: an exact "fully filled, all distinct" rule lets one blank cell publish every real ID.
IDENTIFIER_DISTINCT_SHARE = 0.95
# A float label with more distinct values than this, some of them fractional, is a measurement, not a class.
MAX_FRACTIONAL_CLASSES = 20
# A text column of numbers whose only other cells are such markers is a numeric column with missing values
# written as text (pandas reads "NA", "null", "" and the like as missing, but not these): read as text, its
# numbers would become categories and be copied, never generated. Other text (codes such as "E11", bins such
# as "3+") makes a category, as before.
MISSING_MARKERS = frozenset({"", "?", "-", "--", ".", "none", "missing", "unknown", "not available", "#value!",
                             "#div/0!", "#ref!", "#num!"})
CELL_TYPES = (str, int, float, bool, np.integer, np.floating, np.bool_)
# A text column of numbers with a few other text cells (at most this share, this many distinct values) may be
# a numeric column with typos, or a code column such as ICD codes: it is read as a category, with a warning.
MAX_STRAY_TEXT_SHARE = 0.05
MAX_STRAY_TEXT_VALUES = 3
# Record numbers (see ``record_number_columns``): a numeric column of distinct whole numbers whose name, read as
# words ('PatientID', 'patient_id' and 'Patient ID' all give 'patient', 'id'), is one of these when joined...


@dataclass(frozen=True)
class BuiltinTable:
    load: Callable[[], pd.DataFrame]
    label_column: str
    scarce_train_rows: int
    """Every class but the majority is cut to this many deciding rows: the 'scarce data' demo setting."""


def _breast_cancer() -> pd.DataFrame:
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    frame = bunch.data.copy()
    frame["diagnosis"] = pd.Categorical.from_codes(bunch.target, bunch.target_names).astype(str)
    return frame


def _wine() -> pd.DataFrame:
    from sklearn.datasets import load_wine

    bunch = load_wine(as_frame=True)
    frame = bunch.data.copy()
    frame["cultivar"] = pd.Categorical.from_codes(bunch.target, bunch.target_names).astype(str)
    return frame


BUILTIN_TABLES: dict[str, BuiltinTable] = {
    "breast_cancer": BuiltinTable(_breast_cancer, label_column="diagnosis", scarce_train_rows=20),
    "wine": BuiltinTable(_wine, label_column="cultivar", scarce_train_rows=20),
}


@dataclass
class TabularDataset:
    """A validated labelled table as read from its source."""

    modality: ClassVar[str] = "tabular"
    artifact_key: ClassVar[str] = "tabular_dataset"  # names the type in stored artefacts: never change it

    frame: pd.DataFrame
    label_column: str
    name: str
    source: str
    scarce_train_rows: Optional[int] = None
    dropped_columns: dict[str, str] = field(default_factory=dict)
    """Columns of the source left out of ``frame``, each with the reason (``USER_DROPPED`` or a record number's)."""

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.frame.to_parquet(directory / "frame.parquet")
        _write_meta(directory, label_column=self.label_column, name=self.name, source=self.source,
                    scarce_train_rows=self.scarce_train_rows, dropped_columns=self.dropped_columns)

    @classmethod
    def load(cls, directory: Path) -> "TabularDataset":
        return cls(frame=pd.read_parquet(directory / "frame.parquet"), **_read_meta(directory))


@dataclass
class TabularPlan:
    """The rows that decide (each with its fold, see ``quality.data.plan``), the outer holdout (it only
    reports; may be empty), and how the lift is proved on them."""

    modality: ClassVar[str] = "tabular"
    artifact_key: ClassVar[str] = "tabular_plan"  # names the type in stored artefacts: never change it

    rows: pd.DataFrame
    folds: np.ndarray  # (repetitions, rows): each row's fold in each repetition of the protocol
    holdout: pd.DataFrame
    protocol: Protocol
    label_column: str
    name: str
    source: str

    @property
    def n_folds(self) -> int:
        return self.protocol.folds

    @property
    def n_parts(self) -> int:
        """Models that judge rows: one per fold of each repetition (``n_folds`` when not repeated)."""
        return self.protocol.parts

    def judged_by(self, part: int) -> np.ndarray:
        """Whether each deciding row is judged by part ``part`` (fold ``part % K`` of repetition ``part // K``)."""
        repeat, fold = self.protocol.part(part)
        return self.folds[repeat] == fold

    def fold_training_rows(self, part: int) -> pd.DataFrame:
        """The rows part ``part``'s generator, encoder, scalers and downstream models are fitted on."""
        return self.rows[~self.judged_by(part)].reset_index(drop=True)

    def fold_rows(self, part: int) -> pd.DataFrame:
        """The rows part ``part`` judges: they never reach its models."""
        return self.rows[self.judged_by(part)].reset_index(drop=True)

    @property
    def generator_rows(self) -> pd.DataFrame:
        """The published generator's training rows: every deciding row when cross-fitting, the split's
        training rows otherwise (the published model is then the one the split judged)."""
        return self.rows if self.protocol.kind == CROSS_FIT else self.fold_training_rows(0)

    def class_counts(self) -> dict:
        """Real rows per class in the publication (every deciding row): the counts synthetic rows balance."""
        return _class_counts(self.rows[self.label_column])

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.rows.to_parquet(directory / "rows.parquet")
        np.save(directory / "folds.npy", np.asarray(self.folds, dtype=np.int64))
        self.holdout.to_parquet(directory / "holdout.parquet")
        _write_meta(directory, label_column=self.label_column, name=self.name, source=self.source,
                    protocol=self.protocol.to_dict())

    @classmethod
    def load(cls, directory: Path) -> "TabularPlan":
        meta = _read_meta(directory)
        folds = np.load(directory / "folds.npy")
        return cls(rows=pd.read_parquet(directory / "rows.parquet"), folds=np.atleast_2d(folds),
                   holdout=pd.read_parquet(directory / "holdout.parquet"),
                   protocol=Protocol(**meta.pop("protocol")), **meta)


def load_table(source: str, label_column: Optional[str] = None, name: Optional[str] = None,
               drop_columns: Sequence[str] = (), keep_columns: Sequence[str] = ()) -> TabularDataset:
    """Read a built-in table by name or a CSV/Parquet file by path, and validate it.

    ``drop_columns`` are left out before validation (so a text identifier the validation would refuse can be
    dropped); then the record numbers ``record_number_columns`` finds are left out too, except those named in
    ``keep_columns``. Every column left out is recorded in ``TabularDataset.dropped_columns`` with its reason.

    Raises ``ValueError`` (or ``FileNotFoundError``) with a message that names the file, column or
    class at fault and says what to do.
    """
    if source in BUILTIN_TABLES:
        builtin = BUILTIN_TABLES[source]
        frame = builtin.load()
        label = label_column or builtin.label_column
        scarce: Optional[int] = builtin.scarce_train_rows
        dataset_name = name or source
    else:
        frame = read_table_file(Path(source))
        if not label_column:
            raise ValueError(
                f"{source}: name the label column (--label COL); columns are {list(frame.columns)}"
            )
        label, scarce, dataset_name = label_column, None, name or Path(source).stem
    dropped = dict.fromkeys(_columns_to_drop(frame, label, source, drop_columns, keep_columns), USER_DROPPED)
    frame = frame.drop(columns=list(dropped))
    validate_table(frame, label, where=source)
    record_numbers = record_number_columns(frame, label, where=source, keep=keep_columns)
    if record_numbers and frame.shape[1] - len(record_numbers) < 2:
        raise ValueError(f"{source}: the table has no feature columns besides {label!r} once the record numbers "
                         f"{list(record_numbers)} are dropped; keep a real feature with --keep COL (keep_columns)")
    frame = frame.drop(columns=list(record_numbers))
    dropped.update(record_numbers)
    if isinstance(frame[label].dtype, pd.CategoricalDtype):  # a class with no rows is not a class to balance
        frame[label] = frame[label].cat.remove_unused_categories()
    return TabularDataset(frame=frame, label_column=label, name=dataset_name, source=source,
                          scarce_train_rows=scarce, dropped_columns=dropped)


def _columns_to_drop(frame: pd.DataFrame, label: str, where: str, drop: Sequence[str],
                     keep: Sequence[str]) -> list[str]:
    """The columns ``drop`` names, once each; refuses a name the table lacks, the label, and a column also kept."""
    columns = list(frame.columns)
    for option, names in (("--drop (drop_columns)", drop), ("--keep (keep_columns)", keep)):
        unknown = [name for name in dict.fromkeys(names) if name not in columns]
        if unknown:
            raise ValueError(f"{where}: {option} names {', '.join(map(repr, unknown))}, "
                             f"{'not a column' if len(unknown) == 1 else 'not columns'} of the table; "
                             f"columns are {columns}")
    if label in drop:
        raise ValueError(f"{where}: --drop (drop_columns) names the label column {label!r}; the label cannot be "
                         "dropped: remove it from the columns to drop, or choose another label")
    both = [name for name in dict.fromkeys(drop) if name in keep]
    if both:
        raise ValueError(f"{where}: {column_list(both)} named by both --drop and --keep (drop_columns and "
                         "keep_columns); name each in one of them only")
    return list(dict.fromkeys(drop))


def validate_table(frame: pd.DataFrame, label_column: str, where: str) -> None:
    """Reject inputs that cannot be augmented honestly, naming every culprit."""
    if frame.empty:
        raise ValueError(f"{where}: the table has no rows")
    if label_column not in frame.columns:
        raise ValueError(
            f"{where}: label column {label_column!r} not found; columns are {list(frame.columns)}"
        )
    for column in frame.columns:
        _check_cell_types(frame[column], column, where)
    _validate_labels(frame[label_column], label_column, where)
    if frame.shape[1] < 2:
        raise ValueError(f"{where}: the table has no feature columns besides {label_column!r}")
    provenance = {name.lower() for name in PROVENANCE_COLUMNS}
    reserved = [c for c in frame.columns if str(c).lower() in provenance]
    if reserved:
        raise ValueError(
            f"{where}: {column_list(reserved)} named like the provenance columns synthlift adds to its output "
            f"({', '.join(PROVENANCE_COLUMNS)}, in any letter case); rename {them(reserved)}"
        )
    empty = [c for c in frame.columns if frame[c].isna().all()]
    if empty:
        raise ValueError(f"{where}: {column_list(empty)} entirely empty (all null); drop {them(empty)}")
    infinite = {c: n for c in frame.columns if (n := _infinite_count(frame[c]))}
    if infinite:
        counts = "; ".join(f"column {c!r} has {n} infinite value(s)" for c, n in infinite.items())
        raise ValueError(f"{where}: {counts}; replace them with finite values or leave them empty")
    unsupported = {c: str(frame[c].dtype) for c in frame.columns if _unsupported_dtype(frame[c].dtype)}
    unsupported.update({c: "dates written as text" for c in frame.columns if c != label_column and _dates_as_text(frame[c])})
    if unsupported:
        raise ValueError(
            f"{where}: column type(s) {unsupported} cannot be generated; convert dates and durations to numbers "
            "(e.g. days since a reference date) or drop those columns"
        )
    markers = {c: found for c in frame.columns if c != label_column and (found := _missing_markers(frame[c]))}
    if markers:
        listed = "; ".join(f"column {c!r}: {', '.join(repr(v) for v in found)}" for c, found in markers.items())
        raise ValueError(
            f"{where}: numeric column(s) with text cells that look like missing values ({listed}); leave those "
            "cells empty (missing values are allowed) or replace them with numbers"
        )
    identifiers = [c for c in frame.columns if c != label_column and _looks_like_identifier(frame[c])]
    if identifiers:
        raise ValueError(
            f"{where}: {column_list(identifiers)} text with a different value in (nearly) every filled row, like a record "
            "identifier; "
            f"generated rows could only copy real rows' values there: drop {them(identifiers)} before augmenting "
            f"(--drop {shlex.quote(str(identifiers[0]))}, or drop_columns in a catalog; or, for numbers or dates "
            "stored as text, convert them to numbers)"
        )


def _validate_labels(labels: pd.Series, label_column: str, where: str) -> None:
    if labels.isna().any():
        rows = labels.index[labels.isna()].tolist()[:5]
        raise ValueError(
            f"{where}: label column {label_column!r} has {int(labels.isna().sum())} missing value(s) "
            f"(first rows: {rows}); drop or fill those rows"
        )
    n_classes = labels.nunique()
    if n_classes < 2:
        raise ValueError(
            f"{where}: label column {label_column!r} has a single class ({labels.iloc[0]!r}); "
            "augmentation needs at least two classes"
        )
    infinite = _infinite_count(labels)
    if infinite:
        raise ValueError(f"{where}: label column {label_column!r} has {infinite} infinite value(s); "
                         "drop or relabel those rows")
    if pd.api.types.is_float_dtype(labels) and n_classes > MAX_FRACTIONAL_CLASSES and (labels % 1 != 0).any():
        raise ValueError(
            f"{where}: label column {label_column!r} holds {n_classes} distinct numbers, some fractional: it "
            "looks continuous, and synthlift balances classes; choose a column of class labels"
        )


def _infinite_count(values: pd.Series) -> int:
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return 0
    return int(np.isinf(values.to_numpy(dtype=float, na_value=np.nan)).sum())


def _unsupported_dtype(dtype) -> bool:
    return (pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype)
            or pd.api.types.is_complex_dtype(dtype) or isinstance(dtype, (pd.PeriodDtype, pd.IntervalDtype)))


ISO_DATE = r"^\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$"


def _dates_as_text(values: pd.Series) -> bool:
    """A text column (a CSV's dates are always text) whose every filled cell is an ISO date or date-time."""
    if isinstance(values.dtype, pd.CategoricalDtype) or not pd.api.types.is_string_dtype(values):
        return False
    present = values.dropna()
    return bool(len(present)) and present.map(lambda v: isinstance(v, str)).all() and \
        bool(present.str.match(ISO_DATE).all())


def _check_cell_types(values: pd.Series, column, where: str) -> None:
    """Cells must be text, numbers or booleans (bytes, lists, dicts and other objects cannot be generated)."""
    if not pd.api.types.is_object_dtype(values):
        return
    present = values.dropna()
    odd = present[~present.map(lambda value: isinstance(value, CELL_TYPES))]
    if len(odd):
        kind = type(odd.iloc[0]).__name__
        raise ValueError(
            f"{where}: column {column!r} holds {kind} values (first at row {odd.index.tolist()[0]!r}); cells must be "
            "text, numbers or booleans: convert or drop the column"
        )


def _text_among_numbers(values: pd.Series) -> Optional[tuple[pd.Series, pd.Series]]:
    """A text column's filled cells and those of them that are not numbers; None for any other column (a
    declared category may mix numbers and names)."""
    if isinstance(values.dtype, pd.CategoricalDtype) or not pd.api.types.is_string_dtype(values):
        return None
    present = values.dropna()
    return present, present[pd.to_numeric(present, errors="coerce").isna()]


def _missing_markers(values: pd.Series) -> list[str]:
    """The ``MISSING_MARKERS`` of a text column whose other cells are all numbers; [] for any other column."""
    cells = _text_among_numbers(values)
    if cells is None:
        return []
    present, text = cells
    if present.map(lambda value: isinstance(value, (bool, np.bool_))).any():
        return []
    found = sorted({str(value).strip() for value in text})
    if len(text) == len(present) or not set(map(str.lower, found)) <= MISSING_MARKERS:
        return []  # no numbers at all, or text other than missing-value markers: a category
    return found


def input_warnings(frame: pd.DataFrame, label_column: str,
                   dropped_columns: Optional[dict[str, str]] = None) -> list[str]:
    """What a valid table may hold by mistake: record numbers, which were dropped (``dropped_columns``, as
    ``TabularDataset`` records them; those the user dropped need no warning), and text columns of numbers with a
    few other text cells."""
    warnings = [
        f"column {column!r} was dropped as a {reason}, not a feature: generated rows could only make up such "
        f"numbers, and classifiers could learn the file's row order from them; if it is a real feature, keep it "
        f"with --keep {shlex.quote(str(column))} (keep_columns in a catalog)"
        for column, reason in (dropped_columns or {}).items() if reason != USER_DROPPED]
    for column in frame.columns:
        cells = _text_among_numbers(frame[column]) if column != label_column else None
        if cells is None:
            continue
        present, text = cells
        distinct = sorted({str(value) for value in text})
        if 0 < len(text) <= MAX_STRAY_TEXT_SHARE * len(present) and len(distinct) <= MAX_STRAY_TEXT_VALUES:
            warnings.append(
                f"column {column!r} holds numbers but for {len(text)} text cell(s) ({', '.join(map(repr, distinct))}), "
                "so it is read as a category whose values are copied, not generated; if it is numeric, fix those cells"
            )
    return warnings


def _looks_like_identifier(values: pd.Series) -> bool:
    """A text or categorical column with at least ``MIN_IDENTIFIER_ROWS`` filled cells, at least
    ``IDENTIFIER_DISTINCT_SHARE`` of them distinct (numbers are generated, not copied, so numeric columns never
    count)."""
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return False
    present = values.dropna()
    if len(present) < MIN_IDENTIFIER_ROWS:
        return False
    return present.nunique() >= IDENTIFIER_DISTINCT_SHARE * len(present)


def plan_table(
    dataset: TabularDataset,
    seed: int = 0,
    folds: int = AUTO_FOLDS,
    holdout_fraction: Optional[float] = None,
    validation_fraction: float = VALIDATION_FRACTION,
    scarce_rows: Optional[int] = None,
    repeats: int = 1,
) -> TabularPlan:
    """The evaluation plan of a table: an optional stratified outer holdout, then the protocol (``folds``: 0 by
    the rule in ``quality.data.plan``, 1 a validation split, K folds; cross-fitting drawn ``repeats`` times) over
    the remaining, deciding rows.

    ``holdout_fraction``: None holds ``DEMO_HOLDOUT_FRACTION`` out of a built-in demo and nothing out of a
    user's table. ``scarce_rows``: None uses the source's default (built-in demos are made scarce), 0 keeps
    every row, N > 0 keeps N deciding rows of each class but the majority (the outer holdout keeps its share).
    """
    frame = dataset.frame.reset_index(drop=True)
    labels = frame[dataset.label_column].to_numpy()
    if holdout_fraction is None:
        holdout_fraction = DEMO_HOLDOUT_FRACTION if dataset.source in BUILTIN_TABLES else 0.0
    held = holdout_rows(labels, holdout_fraction, seed, where=dataset.source)
    deciding = np.setdiff1d(np.arange(len(frame)), held)
    cap = dataset.scarce_train_rows if scarce_rows is None else scarce_rows
    if cap:
        counts = _class_counts(pd.Series(labels[deciding]))
        majority = max(counts, key=counts.get)
        deciding = cap_class_rows(deciding, labels, {c: cap for c in counts if c != majority}, seed)
    rows = frame.iloc[deciding].reset_index(drop=True)
    protocol = choose_protocol(rows[dataset.label_column], folds, validation_fraction, where=dataset.source,
                               repeats=repeats)
    fold_numbers = assign_repeated_folds(rows[dataset.label_column].to_numpy(), protocol, seed, validation_fraction)
    plan = TabularPlan(rows=rows, folds=fold_numbers, holdout=frame.iloc[held].reset_index(drop=True),
                       protocol=protocol, label_column=dataset.label_column, name=dataset.name,
                       source=dataset.source)
    _refuse_columns_empty_in_training(plan, dataset.source)
    return plan


def _refuse_columns_empty_in_training(plan: TabularPlan, source: str) -> None:
    for part in range(plan.n_parts):
        train = plan.fold_training_rows(part)
        empty = [c for c in train.columns if train[c].isna().all()]
        if empty:
            raise ValueError(
                f"{source}: {column_list(empty)} empty in the training rows of {part_name(plan.protocol, part)} "
                f"({len(train)} rows): the "
                "few values fell into the rows that judge it, the holdout, or rows the scarcity cap left out; "
                f"drop {them(empty)}, add rows with values, or try another seed"
            )


def _class_counts(labels: pd.Series) -> dict:
    return {cls: int(n) for cls, n in labels.value_counts().sort_index().items()}


def _write_meta(directory: Path, **meta) -> None:
    (directory / "meta.json").write_text(json.dumps(meta, indent=2))


def _read_meta(directory: Path) -> dict:
    return json.loads((directory / "meta.json").read_text())
