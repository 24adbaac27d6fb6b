"""Load a labelled table (built-in, CSV or Parquet), validate it, and split it without leakage."""

from __future__ import annotations

import decimal
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ClassVar, Optional

import numpy as np
import pandas as pd

from quality.data.artifacts import PROVENANCE_COLUMNS
from quality.data.splitting import HOLDOUT_FRACTION, VALIDATION_FRACTION, cap_class_rows, stratified_split_indices

# Fewer rows than this can be all distinct by chance (a city per row in a six-row table).
MIN_IDENTIFIER_ROWS = 20
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


@dataclass(frozen=True)
class BuiltinTable:
    load: Callable[[], pd.DataFrame]
    label_column: str
    scarce_train_rows: int
    """Every class but the majority is cut to this many training rows: the 'scarce data' demo setting."""


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

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.frame.to_parquet(directory / "frame.parquet")
        _write_meta(directory, label_column=self.label_column, name=self.name, source=self.source,
                    scarce_train_rows=self.scarce_train_rows)

    @classmethod
    def load(cls, directory: Path) -> "TabularDataset":
        return cls(frame=pd.read_parquet(directory / "frame.parquet"), **_read_meta(directory))


@dataclass
class TabularSplit:
    """Train rows (the only rows any model, encoder or threshold sees), validation rows (they decide
    publication) and holdout rows (final figures only)."""

    modality: ClassVar[str] = "tabular"
    artifact_key: ClassVar[str] = "tabular_split"  # names the type in stored artefacts: never change it

    train: pd.DataFrame
    validation: pd.DataFrame
    holdout: pd.DataFrame
    label_column: str
    name: str
    source: str

    def class_counts(self) -> dict:
        return _class_counts(self.train[self.label_column])

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        for part in ("train", "validation", "holdout"):
            getattr(self, part).to_parquet(directory / f"{part}.parquet")
        _write_meta(directory, label_column=self.label_column, name=self.name, source=self.source)

    @classmethod
    def load(cls, directory: Path) -> "TabularSplit":
        parts = {part: pd.read_parquet(directory / f"{part}.parquet") for part in ("train", "validation", "holdout")}
        return cls(**parts, **_read_meta(directory))


def load_table(source: str, label_column: Optional[str] = None, name: Optional[str] = None) -> TabularDataset:
    """Read a built-in table by name or a CSV/Parquet file by path, and validate it.

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
    validate_table(frame, label, where=source)
    if isinstance(frame[label].dtype, pd.CategoricalDtype):  # a class with no rows is not a class to balance
        frame = frame.copy()
        frame[label] = frame[label].cat.remove_unused_categories()
    return TabularDataset(frame=frame, label_column=label, name=dataset_name, source=source,
                          scarce_train_rows=scarce)


def read_table_file(path: Path) -> pd.DataFrame:
    if not path.exists():
        known = ", ".join(BUILTIN_TABLES)
        raise FileNotFoundError(f"{path}: no such file (built-in tables are: {known})")
    readers = {".csv": pd.read_csv, ".parquet": pd.read_parquet, ".pq": pd.read_parquet}
    suffix = path.suffix.lower()
    if suffix not in readers:
        raise ValueError(f"{path}: unsupported file type {suffix!r}; use a .csv or .parquet file")
    header = _csv_header_line(path) if suffix == ".csv" else ""
    _refuse_repeated_names(path, header)
    try:
        frame = readers[suffix](path)
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path}: the file is empty") from None
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: is not UTF-8 text ({err.reason}); save it as UTF-8") from None
    except Exception as err:  # parsers raise many types (pyarrow's own for corrupt Parquet)
        separated = _other_separator_error(path, header) if "," not in header else None
        if separated:  # e.g. ';' with decimal commas in some rows, which pandas cannot even tokenize
            raise separated from None
        raise ValueError(f"{path}: cannot be read as {suffix[1:].upper()}: {err}") from None
    if frame.empty:
        raise ValueError(f"{path}: the table has no rows")
    if frame.shape[1] == 1 and (separated := _other_separator_error(path, header)):
        raise separated
    return _decimals_as_floats(frame)


def _csv_header_line(path: Path) -> str:
    """The first line of a CSV file ("" when it cannot be read as UTF-8: the parser reports that)."""
    try:
        with open(path, encoding="utf-8-sig") as handle:
            return handle.readline().rstrip("\r\n")
    except (OSError, UnicodeDecodeError):
        return ""


def _other_separator_error(path: Path, header: str) -> Optional[ValueError]:
    """The error for a CSV whose header holds ';', a tab or '|' (it reads as a single column); None otherwise."""
    separator = next((sep for sep in (";", "\t", "|") if sep in header), None)
    if separator is None:
        return None
    return ValueError(f"{path}: read as a single column {header[:60]!r}: the file looks separated by "
                      f"{separator!r}, not commas; save it as comma-separated CSV")


def _refuse_repeated_names(path: Path, header: str) -> None:
    """pandas renames a repeated header ('y', 'y' -> 'y', 'y.1') and keeps the first as 'y', so a repeated label
    would silently balance the wrong column: name the repeats instead."""
    import csv

    try:
        names = next(csv.reader([header]), [])
    except csv.Error:
        return  # the reader below reports it
    # blank names are not repeats: pandas names them 'Unnamed: N' (an Excel sheet's empty trailing columns)
    repeated = sorted({name for name in names if name and names.count(name) > 1})
    if repeated:
        raise ValueError(f"{path}: the header repeats column name(s) {repeated}; give every column its own name")


def _decimals_as_floats(frame: pd.DataFrame) -> pd.DataFrame:
    """Parquet decimal columns load as Python ``Decimal`` objects: numbers to generate, not categories."""
    for column in frame.columns:
        present = frame[column].dropna()
        if pd.api.types.is_object_dtype(present) and len(present) and present.map(
                lambda value: isinstance(value, decimal.Decimal)).all():
            frame[column] = frame[column].astype(float)
    return frame


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
            f"{where}: {_columns(reserved)} named like the provenance columns synthlift adds to its output "
            f"({', '.join(PROVENANCE_COLUMNS)}, in any letter case); rename {_them(reserved)}"
        )
    empty = [c for c in frame.columns if frame[c].isna().all()]
    if empty:
        raise ValueError(f"{where}: {_columns(empty)} entirely empty (all null); drop {_them(empty)}")
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
            f"{where}: {_columns(identifiers)} text with a different value in (nearly) every filled row, like a record "
            "identifier; "
            f"generated rows could only copy real rows' values there: drop {_them(identifiers)} before augmenting "
            "(or, for numbers or dates stored as text, convert them to numbers)"
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


def _columns(names: list) -> str:
    """'column 'a' is' / 'columns 'a', 'b' are', to open a message about the named columns."""
    listed = ", ".join(repr(n) for n in names)
    return f"column {listed} is" if len(names) == 1 else f"columns {listed} are"


def _them(names: list) -> str:
    return "it" if len(names) == 1 else "them"


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


def input_warnings(frame: pd.DataFrame, label_column: str) -> list[str]:
    """What a valid table may hold by mistake: text columns of numbers with a few other text cells."""
    warnings = []
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


def split_table(
    dataset: TabularDataset,
    seed: int = 0,
    validation_fraction: float = VALIDATION_FRACTION,
    holdout_fraction: float = HOLDOUT_FRACTION,
    scarce_train_rows: Optional[int] = None,
) -> TabularSplit:
    """Stratified train/validation/holdout split; optionally cut non-majority classes in *train* only.

    ``scarce_train_rows``: None uses the source's default (built-in demos are made scarce), 0 keeps
    every training row, N > 0 keeps N training rows of each class but the majority.
    """
    frame = dataset.frame.reset_index(drop=True)
    labels = frame[dataset.label_column].to_numpy()
    indices = stratified_split_indices(
        labels, seed, validation_fraction, holdout_fraction, where=dataset.source
    )
    cap = dataset.scarce_train_rows if scarce_train_rows is None else scarce_train_rows
    train_rows = indices.train
    if cap:
        counts = _class_counts(pd.Series(labels[train_rows]))
        majority = max(counts, key=counts.get)
        train_rows = cap_class_rows(train_rows, labels, {c: cap for c in counts if c != majority}, seed)
    train = frame.iloc[train_rows].reset_index(drop=True)
    empty_in_train = [c for c in train.columns if train[c].isna().all()]
    if empty_in_train:
        raise ValueError(
            f"{dataset.source}: {_columns(empty_in_train)} empty in the training split ({len(train)} rows): the few "
            "values fell into the validation or holdout rows, or into rows the scarcity cap left out; drop "
            f"{_them(empty_in_train)}, add rows with values, or try another seed"
        )
    return TabularSplit(
        train=train,
        validation=frame.iloc[indices.validation].reset_index(drop=True),
        holdout=frame.iloc[indices.holdout].reset_index(drop=True),
        label_column=dataset.label_column,
        name=dataset.name,
        source=dataset.source,
    )


def _class_counts(labels: pd.Series) -> dict:
    return {cls: int(n) for cls, n in labels.value_counts().sort_index().items()}


def _write_meta(directory: Path, **meta) -> None:
    (directory / "meta.json").write_text(json.dumps(meta, indent=2))


def _read_meta(directory: Path) -> dict:
    return json.loads((directory / "meta.json").read_text())
