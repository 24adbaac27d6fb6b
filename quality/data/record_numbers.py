"""Record-number columns: distinct whole numbers that number the rows rather than describe them. Generated
rows could only make one up, and a downstream classifier could key on it, so none reaches a generator unannounced."""

from __future__ import annotations

import re
import shlex
from typing import Optional, Sequence

import pandas as pd

from quality.data.messages import column_list

# Fewer rows than this can be all distinct by chance (a city per row in a six-row table).
MIN_IDENTIFIER_ROWS = 20
RECORD_NUMBER_NAMES = frozenset({
    "id", "idx", "index", "uid", "pid", "rownames", "rowname", "row", "rowid", "rowno", "rownum", "rownumber",
    "rowindex", "record", "recordid", "recordno", "recordnum", "recordnumber", "recno", "no", "nr", "num", "number",
    "seq", "seqn", "seqno", "serial", "serialno", "obs", "#"})
# ...or ends in one of these words ('patient_id', 'case_no', 'S.No', 'sample_idx', 'serial_number'), or is
# 'Unnamed: N' (pandas' name for a blank header: the index column of a CSV written with its index). Not
# 'index' as a last word: 'body_mass_index' and 'shock_index' are measurements.
RECORD_NUMBER_LAST_WORDS = frozenset({"id", "idx", "no", "nr", "num", "number"})
NAMED_RECORD_NUMBER = "record number (distinct whole numbers, named like an identifier)"
RANGE_RECORD_NUMBER = "record number (distinct whole numbers forming a consecutive range, like a row index)"
USER_DROPPED = "named by --drop (drop_columns)"


def record_number_columns(frame: pd.DataFrame, label_column: str, where: str,
                          keep: Sequence[str] = ()) -> dict[str, str]:
    """The columns of a validated table that are record numbers (an index, a row or patient number), each with
    its reason; the label and the columns in ``keep`` are never among them. A record number is not a feature:
    generated rows could only make one up, and a classifier could learn the file's order from it.

    A numeric (not boolean) column whose filled cells are distinct whole numbers is

    * dropped, ``NAMED_RECORD_NUMBER``, when its name is that of an identifier (``RECORD_NUMBER_NAMES``,
      ``RECORD_NUMBER_LAST_WORDS``, 'Unnamed: N'), however few its rows (two filled cells) and even with blanks;
    * dropped, ``RANGE_RECORD_NUMBER``, when, fully filled over at least ``MIN_IDENTIFIER_ROWS`` rows, its values
      are a consecutive range (0..n-1, 1..n or any k..k+n-1, in any order);
    * refused, naming the fix (--drop or --keep), when, fully filled over at least ``MIN_IDENTIFIER_ROWS`` rows,
      it rises down the file with gaps: the record numbers of a subset of rows, or a real feature the file is
      sorted by, and only the user knows which.

    Other columns of distinct whole numbers (an income in a 30-row table, in any order) are features; so is
    every column of fewer rows unless its name says otherwise: a few distinct values prove nothing.
    """
    found, rising = {}, []
    for column in frame.columns:
        if column == label_column or column in keep:
            continue
        whole = _distinct_whole_numbers(frame[column])
        if whole is None:
            continue
        if _named_like_record_number(column):
            found[column] = NAMED_RECORD_NUMBER
        elif len(whole) < max(len(frame), MIN_IDENTIFIER_ROWS):  # too few rows, or blanks: not the shape of one
            continue
        elif int(whole.max()) - int(whole.min()) == len(whole) - 1:
            found[column] = RANGE_RECORD_NUMBER
        elif whole.is_monotonic_increasing:
            rising.append(column)
    if rising:
        first = shlex.quote(str(rising[0]))
        raise ValueError(
            f"{where}: {column_list(rising)} made of distinct whole numbers rising down the file with gaps: record "
            "numbers (of a subset of rows, say), which are not features, or a real feature the file is sorted by; "
            f"say which: --drop {first} to drop it or --keep {first} to keep it (drop_columns / keep_columns in a "
            "catalog)"
        )
    return found


def _distinct_whole_numbers(values: pd.Series) -> Optional[pd.Series]:
    """The filled cells of a numeric column, in file order, when there are at least two, all distinct and all whole
    numbers; None otherwise."""
    if (not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)
            or pd.api.types.is_complex_dtype(values)):
        return None
    present = values.dropna()
    if len(present) < 2 or not (pd.api.types.is_integer_dtype(present) or (present % 1 == 0).all()):
        return None
    return present if present.is_unique else None


def _named_like_record_number(column) -> bool:
    """'id', 'rownames', 'patient_id', 'PatientID', 'Case No.', 'Unnamed: 0' and the like (see ``RECORD_NUMBER_NAMES``)."""
    words = [word.lower() for word in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", str(column))]
    joined = "".join(words) or str(column).strip()
    return (joined in RECORD_NUMBER_NAMES or (bool(words) and words[-1] in RECORD_NUMBER_LAST_WORDS)
            or "id" in words or bool(re.fullmatch(r"unnamed\d+", joined)))
