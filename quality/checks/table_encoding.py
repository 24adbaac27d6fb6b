"""How the tabular checks read a table: the train columns every frame must carry, a numeric encoding fitted
on train (:class:`TrainEncoding`), categorical values as strings and one key per row."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from quality.checks.gx_suite import is_numeric_column

MISSING = "__missing__"


@dataclass(frozen=True)
class TrainEncoding:
    """A numeric encoding fitted on train: numeric columns standardised (missing -> the train mean,
    plus a missing flag where train has missing values), categorical columns one-hot over the train
    categories (missing is a category of its own; unseen values encode as all zeros)."""

    numeric: list[str]
    means: np.ndarray
    scales: np.ndarray
    flagged_missing: list[str]
    categories: dict[str, list[str]]

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        values = numeric_values(frame, self.numeric)
        standardised = np.nan_to_num((values - self.means) / self.scales, nan=0.0, posinf=0.0, neginf=0.0)
        blocks = [standardised, frame[self.flagged_missing].isna().to_numpy(dtype=float)]
        for name, categories in self.categories.items():
            codes = pd.Categorical(category_strings(frame[name]), categories=categories).codes
            blocks.append((codes[:, None] == np.arange(len(categories))[None, :]).astype(float))
        return np.hstack(blocks)


def fit_train_encoding(train: pd.DataFrame, columns: list[str]) -> TrainEncoding:
    """Fit :class:`TrainEncoding` on the given columns of the real train split."""
    numeric = [name for name in columns if is_numeric_column(train[name])]
    categorical = [name for name in columns if name not in numeric]
    values = numeric_values(train, numeric)
    with np.errstate(all="ignore"):
        means = np.nan_to_num(np.nanmean(values, axis=0)) if numeric else np.empty(0)
        scales = np.nanstd(values, axis=0) if numeric else np.empty(0)
    scales = np.where(np.isfinite(scales) & (scales > 0), scales, 1.0)
    return TrainEncoding(
        numeric=numeric,
        means=means,
        scales=scales,
        flagged_missing=[name for name in numeric if train[name].isna().any()],
        categories={name: sorted(category_strings(train[name]).unique().tolist()) for name in categorical},
    )


def require_label(train: pd.DataFrame, label_column: str) -> None:
    if label_column not in train:
        raise ValueError(f"label_column {label_column!r} is not a column of train; columns: {list(train.columns)}")


def train_columns(train: pd.DataFrame, label_column: str, **frames: pd.DataFrame) -> list[str]:
    """The train columns, checked to exist in every other frame (extra columns are ignored)."""
    require_label(train, label_column)
    for name, frame in frames.items():
        missing = [column for column in train.columns if column not in frame]
        if missing:
            raise ValueError(f"{name} lacks train column(s) {missing}; every frame must carry the train columns")
    return list(train.columns)


def sorted_labels(values: list) -> list:
    return sorted(values, key=lambda value: (str(type(value)), value))


def category_strings(column: pd.Series) -> pd.Series:
    """Categorical values as strings, missing as a category of its own (deterministic, dtype-agnostic)."""
    return column.astype(object).where(column.notna(), MISSING).astype(str)


def numeric_values(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    if not columns:
        return np.empty((len(frame), 0))
    try:
        return frame[columns].to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError):
        wrong = [name for name in columns if not is_numeric_column(frame[name])]
        raise ValueError(
            f"column(s) {wrong} are numeric in train but hold non-numeric values here; run the validity check first"
        ) from None


def row_keys(frame: pd.DataFrame, columns: list[str], numeric: list[str]) -> np.ndarray:
    """One hash per row, equal for rows with equal values whatever the column dtypes (int 1 == float 1.0);
    ``numeric`` names the columns that are numeric in train."""
    normalised = pd.DataFrame(
        {
            name: pd.to_numeric(frame[name], errors="coerce").astype(float) + 0.0 if name in numeric  # -0.0 is 0.0
            else category_strings(frame[name])
            for name in columns
        },
        index=frame.index,
    )
    return pd.util.hash_pandas_object(normalised, index=False).to_numpy()
