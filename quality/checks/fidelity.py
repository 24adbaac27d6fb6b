"""Fidelity checks: how hard synthetic samples are to tell from real train ones. Reported, never blocking.

Tables: a random-forest two-sample test on class-matched rows, per-column KS / total variation, the
correlation gap and the labels a classifier fitted on real rows gives the synthetic ones. Images, in the
feature space of a :class:`quality.checks.image_features.FeatureExtractor`: Fréchet distance, precision,
recall, density, coverage and a logistic-regression two-sample test.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import pandas as pd

from quality.checks.image_features import FeatureExtractor
from quality.checks.neighbours import kth_neighbour_distance, pairwise_distances
from quality.checks.result import CheckResult, figure_text
from quality.checks.table_encoding import (
    TrainEncoding, category_strings, fit_train_encoding, sorted_labels, train_columns,
)
from quality.data.splitting import stratified_sample

C2ST_MIN_ROWS_PER_SIDE = 10
C2ST_FOLDS = 5
C2ST_TREES = 100
# Rows per side and class in the two-sample test, at most (a seeded subsample past it): an AUC from 2,000 rows
# a side is within about 0.01 of the AUC from all of them, and the forest's cost grows with the rows.
C2ST_MAX_ROWS_PER_CLASS = 2_000
WORST_COLUMNS_REPORTED = 3
# The forests' trees grow on this many threads (the fitted forest does not depend on it).
C2ST_THREADS = 2
# Train rows the label-agreement model is fitted on, at most (a seeded stratified subsample past it): on the scale
# benchmark's 43,200 train rows the share it reports moved by half a point (0.237 -> 0.232) and its fit fell from
# 15 s to 4 s.
LABEL_AGREEMENT_MAX_ROWS = 10_000
LABEL_AGREEMENT_MIN_CLASS_ROWS = 20  # a rare class keeps this many rows of the subsample (all, if it has fewer)


# --- tables -----------------------------------------------------------------------------------------------------------


def fidelity_check(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    label_column: str,
    seed: int = 0,
    max_c2st_auc: float = 0.9,
    min_class_rows: int = 20,
) -> CheckResult:
    """Reported, not blocking: how hard synthetic rows are to tell from real ones, class by class.

    A random forest two-sample test (cross-validated AUC, 0.5 = indistinguishable) on class-matched
    samples (per class, the larger side is subsampled to the smaller, and both to at most
    ``C2ST_MAX_ROWS_PER_CLASS``), per class for classes with
    ``min_class_rows`` rows on both sides, and per column KS (numeric) / total variation
    (categorical) and the numeric correlation gap, each averaged over classes weighted by the
    synthetic class share.
    """
    columns = train_columns(train, label_column, synthetic=synthetic)
    synthetic = synthetic[columns]
    features = [name for name in columns if name != label_column]
    classes, weights = _shared_classes(train, synthetic, label_column)
    threshold = {"max_c2st_auc": max_c2st_auc}
    if not classes:
        details = "no class occurs in both the train split and the synthetic rows"
        return CheckResult("fidelity", False, False, {}, threshold, details)

    encoding = fit_train_encoding(train, features)
    pairs = {
        cls: (train[train[label_column] == cls], synthetic[synthetic[label_column] == cls]) for cls in classes
    }
    overall_auc, class_auc = _class_matched_c2st(pairs, encoding, seed, min_class_rows)
    agreement = _label_agreement(train, synthetic, label_column, encoding, seed)
    column_distance, correlation_gap = _marginal_gaps(pairs, weights, encoding)
    worst = sorted(column_distance, key=column_distance.get, reverse=True)[:WORST_COLUMNS_REPORTED]
    worst_columns = ", ".join(
        f"{name} ({'KS' if name in encoding.numeric else 'TV'} {column_distance[name]:.2f})" for name in worst
    )

    aucs = {"all classes": overall_auc, **{f"class {cls!r}": auc for cls, auc in class_auc.items()}}
    too_distinct = [f"{where} (AUC {auc:.2f})" for where, auc in aucs.items() if auc is not None and auc > max_c2st_auc]
    metrics = {
        "c2st_auc": overall_auc,
        **{f"c2st_auc_class_{cls}": auc for cls, auc in class_auc.items()},
        "max_column_distance": max(column_distance.values(), default=0.0),
        "worst_columns": worst_columns,
        "correlation_gap": correlation_gap,
        "label_agreement": agreement,
        "classes_compared": ", ".join(str(cls) for cls in classes),
    }
    if overall_auc is None:
        summary = "too few class-matched rows for a two-sample test"
    else:
        summary = f"a classifier tells synthetic from real train rows with AUC {overall_auc:.2f} (0.5: cannot)"
    if too_distinct:
        verdict = f"too distinguishable: {', '.join(too_distinct)} > {max_c2st_auc}"
    else:
        verdict = f"within {max_c2st_auc}"
    details = (
        f"{summary}, {verdict}; least faithful columns: {worst_columns or 'none'}; "
        f"correlation gap {correlation_gap:.3f}; a classifier fitted on real train rows agrees with "
        f"{agreement:.0%} of the synthetic labels"
    )
    return CheckResult("fidelity", not too_distinct, False, metrics, threshold, details)


def _shared_classes(train: pd.DataFrame, synthetic: pd.DataFrame, label_column: str) -> tuple[list, list[float]]:
    """Classes in both frames, with each one's share of the synthetic rows among them."""
    synthetic_counts = synthetic[label_column].value_counts()
    known = set(train[label_column].dropna().tolist())
    classes = sorted_labels([cls for cls in synthetic_counts.index.tolist() if cls in known])
    total = float(sum(synthetic_counts[cls] for cls in classes))
    return classes, [float(synthetic_counts[cls]) / total for cls in classes]


def _class_matched_c2st(
    pairs: dict, encoding: TrainEncoding, seed: int, min_class_rows: int
) -> tuple[Optional[float], dict]:
    """The two-sample AUC on every class pooled (each class balanced by subsampling), and per class
    for classes with at least ``min_class_rows`` rows on both sides."""
    rng = np.random.default_rng(seed)
    real_parts, synthetic_parts, class_auc = [], [], {}
    for cls, (real, synthetic) in pairs.items():
        real_rows, synthetic_rows = _balance_by_subsampling(
            encoding.transform(real), encoding.transform(synthetic), rng
        )
        real_parts.append(real_rows)
        synthetic_parts.append(synthetic_rows)
        if len(real_rows) >= min_class_rows:
            class_auc[cls] = _forest_c2st_auc(real_rows, synthetic_rows, seed)
    return _forest_c2st_auc(np.vstack(real_parts), np.vstack(synthetic_parts), seed), class_auc


def _label_agreement(
    train: pd.DataFrame, synthetic: pd.DataFrame, label_column: str, encoding: TrainEncoding, seed: int
) -> float:
    """Share of synthetic rows whose label a logistic regression fitted on real train rows (at most
    ``LABEL_AGREEMENT_MAX_ROWS`` of them) predicts ("train on real, test on synthetic"). Rows that do not look like
    their class score low here even when every other fidelity figure looks fine."""
    from sklearn.linear_model import LogisticRegression

    if len(train) > LABEL_AGREEMENT_MAX_ROWS:
        kept = stratified_sample(train[label_column].to_numpy(), LABEL_AGREEMENT_MAX_ROWS / len(train),
                                 np.random.default_rng(seed), min_rows=LABEL_AGREEMENT_MIN_CLASS_ROWS)
        train = train.iloc[kept]
    model = LogisticRegression(max_iter=2000).fit(encoding.transform(train), train[label_column].astype(str))
    predicted = model.predict(encoding.transform(synthetic))
    return float(np.mean(predicted == synthetic[label_column].astype(str).to_numpy()))


def _marginal_gaps(pairs: dict, weights: list[float], encoding: TrainEncoding) -> tuple[dict[str, float], float]:
    """Per-column KS/TV distance and the correlation gap, each averaged over classes by ``weights``."""
    features = encoding.numeric + list(encoding.categories)
    column_distance = {name: 0.0 for name in features}
    correlation_gap = 0.0
    for (real, synthetic), weight in zip(pairs.values(), weights):
        for name in features:
            column_distance[name] += weight * _column_distance(real[name], synthetic[name], encoding)
        correlation_gap += weight * _correlation_gap(real[encoding.numeric], synthetic[encoding.numeric])
    return column_distance, correlation_gap


def _balance_by_subsampling(
    real_rows: np.ndarray, synthetic_rows: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    size = min(len(real_rows), len(synthetic_rows), C2ST_MAX_ROWS_PER_CLASS)
    real_keep = np.sort(rng.choice(len(real_rows), size=size, replace=False))
    synthetic_keep = np.sort(rng.choice(len(synthetic_rows), size=size, replace=False))
    return real_rows[real_keep], synthetic_rows[synthetic_keep]


def _forest_c2st_auc(real_rows: np.ndarray, synthetic_rows: np.ndarray, seed: int) -> Optional[float]:
    """Cross-validated AUC of a random forest telling the two equal-sized samples apart (None if too few)."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    if len(real_rows) < C2ST_MIN_ROWS_PER_SIDE:
        return None
    features = np.vstack([real_rows, synthetic_rows])
    is_synthetic = np.r_[np.zeros(len(real_rows)), np.ones(len(synthetic_rows))]
    folds = StratifiedKFold(n_splits=min(C2ST_FOLDS, len(real_rows)), shuffle=True, random_state=seed)
    scores = np.zeros(len(features))
    for fitted_on, scored in folds.split(features, is_synthetic):
        forest = RandomForestClassifier(n_estimators=C2ST_TREES, min_samples_leaf=2, n_jobs=C2ST_THREADS,
                                        random_state=seed).fit(features[fitted_on], is_synthetic[fitted_on])
        # one thread to predict: threads add the trees' votes in the order they finish, which moves the last bits
        scores[scored] = forest.set_params(n_jobs=1).predict_proba(features[scored])[:, 1]
    return float(roc_auc_score(is_synthetic, scores))


def _column_distance(real: pd.Series, synthetic: pd.Series, encoding: TrainEncoding) -> float:
    """KS statistic for a numeric column, total-variation distance for a categorical one."""
    from scipy.stats import ks_2samp

    if real.name in encoding.numeric:
        real_values = real.to_numpy(dtype=float, na_value=np.nan)
        synthetic_values = synthetic.to_numpy(dtype=float, na_value=np.nan)
        real_values = real_values[np.isfinite(real_values)]
        synthetic_values = synthetic_values[np.isfinite(synthetic_values)]
        if not len(real_values) or not len(synthetic_values):
            return 0.0
        return float(ks_2samp(real_values, synthetic_values).statistic)
    real_share = category_strings(real).value_counts(normalize=True)
    synthetic_share = category_strings(synthetic).value_counts(normalize=True)
    return float(0.5 * real_share.sub(synthetic_share, fill_value=0.0).abs().sum())


def _correlation_gap(real: pd.DataFrame, synthetic: pd.DataFrame) -> float:
    """Mean absolute difference between the numeric correlation matrices (upper triangle)."""
    if real.shape[1] < 2 or len(real) < 3 or len(synthetic) < 3:
        return 0.0
    upper = np.triu_indices(real.shape[1], k=1)
    gap = np.abs(real.astype(float).corr().to_numpy()[upper] - synthetic.astype(float).corr().to_numpy()[upper])
    return float(np.nanmean(gap)) if np.isfinite(gap).any() else 0.0


# --- images -----------------------------------------------------------------------------------------------------------


def image_fidelity_check(
    extractor: FeatureExtractor,
    train_images: np.ndarray,
    train_labels: np.ndarray,
    synthetic_images: np.ndarray,
    synthetic_labels: np.ndarray,
    seed: int = 0,
    validation_images: Optional[np.ndarray] = None,
    k: int = 5,
    max_c2st_auc: float = 0.95,
    max_rows: int = 2000,
    validation_labels: Optional[np.ndarray] = None,
) -> CheckResult:
    """Reported, not blocking: how close synthetic images lie to real train images in feature space.

    Metrics overall and per class: Fréchet distance (FID in the small CNN's feature space), precision,
    recall, density and coverage (Naeem et al. 2020, ``k`` neighbours) and a classifier two-sample test
    AUC (cross-validated logistic regression on features; 0.5 = indistinguishable). The overall figures
    compare with real train images drawn to the synthetic set's class shares (synthetic sets usually hold
    minority classes only, and a class-mix difference must not read as low fidelity). With
    ``validation_images``, ``fid_train_vs_validation`` gives the real-vs-real reference point (FID is biased
    upwards on small samples, so compare figures of similar sample sizes); with ``validation_labels`` too,
    ``c2st_train_vs_validation`` is the same two-sample test between real train images and real validation
    images of the synthetic set's classes (about 0.5 when the feature space has not merely learnt the train
    images, so a high synthetic AUC is the samples' doing). ``passed`` is ``c2st_auc <= max_c2st_auc``. At most
    ``max_rows`` images per side are used (random, seeded).
    """
    rng = np.random.default_rng(seed)
    if len(synthetic_images) == 0:
        return CheckResult("image_fidelity", True, False, {"n_synthetic": 0}, {"max_c2st_auc": max_c2st_auc},
                           "no synthetic images to assess")
    real_rows = _subsample(len(train_images), max_rows, rng)
    fake_rows = _subsample(len(synthetic_images), max_rows, rng)
    real_features = extractor.embed(train_images[real_rows])
    fake_features = extractor.embed(synthetic_images[fake_rows])
    real_labels, fake_labels = np.asarray(train_labels)[real_rows], np.asarray(synthetic_labels)[fake_rows]
    matched = class_matched_rows(real_labels, fake_labels, rng)

    metrics = {"n_real": int(len(matched)), "n_synthetic": int(len(fake_rows)), "k": k}
    metrics.update(_image_fidelity_metrics(real_features[matched], fake_features, k, seed))
    per_class = {}
    for cls in np.unique(fake_labels).tolist():
        per_class[str(cls)] = _image_fidelity_metrics(
            real_features[real_labels == cls], fake_features[fake_labels == cls], k, seed
        )
    metrics["per_class"] = per_class
    if validation_images is not None and len(validation_images) > 1:
        validation_rows = _subsample(len(validation_images), max_rows, rng)
        validation_features = extractor.embed(validation_images[validation_rows])
        metrics["fid_train_vs_validation"] = frechet_distance(real_features, validation_features)
        if validation_labels is not None:
            metrics["c2st_train_vs_validation"] = _real_c2st_auc(
                real_features, real_labels, validation_features, np.asarray(validation_labels)[validation_rows],
                np.unique(fake_labels), rng, seed)

    auc = metrics["c2st_auc"]
    passed = auc is None or auc <= max_c2st_auc
    reference = _real_reference_text(metrics)
    details = (
        f"FID {figure_text(metrics['fid'])}{reference}; precision {figure_text(metrics['precision'])}, "
        f"recall {figure_text(metrics['recall'])}, density {figure_text(metrics['density'])}, "
        f"coverage {figure_text(metrics['coverage'])}; "
        f"C2ST AUC {figure_text(auc)} ({'<=' if passed else '>'} {max_c2st_auc})"
    )
    return CheckResult("image_fidelity", passed, False, metrics,
                       {"max_c2st_auc": max_c2st_auc, "k": k}, details)


def _real_c2st_auc(train_features: np.ndarray, train_labels: np.ndarray, validation_features: np.ndarray,
                   validation_labels: np.ndarray, classes: np.ndarray, rng: np.random.Generator,
                   seed: int) -> Optional[float]:
    """The two-sample test between real validation images of ``classes`` and real train images drawn to their
    class shares; ``None`` when either side has too few images."""
    validation = np.isin(validation_labels, classes)
    if validation.sum() < 2:
        return None
    matched = class_matched_rows(train_labels, validation_labels[validation], rng)
    if len(matched) < 2:
        return None
    return c2st_auc(train_features[matched], validation_features[validation], seed)


def _real_reference_text(metrics: dict) -> str:
    parts = [f"FID {metrics['fid_train_vs_validation']:.3g}"] if "fid_train_vs_validation" in metrics else []
    if metrics.get("c2st_train_vs_validation") is not None:
        parts.append(f"C2ST AUC {metrics['c2st_train_vs_validation']:.3g}")
    return f"; real train vs validation: {', '.join(parts)}" if parts else ""


def class_matched_rows(real_labels: np.ndarray, fake_labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Rows of the real set, drawn without replacement, whose class shares equal those of ``fake_labels``:
    as many as the scarcest class (relative to its share) allows."""
    classes, fake_counts = np.unique(fake_labels, return_counts=True)
    real_counts = np.array([(real_labels == cls).sum() for cls in classes])
    shares = fake_counts / fake_counts.sum()
    total = np.min(real_counts / shares)
    wanted = np.minimum(np.floor(total * shares + 1e-9).astype(int), real_counts)
    rows = [rng.choice(np.flatnonzero(real_labels == cls), size=n, replace=False) for cls, n in zip(classes, wanted)]
    return np.sort(np.concatenate(rows)).astype(np.int64)


def _image_fidelity_metrics(real: np.ndarray, fake: np.ndarray, k: int, seed: int) -> dict:
    """Every fidelity figure for one pair of feature sets; ``None`` where there are too few rows."""
    metrics: dict = {"fid": frechet_distance(real, fake) if min(len(real), len(fake)) >= 2 else None}
    if min(len(real), len(fake)) > k:
        metrics.update(precision_recall_density_coverage(real, fake, k))
    else:
        metrics.update(precision=None, recall=None, density=None, coverage=None)
    metrics["c2st_auc"] = c2st_auc(real, fake, seed) if min(len(real), len(fake)) >= 2 else None
    return metrics


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets.

    ``tr(sqrt(S_a S_b))`` is taken as the sum of square roots of the eigenvalues of the symmetric PSD
    matrix ``sqrt(S_a) S_b sqrt(S_a)``: no complex parts, stable with rank-deficient covariances.
    """
    mean_a, mean_b = features_a.mean(axis=0), features_b.mean(axis=0)
    cov_a, cov_b = np.atleast_2d(np.cov(features_a, rowvar=False)), np.atleast_2d(np.cov(features_b, rowvar=False))
    sqrt_a = _psd_sqrt(cov_a)
    cross = np.linalg.eigvalsh(sqrt_a @ cov_b @ sqrt_a)
    trace_sqrt = np.sqrt(np.clip(cross, 0.0, None)).sum()
    distance = np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2.0 * trace_sqrt
    return float(max(distance, 0.0))


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2.0)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def precision_recall_density_coverage(real: np.ndarray, fake: np.ndarray, k: int = 5) -> dict[str, float]:
    """Precision, recall, density and coverage of Naeem et al. (2020) with ``k``-NN balls."""
    real_radii = kth_neighbour_distance(real, k)
    fake_radii = kth_neighbour_distance(fake, k)
    fake_to_real = pairwise_distances(fake, real)  # (n_fake, n_real)
    inside_real_ball = fake_to_real <= real_radii[None, :]
    inside_fake_ball = fake_to_real <= fake_radii[:, None]
    return {
        "precision": float(inside_real_ball.any(axis=1).mean()),
        "recall": float(inside_fake_ball.any(axis=0).mean()),
        "density": float(inside_real_ball.sum() / (k * len(fake))),
        "coverage": float((fake_to_real.min(axis=0) <= real_radii).mean()),
    }


def c2st_auc(real: np.ndarray, fake: np.ndarray, seed: int = 0, folds: int = 5) -> float:
    """Classifier two-sample test: cross-validated ROC AUC of a logistic regression telling fake from real."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    features = np.vstack([real, fake])
    is_fake = np.r_[np.zeros(len(real)), np.ones(len(fake))]
    n_splits = min(folds, len(real), len(fake))
    # C=0.1: firm regularisation converges fast and keeps the test from overfitting on a few hundred rows
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
    splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    scores = cross_val_predict(model, features, is_fake, cv=splitter, method="predict_proba")[:, 1]
    return float(roc_auc_score(is_fake, scores))


def _subsample(n: int, max_rows: int, rng: np.random.Generator) -> np.ndarray:
    return np.sort(rng.choice(n, size=max_rows, replace=False)) if n > max_rows else np.arange(n)
