"""The downstream-lift statistics shared by every modality.

Each training run of a downstream classifier yields a :class:`RunPrediction` on the same
evaluation rows. Scores are averaged over seeds and classifiers per method, and every lift is a
*paired* difference. Each bootstrap replicate resamples both the evaluation rows and the training
seeds, and applies the same resample to the method and to the reference, so the interval reflects
which real rows happened to be held out (the dominant uncertainty on scarce data) and how much a
result depends on the training seed.

Metrics are computed from bootstrap *weights* (multinomial counts) in NumPy so a thousand
resamples of dozens of runs take well under a second.
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


@dataclass(frozen=True)
class RunPrediction:
    """One trained downstream classifier's output on the evaluation rows.

    ``y_proba`` has one column per entry of the ``classes`` passed to :func:`build_lift_report`,
    in that order; ``y_pred`` holds class labels.
    """

    method: str
    classifier: str
    seed: int
    y_pred: np.ndarray
    y_proba: np.ndarray


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
    seeds = sorted({int(run.seed) for run in runs})
    point_seed_weights = {seed: np.ones(1) for seed in seeds}
    seed_draws = rng.multinomial(len(seeds), np.full(len(seeds), 1.0 / len(seeds)), size=n_boot).astype(float)
    boot_seed_weights = {seed: seed_draws[:, i] for i, seed in enumerate(seeds)}

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
        seeds=seeds,
        classifiers=list(dict.fromkeys(run.classifier for run in runs)),
        scores=point,
        per_classifier=per_classifier,
        lifts=lifts,
        confidence=confidence,
    )


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
    seed_weights: dict[int, np.ndarray],
) -> dict[str, np.ndarray]:
    """Average each metric over runs, each run weighted by how often its seed was drawn; every array
    has one entry per row of ``row_weights``."""
    totals: dict[str, np.ndarray] = defaultdict(lambda: np.zeros(row_weights.shape[0]))
    weight_sum = np.zeros(row_weights.shape[0])
    for run in runs:
        scores = weighted_metrics(
            true_index, _class_indices(np.asarray(run.y_pred), classes), np.asarray(run.y_proba, float),
            minority_index, row_weights,
        )
        weight = seed_weights[int(run.seed)]
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
    """Every metric under each row of ``weights`` (shape ``(B, n)``); returns arrays of shape ``(B,)``."""
    n_classes = proba.shape[1]
    true_onehot = np.eye(n_classes)[true_index]
    pred_onehot = np.eye(n_classes)[pred_index]
    # confusion[b, t, p] = total weight of rows with true class t predicted as p
    confusion = np.einsum("bn,nt,np->btp", weights, true_onehot, pred_onehot)
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
        _weighted_auc(proba[:, k], true_index == k, weights) for k in range(n_classes)
    ]
    return {
        "balanced_accuracy": balanced_accuracy,
        "macro_f1": macro_f1,
        "minority_recall": recall[:, minority_index],
        "auprc": _weighted_average_precision(proba[:, minority_index], true_index == minority_index, weights),
        "auc": np.nanmean(np.vstack(auc_per_class), axis=0) if n_classes > 2 else auc_per_class[1],
    }


def _tie_groups(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows grouped by equal score, groups sorted by descending score."""
    unique, inverse = np.unique(-scores, return_inverse=True)
    groups = np.zeros((scores.size, unique.size))
    groups[np.arange(scores.size), inverse] = 1.0
    return groups, unique


def _weighted_average_precision(scores: np.ndarray, positive: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Average precision (area under the precision-recall curve, step-wise, as scikit-learn computes it)."""
    groups, _ = _tie_groups(scores)
    tp = np.cumsum((weights * positive) @ groups, axis=1)
    fp = np.cumsum((weights * ~positive) @ groups, axis=1)
    total_pos = tp[:, -1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = tp / (tp + fp)
        recall = tp / total_pos
    delta_recall = np.diff(np.concatenate([np.zeros((weights.shape[0], 1)), recall], axis=1), axis=1)
    ap = np.nansum(delta_recall * np.nan_to_num(precision), axis=1)
    return np.where(total_pos[:, 0] > 0, ap, np.nan)


def _weighted_auc(scores: np.ndarray, positive: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Area under the ROC curve (Mann-Whitney, ties counted half)."""
    groups, _ = _tie_groups(scores)
    pos_in_group = (weights * positive) @ groups
    neg_in_group = (weights * ~positive) @ groups
    # groups run from highest to lowest score: negatives strictly below a group are those after it
    neg_below = neg_in_group.sum(axis=1, keepdims=True) - np.cumsum(neg_in_group, axis=1)
    concordant = (pos_in_group * (neg_below + 0.5 * neg_in_group)).sum(axis=1)
    total = pos_in_group.sum(axis=1) * neg_in_group.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, concordant / total, np.nan)


