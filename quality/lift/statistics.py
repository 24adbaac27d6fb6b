"""The downstream-lift statistics shared by every modality.

Each training run of a downstream classifier yields a :class:`RunPrediction` on the same
evaluation rows. Scores are averaged over seeds and classifiers per method, and every lift is a
*paired* difference. Each bootstrap replicate resamples both the evaluation rows and the training
seeds, and applies the same resample to the method and to the reference, so the interval reflects
which real rows happened to be held out (the dominant uncertainty on scarce data) and how much a
result depends on the training seed.

Metrics are computed from bootstrap *weights* (multinomial counts) in NumPy: a thousand resamples of
dozens of runs take well under a second on a few hundred judged rows, and about 0.4 s a run on ten
thousand.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Hashable, Sequence

import numpy as np

from quality.lift.report import LiftEstimate, LiftReport

# A lift measured over fewer downstream training seeds may be reported, but it never publishes.
MIN_LIFT_SEEDS = 5
DEFAULT_LIFT_SEEDS = tuple(range(MIN_LIFT_SEEDS))
BOOTSTRAP_RESAMPLES = 1000
METRICS = ("balanced_accuracy", "macro_f1", "minority_recall", "auprc", "auc")
# Runs scored at once: NumPy releases the GIL in the sorts, gathers and running sums that dominate a
# bootstrap over thousands of judged rows, so two threads use two cores.
SCORING_THREADS = 2
ROW_LOOP_MIN_WIDTH = 64


@dataclass(frozen=True)
class RunPrediction:
    """One trained downstream classifier's output on the evaluation rows.

    ``y_proba`` has one column per entry of the ``classes`` passed to :func:`build_lift_report`,
    in that order; ``y_pred`` holds class labels. ``repeat`` numbers the repetition of a repeated
    cross-fit: the bootstrap resamples (repeat, seed) pairs, each a whole run of the procedure.
    """

    method: str
    classifier: str
    seed: int
    y_pred: np.ndarray
    y_proba: np.ndarray
    repeat: int = 0


def build_lift_report(
    y_true: Sequence[Hashable],
    runs: Sequence[RunPrediction],
    classes: Sequence[Hashable],
    minority_class: Hashable,
    references: Sequence[str],
    evaluated_on: str,
    n_boot: int = BOOTSTRAP_RESAMPLES,
    confidence: float = 0.95,
    seed: int = 0,
) -> LiftReport:
    """Score every method and estimate the paired lift of each method over each reference."""
    if not runs:
        raise ValueError("no downstream runs to report on")
    y_true = np.asarray(y_true)
    classes = list(classes)
    methods = list(dict.fromkeys(run.method for run in runs))
    missing = [ref for ref in references if ref not in methods]
    if missing:
        raise ValueError(f"reference method(s) {missing} have no runs; methods present: {methods}")

    true_index = _class_indices(y_true, classes)
    minority_index = classes.index(minority_class)
    rng = np.random.default_rng(seed)
    n_rows = len(y_true)
    point_weights = np.ones((1, n_rows))
    boot_weights = rng.multinomial(n_rows, np.full(n_rows, 1.0 / n_rows), size=n_boot).astype(float)
    units = sorted({_unit(run) for run in runs})
    point_seed_weights = {unit: np.ones(1) for unit in units}
    seed_draws = rng.multinomial(len(units), np.full(len(units), 1.0 / len(units)), size=n_boot).astype(float)
    boot_seed_weights = {unit: seed_draws[:, i] for i, unit in enumerate(units)}

    point: dict[str, dict[str, float]] = {}
    per_classifier: dict[str, dict[str, dict[str, float]]] = {}
    boot: dict[str, dict[str, np.ndarray]] = {}
    for method in methods:
        method_runs = [run for run in runs if run.method == method]
        point[method] = _mean_metrics(method_runs, true_index, classes, minority_index, point_weights,
                                      point_seed_weights)
        point[method] = {name: float(values[0]) for name, values in point[method].items()}
        boot[method] = _mean_metrics(method_runs, true_index, classes, minority_index, boot_weights,
                                     boot_seed_weights)
        per_classifier[method] = {}
        for classifier in dict.fromkeys(run.classifier for run in method_runs):
            subset = [run for run in method_runs if run.classifier == classifier]
            scores = _mean_metrics(subset, true_index, classes, minority_index, point_weights, point_seed_weights)
            per_classifier[method][classifier] = {name: float(v[0]) for name, v in scores.items()}

    tail = (1.0 - confidence) / 2.0
    lifts = []
    for reference in references:
        for method in methods:
            if method == reference:
                continue
            for metric in METRICS:
                diffs = boot[method][metric] - boot[reference][metric]
                diffs = diffs[np.isfinite(diffs)]
                low, high = (np.quantile(diffs, [tail, 1.0 - tail]) if diffs.size else (np.nan, np.nan))
                lifts.append(
                    LiftEstimate(
                        metric=metric,
                        method=method,
                        reference=reference,
                        mean=point[method][metric] - point[reference][metric],
                        ci_low=float(low),
                        ci_high=float(high),
                    )
                )

    return LiftReport(
        evaluated_on=evaluated_on,
        n_eval_rows=n_rows,
        seeds=sorted({int(run.seed) for run in runs}),
        classifiers=list(dict.fromkeys(run.classifier for run in runs)),
        scores=point,
        per_classifier=per_classifier,
        lifts=lifts,
        confidence=confidence,
    )


def _unit(run: RunPrediction) -> tuple[int, int]:
    """What one bootstrap draw of the training runs picks: a seed of one repetition."""
    return int(run.repeat), int(run.seed)


def _class_indices(labels: np.ndarray, classes: list) -> np.ndarray:
    lookup = {cls: i for i, cls in enumerate(classes)}
    try:
        return np.array([lookup[label] for label in labels.tolist()], dtype=int)
    except KeyError as err:
        raise ValueError(f"label {err.args[0]!r} is not among the classes {classes}") from None


def _mean_metrics(
    runs: Sequence[RunPrediction],
    true_index: np.ndarray,
    classes: list,
    minority_index: int,
    row_weights: np.ndarray,
    seed_weights: dict[tuple[int, int], np.ndarray],
) -> dict[str, np.ndarray]:
    """Average each metric over runs, each run weighted by how often its (repeat, seed) was drawn; every array
    has one entry per row of ``row_weights``."""
    from concurrent.futures import ThreadPoolExecutor

    counts = _row_counts(row_weights)  # the same draws for every run: checked and transposed once

    def score(run: RunPrediction) -> dict[str, np.ndarray]:
        return _metrics_under(true_index, _class_indices(np.asarray(run.y_pred), classes),
                              np.asarray(run.y_proba, float), minority_index, row_weights, counts)

    totals: dict[str, np.ndarray] = defaultdict(lambda: np.zeros(row_weights.shape[0]))
    weight_sum = np.zeros(row_weights.shape[0])
    with ThreadPoolExecutor(SCORING_THREADS) as pool:
        run_scores = list(pool.map(score, runs))
    for run, scores in zip(runs, run_scores):  # summed in run order, however the threads finished
        weight = seed_weights[_unit(run)]
        weight_sum = weight_sum + weight
        for name, values in scores.items():
            # an undrawn seed adds nothing, even where its metric is undefined (NaN) on this resample
            totals[name] = totals[name] + np.where(weight > 0, weight * values, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {name: totals[name] / weight_sum for name in METRICS}


def weighted_metrics(
    true_index: np.ndarray,
    pred_index: np.ndarray,
    proba: np.ndarray,
    minority_index: int,
    weights: np.ndarray,
) -> dict[str, np.ndarray]:
    """Every metric under each row of ``weights`` (shape ``(B, n)``: how often each row was drawn, whole
    numbers); returns arrays of shape ``(B,)``."""
    return _metrics_under(true_index, pred_index, proba, minority_index, weights, _row_counts(weights))


def _metrics_under(
    true_index: np.ndarray,
    pred_index: np.ndarray,
    proba: np.ndarray,
    minority_index: int,
    weights: np.ndarray,
    counts: np.ndarray,
) -> dict[str, np.ndarray]:
    """:func:`weighted_metrics`, given ``counts = _row_counts(weights)``."""
    n_classes = proba.shape[1]
    # confusion[b, t, p] = total weight of rows with true class t predicted as p
    cell = np.eye(n_classes * n_classes)[true_index * n_classes + pred_index]
    confusion = (weights @ cell).reshape(len(weights), n_classes, n_classes)
    support = confusion.sum(axis=2)
    predicted = confusion.sum(axis=1)
    hits = np.diagonal(confusion, axis1=1, axis2=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = hits / support
        precision = np.where(predicted > 0, hits / predicted, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    present = support > 0
    balanced_accuracy = np.nanmean(np.where(present, recall, np.nan), axis=1)
    macro_f1 = np.nanmean(np.where(present, f1, np.nan), axis=1)

    auc_per_class = [
        _weighted_auc(proba[:, k], true_index == k, counts) for k in range(n_classes)
    ]
    return {
        "balanced_accuracy": balanced_accuracy,
        "macro_f1": macro_f1,
        "minority_recall": recall[:, minority_index],
        "auprc": _weighted_average_precision(proba[:, minority_index], true_index == minority_index, counts),
        "auc": np.nanmean(np.vstack(auc_per_class), axis=0) if n_classes > 2 else auc_per_class[1],
    }


def _row_counts(weights: np.ndarray) -> np.ndarray:
    """Bootstrap counts ``(B, n)`` as ``(n, B)`` in the narrowest integer type that holds them: the ranking
    metrics gather and sum whole rows of it, and a byte per count is an eighth of the memory traffic of floats."""
    counts = np.ascontiguousarray(weights.T)
    if not np.array_equal(counts, np.round(counts)) or counts.min(initial=0) < 0:
        raise ValueError("weights must be whole, non-negative counts (bootstrap draws of each row)")
    return counts.astype(np.int8 if counts.max(initial=0) <= np.iinfo(np.int8).max else np.int32)


@dataclass(frozen=True)
class _PositiveGroups:
    """The rows sorted by descending score and cut into groups of equal score; for each group that holds a positive
    row, in that order, per bootstrap replicate (arrays of shape ``(groups with a positive, B)``): its positive
    count, the positives in it and every group above (``positives_through``), the rows of every kind in it and
    above (``rows_through``), and above it only (``rows_above``); ``total``: all rows, ``(B,)``."""

    positives: np.ndarray
    positives_through: np.ndarray
    rows_through: np.ndarray
    rows_above: np.ndarray
    total: np.ndarray


def _positive_groups(scores: np.ndarray, positive: np.ndarray, counts: np.ndarray) -> _PositiveGroups:
    """One sort, one running sum over every row's counts, then work on the positive rows only: linear in ``n * B``,
    and only one full pass for a rare class (a dense row-to-group matrix took minutes on 10,000 judged rows)."""
    order = np.argsort(-scores, kind="stable")
    descending = scores[order]
    group = np.r_[0, np.cumsum(descending[1:] != descending[:-1])]  # group of each sorted row
    group_ends = np.flatnonzero(np.r_[descending[1:] != descending[:-1], True])
    ordered = counts[order]
    rows_through_every = _running_sum(ordered)
    if len(group_ends) < len(ordered):  # ties: keep each group's last row
        rows_through_every = rows_through_every[group_ends]
    positive_rows = np.flatnonzero(positive[order])
    total = rows_through_every[-1] if len(group_ends) else np.zeros(counts.shape[1], np.int32)
    if not len(positive_rows):  # a class absent from the judged rows: its metrics are undefined (NaN)
        none = np.zeros((0, counts.shape[1]), np.int32)
        return _PositiveGroups(none, none, none, none, total)
    groups_of_positives = group[positive_rows]
    firsts = np.flatnonzero(np.r_[True, groups_of_positives[1:] != groups_of_positives[:-1]])
    positive_groups = groups_of_positives[firsts]
    positives = ordered[positive_rows].astype(np.int32)
    if len(firsts) < len(positive_rows):  # positives tied with each other: one sum per group
        positives = np.add.reduceat(positives, firsts, axis=0)
    rows_above = rows_through_every[np.maximum(positive_groups - 1, 0)]
    rows_above[positive_groups == 0] = 0
    return _PositiveGroups(positives, _running_sum(positives), rows_through_every[positive_groups], rows_above, total)


def _running_sum(rows: np.ndarray) -> np.ndarray:
    """The running sum of ``rows`` down axis 0, as int32. NumPy's ``cumsum`` down the first axis of a row-major array
    goes element by element; adding whole rows, one after the other, took 19 ms instead of 80 (int32) to 250 (from
    int8) on 10,800 rows of 1,000 replicates. Below ``ROW_LOOP_MIN_WIDTH`` replicates the loop's overhead wins."""
    running = rows.astype(np.int32)
    if running.shape[1] < ROW_LOOP_MIN_WIDTH:
        return np.cumsum(running, axis=0, out=running)
    for row in range(1, len(running)):
        np.add(running[row], running[row - 1], out=running[row])
    return running


def _weighted_average_precision(scores: np.ndarray, positive: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Average precision (area under the precision-recall curve, step-wise, as scikit-learn computes it): only
    groups that hold a positive raise recall, so only they add to the sum."""
    groups = _positive_groups(scores, positive, counts)
    total_pos = groups.positives_through[-1] if len(groups.positives) else np.zeros(counts.shape[1], np.int32)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = groups.positives_through / groups.rows_through
        delta_recall = groups.positives / total_pos
    ap = np.nansum(delta_recall * np.nan_to_num(precision), axis=0)
    return np.where(total_pos > 0, ap, np.nan)


def _weighted_auc(scores: np.ndarray, positive: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Area under the ROC curve (Mann-Whitney, ties counted half), in whole numbers until the last division.

    Twice the concordant pairs of a positive group ``g`` (``p`` positives, ``a`` rows) is ``p * (2 * negatives below
    + negatives tied)``. Summed over groups, the positive-positive pairs that the same sum over *all* rows below and
    tied would count add up to exactly ``positives**2``, so: ``sum_g p * (2 * total - through - above) - positives**2``.
    """
    groups = _positive_groups(scores, positive, counts)
    total = groups.total.astype(np.float64)
    total_pos = (groups.positives_through[-1] if len(groups.positives) else np.zeros(counts.shape[1])).astype(np.float64)
    weight = (2 * groups.total[None, :] - groups.rows_through - groups.rows_above).astype(np.float64)
    twice_concordant = np.einsum("gb,gb->b", groups.positives.astype(np.float64), weight) - total_pos ** 2
    pairs = total_pos * (total - total_pos)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(pairs > 0, twice_concordant / (2.0 * pairs), np.nan)
