"""Reading a table file (CSV or Parquet), refusing the layouts that would be misread."""

from __future__ import annotations

import decimal
from pathlib import Path
from typing import Optional

import pandas as pd


def read_table_file(path: Path) -> pd.DataFrame:
    if not path.exists():
        from quality.data.tables import BUILTIN_TABLES

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
