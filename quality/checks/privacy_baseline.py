"""The real-data baseline of a distance-to-closest-record check, shared by tables and images.

Synthetic rows are compared with real rows the generator never saw (the validation split). The baseline is
reweighted to the synthetic class mix, because a class's rows sit closer together when it has more of them,
and the share of synthetic rows allowed below its low quantile widens when that quantile rests on few rows.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

# Level of the one-sided test that lets a small baseline allow more close rows (see close_fraction_allowance).
PRIVACY_TEST_LEVEL = 0.01


def class_mix_weights(baseline_labels: Sequence, target_labels: Sequence) -> np.ndarray:
    """Row weights that give the baseline rows the target's class mix (uniform if no class is shared)."""
    baseline_labels, target_labels = pd.Series(np.asarray(baseline_labels)), pd.Series(np.asarray(target_labels))
    baseline_counts = baseline_labels.value_counts()
    target_share = target_labels.value_counts(normalize=True)
    shared = [cls for cls in target_share.index if cls in baseline_counts.index]
    if not shared:
        return np.ones(len(baseline_labels))
    per_class = {cls: target_share[cls] / baseline_counts[cls] for cls in shared}
    return baseline_labels.map(per_class).fillna(0.0).to_numpy(dtype=float)


# How far a small baseline may widen the allowance, as a multiple of max_close_fraction: beyond it a
# generator that copies a quarter of its rows (with noise) would pass.
MAX_WIDENING = 2.5
# Float sums of weights land a hair off whole numbers; both the quantile and its rank round the same way.
ROUNDING_SLACK = 1e-9


def weighted_quantile(values: np.ndarray, weights: np.ndarray, quantile: float) -> float:
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order])
    position = np.searchsorted(cumulative, quantile * cumulative[-1] * (1 - ROUNDING_SLACK), side="left")
    return float(values[order][min(position, len(values) - 1)])


def close_fraction_allowance(n_synthetic: int, weights: np.ndarray, quantile: float, max_close_fraction: float) -> float:
    """The share of synthetic rows allowed below the ``quantile`` of a weighted baseline: ``max_close_fraction``,
    widened (up to ``MAX_WIDENING`` times) to what rows as far from train as unseen real rows exceed with
    probability ``PRIVACY_TEST_LEVEL``.

    Such rows fall below the baseline's r-th smallest of n distances with a probability distributed
    Beta(r, n - r + 1), so their count among ``n_synthetic`` is beta-binomial; n is the weights' effective
    sample size. Without the widening, with 40 minority validation rows, rows drawn from the real
    distribution itself exceeded a fixed 10% allowance about one time in five.
    """
    from scipy.stats import betabinom

    n = float(weights.sum() ** 2 / np.square(weights).sum())
    rank = max(1.0, np.ceil(quantile * n * (1 - ROUNDING_SLACK)))
    bound = float(betabinom.ppf(1 - PRIVACY_TEST_LEVEL, n_synthetic, rank, max(1.0, n - rank + 1)) / n_synthetic)
    return max(max_close_fraction, min(bound, MAX_WIDENING * max_close_fraction))
