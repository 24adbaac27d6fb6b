"""Privacy checks: synthetic samples must not copy or hug real train records. Blocking for both modalities.

Both compare each synthetic sample's distance to its closest train record (DCR) with a baseline of real
validation records the generator never saw, and fail on exact copies. The baseline is reweighted to the
synthetic class mix, because a class's rows sit closer together when it has more of them, and the share of
synthetic samples allowed below its low quantile widens when that quantile rests on few rows.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from quality.checks.image_features import FeatureExtractor
from quality.checks.neighbours import nearest_distances
from quality.checks.result import CheckResult
from quality.checks.table_encoding import (
    TrainEncoding, category_strings, fit_train_encoding, numeric_values, train_columns,
)

# A synthetic row copies a train row when its values match to this relative precision: a memorised row comes
# back through the GAN's float32 decoding with its last digits changed, so bit equality would miss it.
COPY_RELATIVE_TOLERANCE = 1e-5
# Level of the one-sided test that lets a small baseline allow more close rows (see close_fraction_allowance).
PRIVACY_TEST_LEVEL = 0.01
# How far a small baseline may widen the allowance, as a multiple of max_close_fraction: beyond it a
# generator that copies a quarter of its rows (with noise) would pass.
MAX_WIDENING = 2.5
# Float sums of weights land a hair off whole numbers; both the quantile and its rank round the same way.
ROUNDING_SLACK = 1e-9
# The close fraction is a share, so past this many synthetic rows it is measured on a seeded subsample of
# them: 20,000 rows fix a share near 5% to about +-0.3 points (binomial standard error 0.15 points), far inside
# the allowance. Copies are looked for in every synthetic row.
MAX_CLOSE_FRACTION_ROWS = 20_000


# --- the baseline -----------------------------------------------------------------------------------------------------


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


def weighted_quantile(values: np.ndarray, weights: np.ndarray, quantile: float) -> float:
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order])
    position = np.searchsorted(cumulative, quantile * cumulative[-1] * (1 - ROUNDING_SLACK), side="left")
    return float(values[order][min(position, len(values) - 1)])


def close_fraction_allowance(
    n_synthetic: int, weights: np.ndarray, quantile: float, max_close_fraction: float
) -> float:
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


# --- tables -----------------------------------------------------------------------------------------------------------


def privacy_check(
    train: pd.DataFrame,
    baseline: pd.DataFrame | Sequence[tuple[pd.DataFrame, pd.DataFrame]],
    synthetic: pd.DataFrame,
    label_column: str,
    quantile: float = 0.05,
    max_close_fraction: float = 0.1,
) -> CheckResult:
    """Blocking: synthetic rows must not copy or hug real train records.

    Copies of a train row's features must be zero: every value equal to the closest train record's, numbers
    to ``COPY_RELATIVE_TOLERANCE``. Each synthetic row's distance to the closest train record (DCR, in the
    train-standardised space, label excluded) is compared with the DCRs of real rows that a model never saw
    to the rows it was fitted on: ``baseline`` is either validation rows (their DCR to ``train``) or, when the
    lift is cross-fitted, the ``(fitted rows, unseen rows)`` pair of every fold, pooled. At most
    ``max_close_fraction`` of synthetic rows may lie closer than the baseline's ``quantile``. The baseline
    is reweighted to the synthetic class mix, since a class's rows sit closer together when it has more of
    them. A baseline of a few dozen rows fixes that quantile only roughly, so the allowance is raised
    towards what rows as far from train as unseen real rows would exceed by chance
    (:func:`close_fraction_allowance`).
    """
    if not 0 < quantile < 1:
        raise ValueError(f"quantile must lie in (0, 1), got {quantile}")
    pairs = [(train, baseline)] if isinstance(baseline, pd.DataFrame) else list(baseline)
    columns = train_columns(train, label_column, synthetic=synthetic,
                            **{f"baseline_{i}": unseen for i, (_, unseen) in enumerate(pairs)})
    synthetic = synthetic[columns]
    pairs = [(fitted[columns], unseen[columns]) for fitted, unseen in pairs]
    features = [name for name in columns if name != label_column]
    if not pairs or any(unseen.empty for _, unseen in pairs):
        raise ValueError("the baseline is empty: the privacy check needs real rows a model never saw")
    threshold = {"exact_copies": 0, "max_close_fraction": max_close_fraction, "quantile": quantile}
    if synthetic.empty:
        return CheckResult("privacy", True, True, {"n_synthetic": 0}, threshold, "no synthetic rows: nothing can leak")

    encoding = fit_train_encoding(train, features)
    ((closest_dcr, nearest),) = _closest_train_rows(encoding, train, synthetic)
    exact_copies = int(_copies_closest_row(synthetic, train.iloc[nearest], encoding).sum())
    measured = _close_fraction_rows(len(synthetic))
    reference = _as_many_rows_as_the_baseline(train, pairs)
    if reference is train:
        synthetic_dcr = closest_dcr[measured]
    else:
        ((synthetic_dcr, _),) = _closest_train_rows(encoding, reference, synthetic.iloc[measured])
    validation, validation_dcr, validation_copy_rate = _baseline_distances(encoding, pairs)
    weights = class_mix_weights(validation[label_column], synthetic[label_column].iloc[measured])
    dcr_threshold = weighted_quantile(validation_dcr, weights, quantile)
    close_fraction = float(np.mean(synthetic_dcr < dcr_threshold))
    max_close_fraction = close_fraction_allowance(len(measured), weights, quantile, max_close_fraction)
    threshold["max_close_fraction"] = max_close_fraction

    metrics = {
        "n_synthetic": int(len(synthetic)),
        "n_close_fraction_rows": int(len(measured)),
        "exact_copies": exact_copies,
        "validation_copy_rate": validation_copy_rate,
        "close_fraction": close_fraction,
        "dcr_threshold": dcr_threshold,
        "median_dcr_synthetic": float(np.median(synthetic_dcr)),
        "median_dcr_validation": float(np.median(validation_dcr)),
    }
    problems = []
    if exact_copies:
        context = (f" (so do {validation_copy_rate:.0%} of the real held-out rows: on a table this discrete, "
                   "rows that repeat a train record cannot be told apart from copies)") if validation_copy_rate else ""
        problems.append(f"{exact_copies} synthetic row(s) copy a real train record{context}")
    if close_fraction > max_close_fraction:
        problems.append(
            f"{close_fraction:.1%} of synthetic rows lie closer to a train record than the {quantile:.0%} quantile "
            f"of real held-out rows ({dcr_threshold:.3f}); at most {max_close_fraction:.0%} may"
        )
    medians = (
        f"median DCR synthetic {metrics['median_dcr_synthetic']:.3f} "
        f"vs held-out real {metrics['median_dcr_validation']:.3f}"
    )
    if problems:
        details = "too close to real records: " + "; ".join(problems) + f" ({medians})"
    else:
        details = (
            f"no exact copies; {close_fraction:.1%} of synthetic rows closer than the baseline's "
            f"{quantile:.0%} quantile (at most {max_close_fraction:.0%}); {medians}"
        )
    return CheckResult("privacy", not problems, True, metrics, threshold, details)


def _close_fraction_rows(n_synthetic: int) -> np.ndarray:
    """Positions of the synthetic rows the close fraction is measured on: all, or a seeded subsample."""
    if n_synthetic <= MAX_CLOSE_FRACTION_ROWS:
        return np.arange(n_synthetic)
    return np.sort(np.random.default_rng(0).choice(n_synthetic, size=MAX_CLOSE_FRACTION_ROWS, replace=False))


def _as_many_rows_as_the_baseline(train: pd.DataFrame, pairs: Sequence[tuple[pd.DataFrame, pd.DataFrame]]
                                  ) -> pd.DataFrame:
    """``train``, thinned (seeded) to the baseline models' mean number of training rows: nearest distances shrink as
    the rows they search grow, so a cross-fitted baseline (each fold's rows against the 4/5 of the rows its model
    saw) would otherwise judge the published model, trained on every row, as too close."""
    size = int(round(np.mean([len(fitted) for fitted, _ in pairs])))
    return train if size >= len(train) else train.sample(n=size, random_state=0)


def _baseline_distances(
    encoding: TrainEncoding, pairs: Sequence[tuple[pd.DataFrame, pd.DataFrame]]
) -> tuple[pd.DataFrame, np.ndarray, float]:
    """The unseen rows of every pair, each one's distance to the closest row its model was fitted on, and the
    share of them that repeat such a row."""
    distances, copies = [], []
    for fitted, unseen in pairs:
        ((dcr, nearest),) = _closest_train_rows(encoding, fitted, unseen)
        distances.append(dcr)
        copies.append(_copies_closest_row(unseen, fitted.iloc[nearest], encoding))
    unseen_rows = pd.concat([unseen for _, unseen in pairs], ignore_index=True)
    return unseen_rows, np.concatenate(distances), float(np.concatenate(copies).mean())


def _closest_train_rows(
    encoding: TrainEncoding, train: pd.DataFrame, *queries: pd.DataFrame
) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each query frame: every row's distance to its closest train row, and that row's position."""
    from sklearn.neighbors import NearestNeighbors

    index = NearestNeighbors(n_neighbors=1).fit(encoding.transform(train))
    found = [index.kneighbors(encoding.transform(query)) for query in queries]
    return [(distances[:, 0], positions[:, 0]) for distances, positions in found]


def _copies_closest_row(synthetic: pd.DataFrame, closest: pd.DataFrame, encoding: TrainEncoding) -> np.ndarray:
    """Per synthetic row: does it hold the same values as its closest train row (``closest``, row for row)?"""
    same = np.ones(len(synthetic), dtype=bool)
    if encoding.numeric:
        ours, theirs = numeric_values(synthetic, encoding.numeric), numeric_values(closest, encoding.numeric)
        same &= np.isclose(ours, theirs, rtol=COPY_RELATIVE_TOLERANCE, atol=0.0, equal_nan=True).all(axis=1)
    for name in encoding.categories:
        same &= category_strings(synthetic[name]).to_numpy() == category_strings(closest[name]).to_numpy()
    return same


# --- images -----------------------------------------------------------------------------------------------------------


def image_privacy_check(
    extractor: FeatureExtractor,
    train_images: np.ndarray,
    validation_images: np.ndarray,
    synthetic_images: np.ndarray,
    *,
    validation_labels: np.ndarray,
    synthetic_labels: np.ndarray,
    quantile: float = 0.05,
    max_close_fraction: float = 0.1,
) -> CheckResult:
    """Blocking: synthetic images must not be (near-)copies of real train images.

    The distance to the closest train image (DCR) of each synthetic image is compared, in pixel space
    and in feature space, with the same distance for real validation images (images the model never
    saw), reweighted to the synthetic class mix: a minority class's images sit farther from train, so a
    baseline of mostly majority images would let near-copies of minority images through. A synthetic image
    is a near-copy when its DCR is below the ``quantile`` of that baseline; the check fails when near-copies
    exceed ``max_close_fraction`` in either space (more where the baseline has too few images to fix its
    quantile: :func:`close_fraction_allowance`), or when any synthetic image is pixel-identical
    to a train image.
    """
    thresholds = {"quantile": quantile, "max_close_fraction": max_close_fraction, "max_exact_copies": 0}
    if len(validation_images) == 0:
        raise ValueError("validation_images is empty; the privacy baseline needs real images unseen in training")
    if len(synthetic_images) == 0:
        return CheckResult("image_privacy", True, True, {"n_synthetic": 0}, thresholds,
                           "no synthetic images to assess")
    exact_copies = int(_pixel_copies(synthetic_images, train_images).sum())
    spaces = {
        "pixel": (_pixels(train_images), _pixels(validation_images), _pixels(synthetic_images)),
        "feature": (extractor.embed(train_images), extractor.embed(validation_images),
                    extractor.embed(synthetic_images)),
    }
    weights = class_mix_weights(validation_labels, synthetic_labels)
    allowed = close_fraction_allowance(len(synthetic_images), weights, quantile, max_close_fraction)
    thresholds["max_close_fraction"] = allowed
    metrics: dict = {"n_synthetic": int(len(synthetic_images)), "exact_copies": exact_copies}
    problems = [f"{exact_copies} synthetic image(s) are pixel-identical copies of train images"] if exact_copies else []
    for space, (train, validation, synthetic) in spaces.items():
        baseline = nearest_distances(validation, train)
        dcr = nearest_distances(synthetic, train)
        close_distance = weighted_quantile(baseline, weights, quantile)
        close_fraction = float((dcr < close_distance).mean())
        metrics[space] = {
            "close_fraction": close_fraction,
            "close_distance": close_distance,
            "median_dcr": float(np.median(dcr)),
            "median_baseline_dcr": float(np.median(baseline)),
        }
        if close_fraction > allowed:
            problems.append(
                f"{close_fraction:.1%} of synthetic images are closer to a train image in {space} space than "
                f"{quantile:.0%} of unseen validation images of their classes are (max {allowed:.0%})"
            )
    passed = not problems
    details = "; ".join(problems) if problems else (
        f"no exact copies; near-copy fraction {metrics['pixel']['close_fraction']:.1%} (pixel), "
        f"{metrics['feature']['close_fraction']:.1%} (feature) vs the validation baseline"
    )
    return CheckResult("image_privacy", passed, True, metrics, thresholds, details)


def _pixels(images: np.ndarray) -> np.ndarray:
    return images.reshape(len(images), -1).astype(np.float32) / 255.0


def _pixel_copies(images: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """True for each image that is pixel-identical to some reference image (rows compared, vectorised)."""
    rows = np.concatenate([images.reshape(len(images), -1), reference.reshape(len(reference), -1)])
    _, inverse = np.unique(rows, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    return np.isin(inverse[: len(images)], inverse[len(images):])
