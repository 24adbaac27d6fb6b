"""Diversity checks: do the synthetic samples spread like real ones, without repeating each other (mode
collapse)? Blocking for both modalities.

Tables: the duplicate rate, and per class the near-duplicate rate, the spread and the median
nearest-neighbour distance against the class's real train rows. Images, in feature space: per class the
spread and the near-duplicate rate (pixel-identical pairs always count).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import pandas as pd

from quality.checks.image_features import FeatureExtractor
from quality.checks.neighbours import nearest_distances
from quality.checks.result import CheckResult, figure_text
from quality.checks.table_encoding import fit_train_encoding, row_keys, sorted_labels, train_columns

# Synthetic rows closer to another of their class than this share of the real class's median
# nearest-neighbour distance are near-duplicates. Small enough that rows varying along a single
# continuous column fall that close only about 0.7% of the time.
NEAR_DUPLICATE_SHARE = 0.01
# A class collapsed onto a few points plus noise, or onto a line or plane, keeps its spread and has no
# near-duplicates, but its synthetic rows lie much closer together than real rows of the class: their median
# nearest-neighbour distance (in the same groups as near-duplicates) must be at least this share of a lower
# confidence bound of the real class's median one. The bound holds with this confidence whatever the class's
# shape; without it, 20 real rows of a one- or two-column class fix that median too loosely (a plain floor of half
# the median failed up to a fifth of fresh draws of such classes). On breast_cancer and wine, fresh real rows
# score 0.86 and above and the TabularGAN's rows 1.6 and above; collapses onto one or two train rows plus 0.2
# standard deviations of noise, or onto a single direction, 0.58 and below.
MIN_NEIGHBOUR_RATIO = 0.6
NEIGHBOUR_BOUND_CONFIDENCE = 0.99


# --- tables -----------------------------------------------------------------------------------------------------------


def diversity_check(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    label_column: str,
    max_duplicate_rate: float = 0.05,
    min_spread_ratio: float = 0.5,
) -> CheckResult:
    """Blocking: fails on mode collapse.

    The duplicate rate of the synthetic rows, and in each class their near-duplicate rate, must stay at most
    ``max_duplicate_rate`` (or the real rows' own rate, if higher: discrete tables repeat rows naturally), and
    in each class the synthetic spread (mean per-feature standard deviation in the train-standardised space)
    must be at least ``min_spread_ratio`` of the real class's spread. A near-duplicate lies closer to another
    synthetic row of its class than ``NEAR_DUPLICATE_SHARE`` of the real class's median nearest-neighbour
    distance; it is looked for within random groups of at most as many synthetic rows as the class has real
    ones, since more rows sit closer together. Spread alone misses a class collapsed onto a few far-apart
    points. In the same groups, the median nearest-neighbour distance of a class's synthetic rows must be at
    least ``MIN_NEIGHBOUR_RATIO`` of the real class's median one (of its ``NEIGHBOUR_BOUND_CONFIDENCE`` lower
    bound, see :func:`_median_lower_bound`): this fails a class collapsed onto a few points plus small noise,
    or onto a line, which neither spread nor near-duplicates catch. Classes of too few real rows to bound
    that median (six or fewer) are not judged by it.
    """
    columns = train_columns(train, label_column, synthetic=synthetic)
    figures = _measure_diversity(train, synthetic[columns], label_column, columns)
    allowed_duplicate_rate = max(max_duplicate_rate, figures.train_duplicate_rate)
    problems = _collapse_problems(figures, allowed_duplicate_rate, max_duplicate_rate, min_spread_ratio)
    metrics = {
        "duplicate_rate": figures.duplicate_rate,
        "train_duplicate_rate": figures.train_duplicate_rate,
        "near_duplicate_rate": figures.near_duplicate_rate,
        "min_spread_ratio": min(figures.spread_ratio.values()) if figures.spread_ratio else None,
        **{f"spread_ratio_class_{cls}": ratio for cls, ratio in figures.spread_ratio.items()},
        "min_neighbour_ratio": min(figures.neighbour_ratio.values()) if figures.neighbour_ratio else None,
        **{f"neighbour_ratio_class_{cls}": ratio for cls, ratio in figures.neighbour_ratio.items()},
    }
    threshold = {"max_duplicate_rate": allowed_duplicate_rate, "min_spread_ratio": min_spread_ratio,
                 "min_neighbour_ratio": MIN_NEIGHBOUR_RATIO}
    if problems:
        verdict = "mode collapse: " + "; ".join(problems)
    else:
        verdict = _diversity_summary(figures, allowed_duplicate_rate, max_duplicate_rate, min_spread_ratio)
    return CheckResult("diversity", not problems, True, metrics, threshold, verdict + _unjudged_note(figures))


class _DiversityFigures(NamedTuple):
    """What :func:`diversity_check` measures on a table; the dicts are keyed by class, in label order."""

    duplicate_rate: float
    train_duplicate_rate: float
    near_duplicate_rate: float  # over the classes in ``gaps``, weighted by their synthetic rows
    gaps: dict  # classes with at least two rows on both sides
    spread_ratio: dict  # synthetic over real spread, where both are measurable
    neighbour_ratio: dict  # synthetic median over the real median's lower bound, where that bound is above 0
    unjudged_spread: list  # classes without a spread ratio


def _measure_diversity(
    train: pd.DataFrame, synthetic: pd.DataFrame, label_column: str, columns: list[str]
) -> _DiversityFigures:
    encoding = fit_train_encoding(train, [name for name in columns if name != label_column])
    classes = {
        cls: (encoding.transform(train[train[label_column] == cls]),
              encoding.transform(synthetic[synthetic[label_column] == cls]))
        for cls in sorted_labels(synthetic[label_column].dropna().unique().tolist())
    }
    gaps = {
        cls: _neighbour_gaps(real_rows, synthetic_rows)
        for cls, (real_rows, synthetic_rows) in classes.items() if len(real_rows) >= 2 and len(synthetic_rows) >= 2
    }
    spread_ratio = _spread_ratios(classes)
    return _DiversityFigures(
        duplicate_rate=_duplicate_rate(synthetic, columns, encoding.numeric),
        train_duplicate_rate=_duplicate_rate(train, columns, encoding.numeric),
        near_duplicate_rate=_pooled_near_duplicate_rate(gaps, classes),
        gaps=gaps,
        spread_ratio=spread_ratio,
        neighbour_ratio={cls: class_gaps.synthetic_median / class_gaps.real_median_bound
                         for cls, class_gaps in gaps.items() if class_gaps.real_median_bound != 0},
        unjudged_spread=[cls for cls in classes if cls not in spread_ratio],
    )


def _spread_ratios(classes: dict) -> dict:
    """Per class (real rows, synthetic rows): synthetic over real spread, where both sides have two rows or more
    and the real rows vary."""
    ratios = {}
    for cls, (real_rows, synthetic_rows) in classes.items():
        real_spread = _mean_column_std(real_rows)
        if len(synthetic_rows) >= 2 and len(real_rows) >= 2 and real_spread != 0:
            ratios[cls] = _mean_column_std(synthetic_rows) / real_spread
    return ratios


def _pooled_near_duplicate_rate(gaps: dict, classes: dict) -> float:
    sizes = {cls: len(classes[cls][1]) for cls in gaps}
    rows_judged = sum(sizes.values())
    return sum(gaps[cls].near_duplicate_rate * n for cls, n in sizes.items()) / rows_judged if rows_judged else 0.0


def _collapse_problems(
    figures: _DiversityFigures, allowed_duplicate_rate: float, max_duplicate_rate: float, min_spread_ratio: float
) -> list[str]:
    problems = []
    if figures.duplicate_rate > allowed_duplicate_rate:
        problems.append(
            f"{figures.duplicate_rate:.1%} of synthetic rows are duplicates (allowed {allowed_duplicate_rate:.1%})"
        )
    crowded = _crowded_classes(figures.gaps, max_duplicate_rate)
    if crowded:
        problems.append("near-duplicates of another synthetic row of their class in class(es) " + ", ".join(crowded))
    collapsed = [cls for cls, ratio in figures.spread_ratio.items() if ratio < min_spread_ratio]
    if collapsed:
        problems.append(
            "collapsed class(es): "
            + ", ".join(f"{cls!r} (spread {figures.spread_ratio[cls]:.2f} of real)" for cls in collapsed)
        )
    huddled = _huddled_classes(figures)
    if huddled:
        problems.append(
            f"synthetic rows' median nearest-neighbour distance below {MIN_NEIGHBOUR_RATIO} of the real rows' "
            f"({NEIGHBOUR_BOUND_CONFIDENCE:.0%} lower bound of their median) in class(es) " + ", ".join(huddled)
        )
    return problems


def _crowded_classes(gaps: dict, max_duplicate_rate: float) -> list[str]:
    """Classes with more near-duplicates than ``max_duplicate_rate`` or their real rows' own rate, described."""
    crowded = []
    for cls, class_gaps in gaps.items():
        allowed = max(max_duplicate_rate, class_gaps.real_near_duplicate_rate)
        if class_gaps.near_duplicate_rate > allowed:
            crowded.append(f"{cls!r} ({class_gaps.near_duplicate_rate:.1%}, allowed {allowed:.1%})")
    return crowded


def _huddled_classes(figures: _DiversityFigures) -> list[str]:
    """Classes whose synthetic rows lie too close together (``MIN_NEIGHBOUR_RATIO``), described."""
    return [
        f"{cls!r} (median {figures.gaps[cls].synthetic_median:.3g}, {ratio:.2f} of the bound "
        f"{figures.gaps[cls].real_median_bound:.3g}; real median {figures.gaps[cls].real_median:.3g})"
        for cls, ratio in figures.neighbour_ratio.items() if ratio < MIN_NEIGHBOUR_RATIO
    ]


def _unjudged_note(figures: _DiversityFigures) -> str:
    note = f"; too few rows to judge class(es) {figures.unjudged_spread}" if figures.unjudged_spread else ""
    unbounded = [cls for cls, class_gaps in figures.gaps.items() if class_gaps.real_median_bound == 0]
    if unbounded:
        note += f"; nearest-neighbour distances not judged in class(es) {unbounded} (too few distinct real rows)"
    return note


def _diversity_summary(
    figures: _DiversityFigures, allowed_duplicate_rate: float, max_duplicate_rate: float, min_spread_ratio: float
) -> str:
    per_class = ", ".join(f"{cls!r} {ratio:.2f}" for cls, ratio in figures.spread_ratio.items()) or "none measurable"
    neighbours = (", ".join(f"{cls!r} {ratio:.2f}" for cls, ratio in figures.neighbour_ratio.items())
                  or "none measurable")
    return (
        f"duplicate rate {figures.duplicate_rate:.1%} (allowed {allowed_duplicate_rate:.1%}); near-duplicate rate "
        f"{figures.near_duplicate_rate:.1%} (allowed per class: {max_duplicate_rate:.0%} or the real class's own "
        f"rate); synthetic/real spread per class: {per_class} (min {min_spread_ratio}); "
        f"synthetic/real nearest-neighbour distance per class: {neighbours} (min {MIN_NEIGHBOUR_RATIO})"
    )


def _duplicate_rate(frame: pd.DataFrame, columns: list[str], numeric: list[str]) -> float:
    if frame.empty:
        return 0.0
    return float(pd.Series(row_keys(frame, columns, numeric)).duplicated().mean())


def _mean_column_std(rows: np.ndarray) -> float:
    if len(rows) < 2:
        return 0.0
    return float(np.mean(np.std(rows, axis=0, ddof=1)))


def _nearest_other_row_distances(rows: np.ndarray) -> np.ndarray:
    """Each row's distance to its nearest other row (at least two rows), by sklearn's exact search:
    :func:`quality.checks.neighbours.nearest_distances` expands the square and differs in the last digits."""
    from sklearn.neighbors import NearestNeighbors

    return NearestNeighbors(n_neighbors=2).fit(rows).kneighbors(rows)[0][:, 1]


class NeighbourGaps(NamedTuple):
    """Nearest-neighbour figures of one class's synthetic rows against its real train rows."""

    near_duplicate_rate: float  # synthetic rows within NEAR_DUPLICATE_SHARE of the real median of another
    real_near_duplicate_rate: float  # real rows as close to another real row
    synthetic_median: float  # median distance to the nearest synthetic row of the same group
    real_median: float
    real_median_bound: float  # NEIGHBOUR_BOUND_CONFIDENCE lower bound of real_median; 0 when too few rows


def _neighbour_gaps(real_rows: np.ndarray, synthetic_rows: np.ndarray) -> NeighbourGaps:
    """Synthetic rows are grouped in at most as many rows as the class has real ones: more rows sit closer."""
    real_distances = _nearest_other_row_distances(real_rows)
    real_median = float(np.median(real_distances))
    radius = NEAR_DUPLICATE_SHARE * real_median
    synthetic_distances = _grouped_neighbour_distances(synthetic_rows, len(real_rows))
    return NeighbourGaps(
        near_duplicate_rate=float(np.mean(synthetic_distances < radius)),
        real_near_duplicate_rate=float(np.mean(real_distances < radius)),
        synthetic_median=float(np.median(synthetic_distances)),
        real_median=real_median,
        real_median_bound=_median_lower_bound(real_distances, 1 - NEIGHBOUR_BOUND_CONFIDENCE),
    )


def _median_lower_bound(values: np.ndarray, alpha: float) -> float:
    """A lower bound of the median of the distribution ``values`` were drawn from, above that median with
    probability at most ``alpha`` whatever the distribution: the k-th smallest value for the largest k with
    P(Binomial(n, 1/2) < k) <= ``alpha`` (it lies above the median only when fewer than k values fall below it).
    0 when no k qualifies (too few values: six or fewer at ``alpha`` 0.01)."""
    from scipy.stats import binom

    ordered = np.sort(values)
    qualifying = int(np.sum(binom.cdf(np.arange(len(ordered)), len(ordered), 0.5) <= alpha))
    return float(ordered[qualifying - 1]) if qualifying else 0.0


def _grouped_neighbour_distances(rows: np.ndarray, group_size: int, seed: int = 0) -> np.ndarray:
    """Nearest-neighbour distances within random groups of at most ``group_size`` rows (at least two each)."""
    if len(rows) < 2:
        return np.empty(0)
    shuffled = rows[np.random.default_rng(seed).permutation(len(rows))]
    n_groups = min(math.ceil(len(rows) / max(group_size, 2)), len(rows) // 2)
    groups = np.array_split(shuffled, n_groups)
    return np.concatenate([_nearest_other_row_distances(group) for group in groups])


# --- images -----------------------------------------------------------------------------------------------------------


def image_diversity_check(
    extractor: FeatureExtractor,
    train_images: np.ndarray,
    train_labels: np.ndarray,
    synthetic_images: np.ndarray,
    synthetic_labels: np.ndarray,
    max_near_duplicate_rate: float = 0.05,
    min_spread_ratio: float = 0.5,
    duplicate_quantile: float = 0.01,
) -> CheckResult:
    """Blocking: synthetic images must spread like real ones and must not repeat each other (mode collapse).

    - spread ratio per class: root total variance of synthetic features over that of real train features;
      fails below ``min_spread_ratio``.
    - near-duplicate rate: share of synthetic images whose nearest other synthetic image of the same class
      lies closer (in feature space) than the ``duplicate_quantile`` quantile of the real train images' own
      within-class nearest-neighbour distances (floored at a tenth of their median, so duplicates inside
      the real set cannot shrink it to zero); fails above ``max_near_duplicate_rate``. Pixel-identical
      synthetic pairs always count.
    """
    thresholds = {"max_near_duplicate_rate": max_near_duplicate_rate, "min_spread_ratio": min_spread_ratio,
                  "duplicate_quantile": duplicate_quantile}
    synthetic_labels = np.asarray(synthetic_labels)
    if len(synthetic_images) == 0:
        return CheckResult("image_diversity", True, True, {"n_synthetic": 0}, thresholds,
                           "no synthetic images to assess")
    train_labels = np.asarray(train_labels)
    real_features = extractor.embed(train_images)
    fake_features = extractor.embed(synthetic_images)
    identical = _has_identical_twin(synthetic_images, synthetic_labels)

    duplicate_distance = _near_duplicate_distance(real_features, train_labels, duplicate_quantile)

    per_class: dict[str, dict] = {}
    duplicates = np.zeros(len(fake_features), dtype=bool)
    for cls in np.unique(synthetic_labels).tolist():
        fake_rows = np.flatnonzero(synthetic_labels == cls)
        real_class = real_features[train_labels == cls]
        entry: dict = {"n_synthetic": int(len(fake_rows))}
        if len(fake_rows) > 1:
            fake_nn = nearest_distances(fake_features[fake_rows], exclude_self=True)
            duplicates[fake_rows] = (fake_nn < duplicate_distance) | identical[fake_rows]
            entry["near_duplicate_rate"] = float(duplicates[fake_rows].mean())
            if len(real_class) > 1:
                spread = _root_total_variance(fake_features[fake_rows])
                entry["spread_ratio"] = spread / max(_root_total_variance(real_class), 1e-12)
        per_class[str(cls)] = entry

    ratios = {cls: e["spread_ratio"] for cls, e in per_class.items() if "spread_ratio" in e}
    rate = float(duplicates.mean())
    low_spread = {cls: round(r, 3) for cls, r in ratios.items() if r < min_spread_ratio}
    metrics = {
        "n_synthetic": int(len(fake_features)),
        "near_duplicate_rate": rate,
        "n_pixel_identical": int(identical.sum()),
        "near_duplicate_distance": duplicate_distance,
        "min_spread_ratio": float(min(ratios.values())) if ratios else None,
        "per_class": per_class,
    }
    problems = []
    if rate > max_near_duplicate_rate:
        problems.append(f"{rate:.1%} of synthetic images are near-duplicates (max {max_near_duplicate_rate:.1%})")
    if low_spread:
        problems.append(f"spread ratio below {min_spread_ratio} for class(es) {low_spread}")
    passed = not problems
    details = ("; ".join(problems) + " (mode collapse?)") if problems else (
        f"near-duplicate rate {rate:.1%}, lowest spread ratio {figure_text(metrics['min_spread_ratio'])}"
    )
    return CheckResult("image_diversity", passed, True, metrics, thresholds, details)


def _near_duplicate_distance(real_features: np.ndarray, train_labels: np.ndarray, duplicate_quantile: float) -> float:
    """The ``duplicate_quantile`` quantile of the real train images' within-class nearest-neighbour distances,
    floored at a tenth of their median."""
    real_nn = [
        nearest_distances(real_features[train_labels == cls], exclude_self=True)
        for cls in np.unique(train_labels) if (train_labels == cls).sum() > 1
    ]
    if not real_nn:
        raise ValueError("train_labels give no class at least two train images; the duplicate threshold needs them")
    real_nn = np.concatenate(real_nn)
    return float(max(np.quantile(real_nn, duplicate_quantile), 0.1 * np.median(real_nn)))


def _root_total_variance(features: np.ndarray) -> float:
    """Root of the total variance: the typical distance of a feature vector from the class mean."""
    return float(np.sqrt(features.var(axis=0, ddof=1).sum()))


def _has_identical_twin(images: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """True for each image that another image of the same label repeats pixel for pixel."""
    rows = np.column_stack([labels.astype(np.int64).view(np.uint8).reshape(len(labels), -1),
                            images.reshape(len(images), -1)])
    _, inverse, counts = np.unique(rows, axis=0, return_inverse=True, return_counts=True)
    return counts[inverse.ravel()] > 1
