"""Reversible encoding of a table into the float matrix a tabular GAN learns from.

Continuous columns use CTGAN's mode-specific normalisation (Xu et al. 2019): a variational Bayesian
Gaussian mixture finds the modes of the column; each value is written as the one-hot of a mode plus a
scalar ``alpha = (x - mu_mode) / (4 * sigma_mode)`` clipped to ``[-1, 1]``. The mode of each row is drawn
from its posterior over the modes (Gumbel-max trick, vectorised), as in the paper, rather than taken
as the argmax: a value between two modes is then seen under both; only modes within 4 sigma of the value
are drawn from, and outlying values widen their nearest mode, so encoding does not clip them.
Discrete columns are one-hot encoded;
missing values get a category of their own (discrete) or an extra two-way "is missing" one-hot
(continuous), and come back as missing.

A discrete column with more than ``MAX_ENCODED_CATEGORIES`` levels keeps its most frequent
``MAX_ENCODED_CATEGORIES - 1`` levels and groups the rest into one "other" level, so the encoding (and
the generator's and critic's widths, and the condition vector) stays bounded whatever the number of levels.
The grouped levels stay generatable: a row decoded as "other" gets one of them, drawn with their
frequencies in the fitted table (seeded by the encoder's seed and the rows' index). Columns named in
``fit(..., ungrouped=...)`` (the label) are never grouped.

The fitted state is plain JSON (``to_state`` / ``from_state``): no pickled objects.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import numpy as np
import pandas as pd

from gan_models.tabular.mixture import Mixture, fit_mixtures

# The mixture is fitted on a subsample: mode positions need a few thousand values, not millions.
MAX_MIXTURE_ROWS = 2000
MIN_MODE_WEIGHT = 0.005
WEIGHT_CONCENTRATION_PRIOR = 1e-3
# Half of CTGAN's 100: most columns had not met the tolerance by 100 anyway, and on the benchmark
# tables (validation split) the downstream lift did not worsen while the encoder fit took a third less time.
MIXTURE_MAX_ITER = 50
ALPHA_SCALE = 4.0
# One-hot width of a discrete column at most: the rarer levels share one "other" level (module docstring).
MAX_ENCODED_CATEGORIES = 64
JSON_SCALARS = (str, int, float, bool)


class SpanInfo(NamedTuple):
    """One contiguous span of the encoded vector.

    ``role`` is ``"alpha"`` (scaled value within a mode), ``"mode"`` (one-hot of the mode),
    ``"missing"`` (two-way is-missing one-hot of a continuous column) or ``"category"`` (one-hot of a
    discrete column, its last entry being "missing" when the column had missing values).
    """

    column: Any
    kind: str  # "continuous" or "discrete"
    role: str
    start: int
    end: int
    activation: str  # "tanh" or "softmax"


class TabularEncoder:
    """Encode a DataFrame for a GAN and decode generated rows back to the same columns and dtypes."""

    def __init__(self, max_modes: int = 10, seed: int = 0) -> None:
        if max_modes < 1:
            raise ValueError(f"max_modes must be at least 1, got {max_modes}")
        self.max_modes = int(max_modes)
        self.seed = int(seed)
        self._columns: list[dict] = []
        self.output_info: list[SpanInfo] = []

    # ----------------------------------------------------------------------------------------- fit
    def fit(self, frame: pd.DataFrame, discrete_columns: Sequence, ungrouped: Sequence = ()) -> "TabularEncoder":
        """Learn each column's encoding.

        Columns in ``discrete_columns`` are one-hot encoded; so are columns that are not numeric
        (strings, categories, booleans) even when not listed. Every other column is continuous. Discrete
        columns with many levels group their rarest (module docstring), except those in ``ungrouped``.
        """
        if len(frame) == 0:
            raise ValueError("cannot fit the encoder on an empty table (0 rows)")
        unknown = [c for c in discrete_columns if c not in frame.columns]
        if unknown:
            raise ValueError(f"discrete_columns names {unknown}, which are not columns of the table")
        discrete = set(discrete_columns)
        rng = np.random.default_rng(self.seed)
        continuous = [c for c in frame.columns if c not in discrete and is_continuous_dtype(frame[c].dtype)]
        values = {c: _numeric_values(c, frame[c]) for c in continuous}
        samples = {c: _mixture_sample(c, values[c], rng) for c in continuous}
        modes = dict(zip(continuous, _fit_modes([samples[c] for c in continuous], self.max_modes)))
        self._columns = [
            _continuous_state(column, frame[column], values[column], modes[column])
            if column in samples else _fit_discrete(column, frame[column], group=column not in set(ungrouped))
            for column in frame.columns
        ]
        self.output_info = _build_output_info(self._columns)
        return self

    # ----------------------------------------------------------------------------------- transform
    @property
    def output_dimensions(self) -> int:
        """Width of the encoded vector."""
        self._check_fitted()
        return self.output_info[-1].end

    @property
    def columns(self) -> list:
        """Column names in fitted order."""
        return [state["name"] for state in self._columns]

    def column_state(self, column: Any) -> dict:
        """The fitted encoding of ``column`` (a JSON-ready dict; do not mutate it)."""
        for state in self._columns:
            if state["name"] == column:
                return state
        raise ValueError(f"column {column!r} is not one of the encoded columns {self.columns}")

    def spans(self, column: Any) -> list[SpanInfo]:
        """The spans that encode ``column``, in order."""
        found = [span for span in self.output_info if span.column == column]
        if not found:
            raise ValueError(f"column {column!r} is not one of the encoded columns {self.columns}")
        return found

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """Encode ``frame`` (same columns as fitted) into a float32 matrix of ``output_dimensions`` columns.

        The mode draws are seeded with the encoder's seed, so encoding the same table twice gives the
        same matrix.
        """
        self._check_fitted()
        missing_columns = [c for c in self.columns if c not in frame.columns]
        if missing_columns:
            raise ValueError(f"the table lacks the encoded columns {missing_columns}")
        rng = np.random.default_rng(self.seed)
        blocks = []
        for state in self._columns:
            series = frame[state["name"]]
            if state["kind"] == "continuous":
                blocks.extend(_transform_continuous(state, series, rng))
            else:
                blocks.append(_transform_discrete(state, series))
        return np.concatenate(blocks, axis=1).astype(np.float32, copy=False)

    def inverse_transform(self, encoded: np.ndarray, index: pd.Index | None = None) -> pd.DataFrame:
        """Decode an encoded (or generated) matrix to a DataFrame with the fitted columns and dtypes.

        One-hot spans are read by their argmax, so soft generator outputs decode as well.
        """
        self._check_fitted()
        encoded = np.asarray(encoded)
        if encoded.ndim != 2 or encoded.shape[1] != self.output_dimensions:
            raise ValueError(
                f"encoded matrix has shape {encoded.shape}; expected (rows, {self.output_dimensions})"
            )
        decoded = {}
        for state in self._columns:
            spans = {span.role: encoded[:, span.start:span.end] for span in self.spans(state["name"])}
            if state["kind"] == "continuous":
                decoded[state["name"]] = _inverse_continuous(state, spans)
            else:
                decoded[state["name"]] = _inverse_discrete(state, spans["category"], self.seed, index)
        frame = pd.DataFrame(decoded, index=index)
        return frame[self.columns]

    # ------------------------------------------------------------------------------------- state
    def to_state(self) -> dict:
        """The fitted encoder as plain JSON-ready data."""
        self._check_fitted()
        return {"max_modes": self.max_modes, "seed": self.seed, "columns": self._columns}

    @classmethod
    def from_state(cls, state: dict) -> "TabularEncoder":
        """Rebuild an encoder saved with ``to_state``."""
        encoder = cls(max_modes=state["max_modes"], seed=state["seed"])
        encoder._columns = [dict(column) for column in state["columns"]]
        encoder.output_info = _build_output_info(encoder._columns)
        return encoder

    def _check_fitted(self) -> None:
        if not self._columns:
            raise ValueError("the encoder is not fitted yet: call fit(frame, discrete_columns) first")


# ----------------------------------------------------------------------------------- continuous
def is_continuous_dtype(dtype: Any) -> bool:
    """True for numeric, non-boolean dtypes: the columns encoded as continuous unless named discrete."""
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


def _numeric_values(column: Any, series: pd.Series) -> np.ndarray:
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    if np.isinf(values).any():
        raise ValueError(
            f"column {column!r} holds infinite values; replace them with finite numbers or NaN"
        )
    return values


def _mixture_sample(column: Any, values: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """The column's observed values (subsampled past ``MAX_MIXTURE_ROWS``) and its mixture seed."""
    observed = values[~np.isnan(values)]
    if len(observed) == 0:
        raise ValueError(f"column {column!r} is entirely null; drop it or fill it before training")
    if len(observed) > MAX_MIXTURE_ROWS:
        observed = rng.choice(observed, size=MAX_MIXTURE_ROWS, replace=False)
    return observed, int(rng.integers(2**31 - 1))


def _continuous_state(column: Any, series: pd.Series, values: np.ndarray, modes: tuple) -> dict:
    """``values``: the column as floats (NaN where missing)."""
    means, stds, weights = modes
    # Every value, not only the mixture's subsample: a rare value the subsample missed must not be clipped.
    stds = _widened_to_cover(np.asarray(means), np.asarray(stds), values[~np.isnan(values)])
    return {
        "name": column,
        "kind": "continuous",
        "dtype": str(series.dtype),
        "integer": bool(pd.api.types.is_integer_dtype(series.dtype)),
        "means": means,
        "stds": stds,
        "weights": weights,
        "min": float(np.nanmin(values)),
        "max": float(np.nanmax(values)),
        "has_missing": bool(np.isnan(values).any()),
    }


def _fit_modes(samples: list[tuple[np.ndarray, int]], max_modes: int) -> list[tuple[list, list, list]]:
    """Means, standard deviations and weights of each column's significant mixture modes.

    All columns' mixtures are fitted together (``mixture.fit_mixtures``); a constant column has one mode.
    """
    standardised, components, seeds, fitted_columns = [], [], [], []
    modes: list = []
    for position, (observed, seed) in enumerate(samples):
        centre, scale = float(observed.mean()), float(observed.std())
        n_distinct = len(np.unique(observed))
        modes.append(([centre], [1.0], [1.0]))
        if scale == 0.0 or n_distinct == 1:
            continue
        # Fitting on standardised values makes the mixture's default priors scale-free.
        standardised.append((observed - centre) / scale)
        components.append(min(max_modes, n_distinct))
        seeds.append(seed)
        fitted_columns.append((position, centre, scale))
    mixtures = fit_mixtures(standardised, components, seeds, WEIGHT_CONCENTRATION_PRIOR, MIXTURE_MAX_ITER)
    for (position, centre, scale), mixture in zip(fitted_columns, mixtures):
        modes[position] = _significant_modes(mixture, centre, scale)
    return modes


def _significant_modes(mixture: Mixture, centre: float, scale: float) -> tuple[list, list, list]:
    keep = mixture.weights > MIN_MODE_WEIGHT
    if not keep.any():
        keep = mixture.weights == mixture.weights.max()
    means = mixture.means[keep] * scale + centre
    # A mode on a single repeated value has ~0 spread; floor it so alphas stay finite.
    stds = np.maximum(np.sqrt(mixture.variances[keep]) * scale, 1e-6 * scale)
    weights = mixture.weights[keep] / mixture.weights[keep].sum()
    return means.tolist(), stds.tolist(), weights.tolist()


def _widened_to_cover(means: np.ndarray, stds: np.ndarray, values: np.ndarray) -> list:
    """Widen modes so every value lies within ``ALPHA_SCALE`` sigmas of one (no clipping on encoding).

    Dropping low-weight modes can leave outliers far from every kept mode; each such value widens its
    nearest mode just enough to reach it.
    """
    z = np.abs(values[:, None] - means) / stds
    uncovered = (z > ALPHA_SCALE).all(axis=1)
    if uncovered.any():
        nearest = np.argmin(z[uncovered], axis=1)
        needed = np.abs(values[uncovered] - means[nearest]) / ALPHA_SCALE * (1 + 1e-9)
        stds = stds.copy()
        np.maximum.at(stds, nearest, needed)
    return stds.tolist()


def _transform_continuous(state: dict, series: pd.Series, rng: np.random.Generator) -> list[np.ndarray]:
    values = _numeric_values(state["name"], series)
    missing = np.isnan(values)
    if missing.any() and not state["has_missing"]:
        raise ValueError(
            f"column {state['name']!r} has missing values but had none when the encoder was fitted"
        )
    means, stds = np.asarray(state["means"]), np.asarray(state["stds"])
    log_weights = np.log(np.asarray(state["weights"]))
    filled = np.where(missing, means[np.argmax(log_weights)], values)
    z = (filled[:, None] - means) / stds
    log_posterior = log_weights - np.log(stds) - 0.5 * z**2
    # Draw only among modes that cover the value (|z| <= 4), so alpha is not clipped where avoidable.
    covered = np.abs(z) <= ALPHA_SCALE
    log_posterior = np.where(covered | ~covered.any(axis=1, keepdims=True), log_posterior, -np.inf)
    mode = np.argmax(log_posterior + rng.gumbel(size=log_posterior.shape), axis=1)
    alpha = np.clip((filled - means[mode]) / (ALPHA_SCALE * stds[mode]), -1.0, 1.0)
    blocks = [alpha[:, None], _one_hot(mode, len(means))]
    if state["has_missing"]:
        blocks.append(_one_hot(missing.astype(np.int64), 2))
    return blocks


def _inverse_continuous(state: dict, spans: dict[str, np.ndarray]) -> pd.api.extensions.ExtensionArray:
    means, stds = np.asarray(state["means"]), np.asarray(state["stds"])
    mode = np.argmax(spans["mode"], axis=1)
    alpha = np.clip(spans["alpha"][:, 0].astype(np.float64), -1.0, 1.0)
    values = np.clip(alpha * ALPHA_SCALE * stds[mode] + means[mode], state["min"], state["max"])
    if state["integer"]:
        values = np.round(values)
    if state["has_missing"]:
        values = np.where(np.argmax(spans["missing"], axis=1) == 1, np.nan, values)
    return pd.Series(values).astype(state["dtype"]).array


# ------------------------------------------------------------------------------------- discrete
def _fit_discrete(column: Any, series: pd.Series, group: bool = True) -> dict:
    missing = series.isna().to_numpy()
    if missing.all():
        raise ValueError(f"column {column!r} is entirely null; drop it or fill it before training")
    counts = pd.Series(series[~missing].to_numpy(dtype=object)).value_counts(sort=False)
    other: dict = {}
    if group and len(counts) > MAX_ENCODED_CATEGORIES:
        # most frequent first; ties by the levels' own order, so the choice does not depend on row order
        ranked = sorted(counts.index, key=lambda value: (-int(counts[value]), str(type(value)), str(value)))
        kept, rare = ranked[: MAX_ENCODED_CATEGORIES - 1], ranked[MAX_ENCODED_CATEGORIES - 1:]
        rare = _sorted_if_possible(np.array(rare, dtype=object))
        other = {"categories": [_json_scalar(column, value) for value in rare],
                 "counts": [int(counts[value]) for value in rare]}
        categories = _sorted_if_possible(np.array(kept, dtype=object))
    else:
        categories = _sorted_if_possible(pd.unique(series[~missing].to_numpy(dtype=object)))
    categories = [_json_scalar(column, value) for value in categories]
    state = {
        "name": column,
        "kind": "discrete",
        "dtype": str(series.dtype),
        "categories": categories,
        "has_missing": bool(missing.any()),
    }
    if other:  # only then: the state of every other column stays what it was before grouping existed
        state["other"] = other
    if isinstance(series.dtype, pd.CategoricalDtype):
        state["dtype_categories"] = [_json_scalar(column, v) for v in series.dtype.categories.tolist()]
        state["dtype_ordered"] = bool(series.dtype.ordered)
    return state


def _transform_discrete(state: dict, series: pd.Series) -> np.ndarray:
    values = series.to_numpy(dtype=object)
    missing = series.isna().to_numpy()
    codes = pd.Index(state["categories"], dtype=object).get_indexer(values)
    if "other" in state:
        grouped = pd.Index(state["other"]["categories"], dtype=object).get_indexer(values) >= 0
        codes = np.where(grouped, len(state["categories"]), codes)
    unseen = (codes < 0) & ~missing
    if unseen.any():
        raise ValueError(
            f"column {state['name']!r} holds category {values[unseen][0]!r}, unseen when the encoder "
            f"was fitted (known: {state['categories'][:20]})"
        )
    if missing.any():
        if not state["has_missing"]:
            raise ValueError(
                f"column {state['name']!r} has missing values but had none when the encoder was fitted"
            )
        codes = np.where(missing, _n_levels(state), codes)
    return _one_hot(codes, _discrete_width(state))


def _inverse_discrete(state: dict, span: np.ndarray, seed: int = 0, index: pd.Index | None = None):
    lookup = np.empty(_discrete_width(state), dtype=object)
    lookup[: len(state["categories"])] = state["categories"]
    lookup[len(state["categories"]):] = None
    codes = np.argmax(span, axis=1)
    values = lookup[codes]
    if "other" in state:
        values = _draw_grouped(state["other"], values, codes == len(state["categories"]), seed, index)
    if state["dtype"] == "category":
        return pd.Categorical(values, categories=state["dtype_categories"], ordered=state["dtype_ordered"])
    if state["dtype"] == "object":
        return values
    return pd.Series(values, dtype=object).astype(state["dtype"]).array


def _draw_grouped(other: dict, values: np.ndarray, grouped: np.ndarray, seed: int, index: pd.Index | None):
    """``values`` with each row decoded as "other" given one of the grouped levels, drawn with their counts;
    seeded by ``seed`` and the first row's index, so each chunk of a sample gets its own draws."""
    if not grouped.any():
        return values
    first = int(index[0]) if index is not None and len(index) and isinstance(index[0], (int, np.integer)) else 0
    rng = np.random.default_rng([seed, first])
    weights = np.asarray(other["counts"], dtype=float)
    drawn = np.empty(len(other["categories"]), dtype=object)
    drawn[:] = other["categories"]
    values = values.copy()
    values[grouped] = drawn[rng.choice(len(drawn), size=int(grouped.sum()), p=weights / weights.sum())]
    return values


def _n_levels(state: dict) -> int:
    """Encoded levels before the missing one: the kept categories, and "other" when levels were grouped."""
    return len(state["categories"]) + int("other" in state)


def _discrete_width(state: dict) -> int:
    return _n_levels(state) + int(state["has_missing"])


def _sorted_if_possible(values: np.ndarray) -> list:
    try:
        return sorted(values.tolist())
    except TypeError:  # mixed types: keep first-appearance order, still deterministic
        return values.tolist()


def _json_scalar(column: Any, value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if not isinstance(value, JSON_SCALARS):
        raise ValueError(
            f"column {column!r} holds a value of type {type(value).__name__} ({value!r}); discrete "
            "columns must hold strings, numbers or booleans"
        )
    return value


# ----------------------------------------------------------------------------------------- spans
def _build_output_info(columns: list[dict]) -> list[SpanInfo]:
    spans: list[SpanInfo] = []
    start = 0

    def add(column: Any, kind: str, role: str, width: int, activation: str) -> None:
        nonlocal start
        spans.append(SpanInfo(column, kind, role, start, start + width, activation))
        start += width

    for state in columns:
        if state["kind"] == "continuous":
            add(state["name"], "continuous", "alpha", 1, "tanh")
            add(state["name"], "continuous", "mode", len(state["means"]), "softmax")
            if state["has_missing"]:
                add(state["name"], "continuous", "missing", 2, "softmax")
        else:
            add(state["name"], "discrete", "category", _discrete_width(state), "softmax")
    return spans


def _one_hot(codes: np.ndarray, width: int) -> np.ndarray:
    matrix = np.zeros((len(codes), width), dtype=np.float32)
    matrix[np.arange(len(codes)), codes] = 1.0
    return matrix
