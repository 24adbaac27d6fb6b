"""The tabular downstream-lift protocol: real-only vs real+synthetic vs the classic baselines (class
weights, SMOTE and random oversampling), on one split or cross-fitted over folds.

Every run fits one imbalanced-learn pipeline on that run's training rows only::

    impute (median + missing flags; constant for categories)
      -> resample (passthrough, SMOTE/SMOTENC or random oversampling)
      -> encode (standardise numeric, one-hot categories; unseen categories encode as zeros)
      -> classifier

so nothing (imputer, resampler, scaler, encoder) ever sees the evaluation rows, and every method
differs from the others only in its training rows, its resampler or its class weights.

The tree ensemble is a random forest below ``LARGE_TABLE_ROWS`` training rows: on a few hundred rows it
needs no tuning and no early stopping, and its bootstrap makes the seed matter, so repeated seeds measure
training variance as well. From ``LARGE_TABLE_ROWS`` on it is a histogram gradient-boosting model with a fixed
number of iterations (``early_stopping=False``, so it never carves rows out of the training rows) and a seeded
80% feature subsample per split (so the seed matters there too): a 150-tree forest grows with the rows (on the
64,000 real and synthetic rows of a 54,000-row table one method's forest took minutes), gradient boosting
bins the features once and costs about the same per row at any size. Scarce tables never reach the rule, so
their results do not move. And each downstream fit trains on at most ``MAX_TRAINING_ROWS`` real rows: above
that, a stratified subsample (seeded by the downstream seed, the same for every method) of the real training
rows, and the synthetic rows thinned by the same fraction per class, so every method still differs only in
its rows; the judged rows are never subsampled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Hashable, Iterable, Mapping, Optional, Sequence

import numpy as np
import pandas as pd
from sklearn.base import ClassifierMixin

from quality.checks.gx_suite import is_numeric_column
from quality.lift.statistics import BOOTSTRAP_RESAMPLES, DEFAULT_LIFT_SEEDS, RunPrediction, build_lift_report
from quality.lift.report import REAL_ONLY, REAL_PLUS_SYNTHETIC, LiftReport
from quality.checks.table_encoding import MISSING
from quality.data.splitting import stratified_sample

if TYPE_CHECKING:
    from imblearn.pipeline import Pipeline

REAL_PLUS_SMOTE = "real+smote"
REAL_PLUS_RANDOM_OVERSAMPLING = "real+random_oversampling"
REAL_CLASS_WEIGHTS = "real+class_weights"  # real rows only, each class weighted by its inverse frequency
CLASSIC_BASELINES = (REAL_CLASS_WEIGHTS, REAL_PLUS_SMOTE, REAL_PLUS_RANDOM_OVERSAMPLING)
# Each method's (resampler, class weight), in report order; real+synthetic also trains on the synthetic rows.
METHOD_RECIPES = {REAL_ONLY: (None, None), REAL_PLUS_SYNTHETIC: (None, None), REAL_CLASS_WEIGHTS: (None, "balanced"),
                  REAL_PLUS_SMOTE: ("smote", None), REAL_PLUS_RANDOM_OVERSAMPLING: ("random_oversampling", None)}
METHODS = tuple(METHOD_RECIPES)
WITHOUT_BASELINES = (REAL_ONLY, REAL_PLUS_SYNTHETIC)
FOREST_TREES = 150
# 100 rounds at twice sklearn's default rate: on the scale benchmark's tables the balanced accuracy of every method
# stayed within 0.01 of 200 rounds at the default rate (BENCHMARKS.md, "Scale"), at half the cost.
BOOSTING_ITERATIONS = 100
BOOSTING_LEARNING_RATE = 0.2
# Training rows (real) from which the tree model is gradient boosting instead of a random forest.
LARGE_TABLE_ROWS = 5_000
# Real training rows of one downstream fit, at most (the judged rows are never subsampled).
MAX_TRAINING_ROWS = 20_000
# Two processes fit the folds' classifiers side by side: the lift step is the longest one on small tables.
DEFAULT_LIFT_JOBS = 2


def _logistic_regression(seed: int, class_weight: Optional[str] = None) -> ClassifierMixin:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=2000, random_state=seed, class_weight=class_weight)


def _random_forest(seed: int, class_weight: Optional[str] = None) -> ClassifierMixin:
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=FOREST_TREES, n_jobs=1, random_state=seed, class_weight=class_weight)


def _gradient_boosting(seed: int, class_weight: Optional[str] = None) -> ClassifierMixin:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(max_iter=BOOSTING_ITERATIONS, learning_rate=BOOSTING_LEARNING_RATE,
                                          early_stopping=False, max_features=0.8,
                                          random_state=seed, class_weight=class_weight)


CLASSIFIERS: dict[str, Callable[..., ClassifierMixin]] = {
    "logistic_regression": _logistic_regression,
    "random_forest": _random_forest,
    "hist_gradient_boosting": _gradient_boosting,
}
SMALL_TABLE_CLASSIFIERS = ("logistic_regression", "random_forest")
LARGE_TABLE_CLASSIFIERS = ("logistic_regression", "hist_gradient_boosting")
DENSE_CLASSIFIERS = {"hist_gradient_boosting"}  # they take no sparse one-hot matrix
# one-hot levels a dense classifier sees per category; rarer ones share one "infrequent" column
DENSE_MAX_CATEGORIES = 32


def classifiers_for(n_training_rows: int) -> tuple[str, ...]:
    """The downstream classifiers for a lift whose models train on ``n_training_rows`` real rows."""
    return LARGE_TABLE_CLASSIFIERS if n_training_rows >= LARGE_TABLE_ROWS else SMALL_TABLE_CLASSIFIERS


def capped_training_rows(train: pd.DataFrame, synthetic: pd.DataFrame, label_column: str, seed: int,
                         max_rows: int = MAX_TRAINING_ROWS) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``train`` and ``synthetic`` unchanged up to ``max_rows`` real rows; above, a stratified subsample of
    ``max_rows`` real rows (seeded) and the synthetic rows thinned by the same fraction in every class."""
    if len(train) <= max_rows:
        return train, synthetic
    fraction = max_rows / len(train)
    rng = np.random.default_rng(seed)
    return _stratified(train, label_column, fraction, rng), _stratified(synthetic, label_column, fraction, rng)


def _stratified(rows: pd.DataFrame, label_column: str, fraction: float, rng: np.random.Generator) -> pd.DataFrame:
    return rows.iloc[stratified_sample(rows[label_column].to_numpy(), fraction, rng)]


def minority_class(train: pd.DataFrame, label_column: str) -> Hashable:
    """The least frequent label in train (ties: the first in sorted order)."""
    if label_column not in train:
        raise ValueError(f"label_column {label_column!r} is not a column of train; columns: {list(train.columns)}")
    counts = train[label_column].value_counts()
    if counts.empty:
        raise ValueError(f"train has no labels in column {label_column!r}")
    fewest = counts[counts == counts.min()].index.tolist()
    return sorted_labels(fewest)[0]


def downstream_pipeline(
    train: pd.DataFrame,
    label_column: str,
    classifier: str,
    seed: int,
    resampler: Optional[str] = None,
    class_weight: Optional[str] = None,
) -> "Pipeline":
    """An unfitted imblearn ``Pipeline`` for one run: impute -> resample -> encode -> classifier.

    ``resampler`` is None, ``"smote"`` (SMOTENC when there are categorical columns) or
    ``"random_oversampling"``; both balance every class to the majority. ``class_weight="balanced"`` weights
    each class by its inverse frequency instead.
    """
    from imblearn.pipeline import Pipeline
    from sklearn.compose import ColumnTransformer, make_column_selector
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    if classifier not in CLASSIFIERS:
        raise ValueError(f"unknown classifier {classifier!r}; choose from {sorted(CLASSIFIERS)}")
    numeric, categorical = _feature_kinds(train, label_column)
    impute = ColumnTransformer(
        [
            ("numeric", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True), numeric),
            ("categorical", SimpleImputer(strategy="constant", fill_value=MISSING), categorical),
        ],
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")
    one_hot = (OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=DENSE_MAX_CATEGORIES,
                             sparse_output=False) if classifier in DENSE_CLASSIFIERS
               else OneHotEncoder(handle_unknown="ignore"))
    encode = ColumnTransformer(
        [
            ("numeric", StandardScaler(), make_column_selector(dtype_include="number")),
            ("categorical", one_hot, make_column_selector(dtype_exclude="number")),
        ]
    )
    return Pipeline(
        [
            ("impute", impute),
            ("resample", _resampler(resampler, train[label_column], numeric, categorical, seed)),
            ("encode", encode),
            ("classifier", CLASSIFIERS[classifier](seed, class_weight)),
        ]
    )


def tabular_lift_report(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    evaluation: pd.DataFrame,
    label_column: str,
    seeds: Sequence[int] = DEFAULT_LIFT_SEEDS,
    classifiers: Optional[Sequence[str]] = None,
    evaluated_on: str = "validation",
    n_boot: int = BOOTSTRAP_RESAMPLES,
    include_baselines: bool = True,
    n_jobs: int = 1,
    progress: Optional[Callable[[int, int], None]] = None,
) -> LiftReport:
    """Train every classifier with every seed on each method's rows, score on ``evaluation``, and
    report paired lifts over ``real_only`` (and over every classic baseline when they are included).
    ``classifiers`` defaults to ``classifiers_for(len(train))``. Each (seed, method) is one task of ``n_jobs``
    processes, and ``progress(done, total)`` is called as tasks finish; the report is the same for any ``n_jobs``."""
    classifiers = classifiers_for(len(train)) if classifiers is None else classifiers
    _check_frames(train, synthetic, evaluation, label_column, classifiers, seeds)  # before any task starts
    classes = _classes(train, label_column, synthetic=synthetic, evaluation=evaluation)
    methods = METHODS if include_baselines else WITHOUT_BASELINES
    tasks = [(seed, method) for seed in seeds for method in methods]
    results = _fitted_in_tasks(((train, synthetic, evaluation, seed, method) for seed, method in tasks), len(tasks),
                               label_column, classifiers, classes, n_jobs, progress)
    by_task = {task: {run.classifier: run for run in task_runs} for task, task_runs in zip(tasks, results)}
    # the order one process fitting everything would give: seed, then classifier, then method
    runs = [by_task[seed, method][classifier] for seed in seeds for classifier in classifiers for method in methods]
    return _report(evaluation[label_column].to_numpy(), runs, classes, minority_class(train, label_column),
                   include_baselines, evaluated_on, n_boot)


def cross_fitted_lift_report(
    rows: pd.DataFrame,
    folds: np.ndarray,
    fold_synthetic: Mapping[int, pd.DataFrame],
    label_column: str,
    seeds: Sequence[int] = DEFAULT_LIFT_SEEDS,
    classifiers: Optional[Sequence[str]] = None,
    evaluated_on: Optional[str] = None,
    n_boot: int = BOOTSTRAP_RESAMPLES,
    n_jobs: int = 1,
    progress: Optional[Callable[[int, int], None]] = None,
) -> LiftReport:
    """The lift judged on every row of every fold in ``fold_synthetic``: fold k's downstream models are fitted
    on the rows of the other folds (``folds != k``) plus fold k's synthetic rows, and predict fold k's rows.
    ``folds`` may hold one row per repetition of the folds (shape (repetitions, rows)); ``fold_synthetic`` is
    then keyed by part, fold k of repetition r being part ``r * K + k``, and each repetition must judge the same
    rows. Each run's predictions over all judged rows are then scored together, and the paired bootstrap
    resamples those rows and the (repetition, seed) pairs, as it resamples seeds on one split.
    ``classifiers`` defaults to ``classifiers_for`` the smallest fold's training rows (one choice for every
    fold). Each (part, seed, method) is one task, so ``n_jobs`` processes stay busy even on one split, whose 5
    seeds alone would leave one of two processes idle for a fifth of the step. ``progress(done, total)`` is
    called as each task's fits finish."""
    classes = _classes(rows, label_column, **{f"fold {fold} synthetic": frame for fold, frame in fold_synthetic.items()})
    repeated = np.atleast_2d(folds)
    n_folds = max(int(repeated.max()) + 1, 1)
    judged = sorted(fold_synthetic)
    evaluated_on = evaluated_on or f"{len(judged)}-fold cross-fit"

    # fold k of repetition r is part r * K + k; each part's judged rows are found once
    judged_by = {part: repeated[part // n_folds] == part % n_folds for part in judged}
    if classifiers is None:
        classifiers = classifiers_for(min(int((~mask).sum()) for mask in judged_by.values()) if judged else len(rows))
    tasks = [(part, seed, method) for part in judged for seed in seeds for method in METHODS]
    # a generator: each task's rows are cut when it is dispatched, not all at once
    results = _fitted_in_tasks(
        ((rows[~judged_by[part]], fold_synthetic[part], rows[judged_by[part]], seed, method)
         for part, seed, method in tasks), len(tasks), label_column, classifiers, classes, n_jobs, progress)
    by_part: dict[int, list[RunPrediction]] = {part: [] for part in judged}
    for (part, _, _), runs in zip(tasks, results):
        by_part[part].extend(runs)
    by_repeat: dict[int, list[int]] = {}
    for part in judged:
        by_repeat.setdefault(part // n_folds, []).append(part)
    positions = {part: np.flatnonzero(mask) for part, mask in judged_by.items()}
    order = _judged_order(by_repeat, positions)
    runs = [run for repeat, parts in by_repeat.items()
            for run in _joined_over_folds({part: by_part[part] for part in parts}, positions, order, repeat)]
    return _report(rows[label_column].to_numpy()[order], runs, classes, minority_class(rows, label_column), True,
                   evaluated_on, n_boot)


def _fitted_in_tasks(
    tasks: Iterable[tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, int, str]],
    n_tasks: int,
    label_column: str,
    classifiers: Sequence[str],
    classes: list,
    n_jobs: int,
    progress: Optional[Callable[[int, int], None]],
) -> list[list[RunPrediction]]:
    """``fold_runs`` of each of the ``n_tasks`` (train, synthetic, evaluation, seed, method) tasks in ``n_jobs``
    processes, in task order; ``progress(done, n_tasks)`` is called as each task finishes."""
    from joblib import Parallel, delayed

    results = Parallel(n_jobs=n_jobs, return_as="generator")(
        delayed(fold_runs)(train, synthetic, evaluation, label_column, (seed,), classifiers, classes, methods=(method,))
        for train, synthetic, evaluation, seed, method in tasks)
    finished = []
    for done, runs in enumerate(results, start=1):
        finished.append(runs)
        if progress is not None:
            progress(done, n_tasks)
    return finished


def _judged_order(by_repeat: Mapping[int, list[int]], positions: Mapping[int, np.ndarray]) -> np.ndarray:
    """Positions of the judged rows in the order the report lists them: the first repetition's folds in turn.
    Every other repetition must judge the same rows. ``positions`` holds each part's judged rows."""
    orders = {repeat: np.concatenate([positions[part] for part in parts])
              for repeat, parts in by_repeat.items()}
    if not orders:
        return np.zeros(0, dtype=int)
    first, *others = orders
    for repeat in others:
        if not np.array_equal(np.sort(orders[repeat]), np.sort(orders[first])):
            raise ValueError(f"repetition {repeat} of the folds judges other rows than repetition {first}: give "
                             "every fold of each repetition, or none of it")
    return orders[first]


def fold_runs(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    evaluation: pd.DataFrame,
    label_column: str,
    seeds: Sequence[int],
    classifiers: Sequence[str],
    classes: list,
    include_baselines: bool = True,
    methods: Optional[Sequence[str]] = None,
) -> list[RunPrediction]:
    """One prediction of ``evaluation`` per method, classifier and seed, every model fitted on ``train`` (and,
    for real+synthetic, ``synthetic``) only. ``methods`` narrows the methods (default: all of them)."""
    _check_frames(train, synthetic, evaluation, label_column, classifiers, seeds)
    features = model_frame(evaluation, train, label_column)
    runs = []
    for seed in seeds:
        capped, thinned = capped_training_rows(train, synthetic, label_column, seed)
        chosen = _method_rows(capped, thinned, methods or (METHODS if include_baselines else WITHOUT_BASELINES))
        for classifier in classifiers:
            for method, (rows, resampler, class_weight) in chosen.items():
                pipeline = downstream_pipeline(capped, label_column, classifier, seed, resampler, class_weight)
                pipeline.fit(model_frame(rows, train, label_column), rows[label_column].to_numpy())
                proba = aligned_proba(pipeline, features, classes)
                # the arg-max of the probabilities is what predict() returns for both classifiers
                predicted = np.asarray(classes, dtype=object)[proba.argmax(axis=1)]
                runs.append(RunPrediction(method, classifier, int(seed), y_pred=predicted, y_proba=proba))
    return runs


def _method_rows(train: pd.DataFrame, synthetic: pd.DataFrame, methods: Sequence[str]) -> dict:
    """Each of ``methods``' (training rows, resampler, class weight), in that order; the real+synthetic rows are
    joined only when that method is asked for."""
    def rows(method: str) -> pd.DataFrame:
        if method != REAL_PLUS_SYNTHETIC:
            return train
        return pd.concat([train, synthetic[list(train.columns)]], ignore_index=True)

    return {method: (rows(method), *METHOD_RECIPES[method]) for method in methods}


def _joined_over_folds(by_part: Mapping[int, list[RunPrediction]], positions: Mapping[int, np.ndarray],
                       order: np.ndarray, repeat: int) -> list[RunPrediction]:
    """Each run's predictions on every fold of one repetition, placed in ``order`` (the judged rows' order)."""
    slot = np.zeros(int(order.max()) + 1 if len(order) else 0, dtype=int)
    slot[order] = np.arange(len(order))
    keyed = {part: {(run.method, run.classifier, run.seed): run for run in runs} for part, runs in by_part.items()}
    placed = {part: slot[positions[part]] for part in keyed}  # where each part's predictions go in ``order``
    joined = []
    for key, first in next(iter(keyed.values())).items():
        y_pred = np.empty(len(order), dtype=np.asarray(first.y_pred).dtype)
        y_proba = np.empty((len(order), np.asarray(first.y_proba).shape[1]))
        for part, runs in keyed.items():
            y_pred[placed[part]], y_proba[placed[part]] = runs[key].y_pred, runs[key].y_proba
        joined.append(RunPrediction(*key, y_pred=y_pred, y_proba=y_proba, repeat=repeat))
    return joined


def _classes(train: pd.DataFrame, label_column: str, **others: pd.DataFrame) -> list:
    if label_column not in train:
        raise ValueError(f"label_column {label_column!r} is not a column of train; columns: {list(train.columns)}")
    classes = sorted_labels(train[label_column].dropna().unique().tolist())
    for name, frame in others.items():
        if label_column not in frame:
            continue
        unknown = sorted({str(label) for label in frame[label_column].tolist() if label not in classes})
        if unknown:
            raise ValueError(f"{name} label(s) {unknown} in {label_column!r} never occur in train {classes}")
    return classes


def _report(y_true: np.ndarray, runs: list[RunPrediction], classes: list, minority: Hashable,
            include_baselines: bool, evaluated_on: str, n_boot: int) -> LiftReport:
    return build_lift_report(
        y_true=y_true,
        runs=runs,
        classes=classes,
        minority_class=minority,
        references=[REAL_ONLY, *CLASSIC_BASELINES] if include_baselines else [REAL_ONLY],
        evaluated_on=evaluated_on,
        n_boot=n_boot,
    )


def hardest_classic_baseline(report: LiftReport, metric: str = "balanced_accuracy") -> str:
    """The classic baseline over which real+synthetic's lift has the lowest lower confidence bound in
    ``report``: a gate that clears it clears the others too."""
    return min(CLASSIC_BASELINES, key=lambda baseline: report.lift(REAL_PLUS_SYNTHETIC, baseline, metric).ci_low)


def _check_frames(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    evaluation: pd.DataFrame,
    label_column: str,
    classifiers: Sequence[str],
    seeds: Sequence[int],
) -> None:
    if label_column not in train:
        raise ValueError(f"label_column {label_column!r} is not a column of train; columns: {list(train.columns)}")
    for name, frame in (("synthetic", synthetic), ("evaluation", evaluation)):
        missing = [column for column in train.columns if column not in frame]
        if missing:
            raise ValueError(f"{name} lacks train column(s) {missing}")
    if evaluation.empty:
        raise ValueError("evaluation has no rows to score the downstream classifiers on")
    if train[label_column].nunique() < 2:
        raise ValueError(f"train needs at least two classes in {label_column!r} to train a classifier")
    unknown = [name for name in classifiers if name not in CLASSIFIERS]
    if unknown or not classifiers:
        raise ValueError(f"unknown or no classifiers {list(unknown)}; choose from {sorted(CLASSIFIERS)}")
    if not seeds:
        raise ValueError("seeds is empty: give at least one training seed")


def _feature_kinds(train: pd.DataFrame, label_column: str) -> tuple[list[str], list[str]]:
    features = [name for name in train.columns if name != label_column]
    numeric = [name for name in features if is_numeric_column(train[name])]
    return numeric, [name for name in features if name not in numeric]


def model_frame(rows: pd.DataFrame, train: pd.DataFrame, label_column: str) -> pd.DataFrame:
    """The feature columns of ``rows``: numeric ones as float, categorical ones as strings (missing
    stays missing). A stateless cast, so one-hot encoding and SMOTENC see one type per column
    whatever the source dtypes."""
    numeric, categorical = _feature_kinds(train, label_column)
    cast = {name: rows[name].astype(float) for name in numeric}
    for name in categorical:
        column = rows[name]
        cast[name] = column.astype(object).where(column.notna(), np.nan).map(str, na_action="ignore").astype(object)
    return pd.DataFrame(cast, index=rows.index)[numeric + categorical]


def _resampler(name: Optional[str], labels: pd.Series, numeric: list[str], categorical: list[str], seed: int):
    if name is None:
        return "passthrough"
    if name == "random_oversampling":
        from imblearn.over_sampling import RandomOverSampler

        return RandomOverSampler(sampling_strategy="auto", random_state=seed)
    if name != "smote":
        raise ValueError(f"unknown resampler {name!r}; choose None, 'smote' or 'random_oversampling'")
    from imblearn.over_sampling import SMOTE, SMOTEN, SMOTENC

    counts = labels.value_counts()
    smallest = counts.idxmin()
    if counts.min() < 2:
        raise ValueError(f"SMOTE needs at least 2 train rows of every class; class {smallest!r} has {counts.min()}")
    neighbours = int(min(5, counts.min() - 1))
    if categorical and not numeric:
        return SMOTEN(k_neighbors=neighbours, random_state=seed)
    if categorical:
        return SMOTENC(categorical_features=categorical, k_neighbors=neighbours, random_state=seed)
    return SMOTE(k_neighbors=neighbours, random_state=seed)


def aligned_proba(pipeline, features: pd.DataFrame, classes: list) -> np.ndarray:
    """Class probabilities with one column per entry of ``classes``, in that order."""
    proba = pipeline.predict_proba(features)
    aligned = np.zeros((len(features), len(classes)))
    position = {cls: i for i, cls in enumerate(classes)}
    for column, cls in enumerate(pipeline.classes_.tolist()):
        aligned[:, position[cls]] = proba[:, column]
    return aligned


def sorted_labels(labels: list) -> list:
    """Labels in a stable order even when they mix types (ints and strings sort by type name first)."""
    return sorted(labels, key=lambda label: (str(type(label)), label))
