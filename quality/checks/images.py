"""Quality checks of synthetic images: validity, fidelity, diversity and privacy.

Feature-space checks use a :class:`quality.image_features.FeatureExtractor` trained on the real train split
only. Every check returns a :class:`quality.results.CheckResult`; ``blocking`` ones guard publication.
Distances are computed in chunks with NumPy, never per image in Python.
"""

from __future__ import annotations

from typing import Mapping, Optional

import numpy as np

from quality.checks.privacy_baseline import class_mix_weights, close_fraction_allowance, weighted_quantile
from quality.checks.image_features import FeatureExtractor
from quality.checks.result import CheckResult

DISTANCE_CHUNK_ROWS = 1024


# --------------------------------------------------------------------------------------------- validity


def image_validity_check(
    train_images: np.ndarray,
    synthetic_images: np.ndarray,
    synthetic_labels: np.ndarray,
    n_classes: int,
    expected_counts: Optional[Mapping[int, int]] = None,
) -> CheckResult:
    """Blocking: shape ``(H, W, C)`` equal to train's, uint8 in 0..255, no NaN, no constant image, not all
    images identical, labels one per image within ``0..n_classes-1``.

    ``expected_counts`` (class -> number requested) additionally fails when a class that was asked for
    comes back empty or with a different count.
    """
    images = np.asarray(synthetic_images)
    labels = np.asarray(synthetic_labels)
    expected_shape = tuple(np.shape(train_images)[1:])
    problems: list[str] = []
    metrics: dict = {"n_images": int(len(images)) if images.ndim else 0, "shape": list(images.shape),
                     "dtype": str(images.dtype)}

    if tuple(images.shape[1:]) != expected_shape or images.ndim != 4:
        problems.append(f"images have shape {images.shape}, expected (N, {', '.join(map(str, expected_shape))})")
    problems += _pixel_problems(images, metrics)
    problems += _label_problems(labels, len(images) if images.ndim else 0, n_classes, expected_counts, metrics)
    passed = not problems
    return CheckResult(
        name="image_validity",
        passed=passed,
        blocking=True,
        metrics=metrics,
        threshold={"shape": list(expected_shape), "dtype": "uint8", "range": [0, 255], "n_classes": int(n_classes)},
        details="synthetic images are valid" if passed else "invalid synthetic images: " + "; ".join(problems),
    )


def _pixel_problems(images: np.ndarray, metrics: dict) -> list[str]:
    """dtype, NaN, range, constant images and all-identical images; figures go into ``metrics``."""
    if images.dtype != np.uint8 and (images.dtype == bool or not np.issubdtype(images.dtype, np.number)):
        return [f"images have non-numeric dtype {images.dtype}, expected uint8"]
    problems = [] if images.dtype == np.uint8 else [f"images have dtype {images.dtype}, expected uint8"]
    if not images.size or images.ndim == 0:
        return problems
    values = images.astype(np.float64, copy=False)
    n_nan = int(np.isnan(values).sum())
    finite = values[np.isfinite(values)]
    n_out = int(((finite < 0) | (finite > 255)).sum())
    metrics.update(n_nan_values=n_nan, n_out_of_range_values=n_out)
    if n_nan:
        return problems + [f"{n_nan} NaN pixel value(s)"]
    if n_out:
        problems.append(f"{n_out} pixel value(s) outside 0..255")
    flat = values.reshape(len(images), -1)
    n_constant = int((flat.std(axis=1) == 0).sum())
    metrics["n_constant_images"] = n_constant
    if n_constant:
        problems.append(f"{n_constant} constant image(s) (every pixel the same value)")
    if len(images) > 1 and bool((flat == flat[:1]).all()):
        problems.append(f"all {len(images)} images are identical")
    return problems


def _label_problems(
    labels: np.ndarray, n_images: int, n_classes: int, expected_counts: Optional[Mapping[int, int]], metrics: dict
) -> list[str]:
    if labels.shape != (n_images,):
        return [f"labels have shape {labels.shape}, expected ({n_images},), one per image"]
    if n_images and not np.issubdtype(labels.dtype, np.integer):
        return [f"labels have dtype {labels.dtype}, expected integer class indices"]
    problems = []
    outside = np.unique(labels[(labels < 0) | (labels >= n_classes)])
    if outside.size:
        problems.append(f"label(s) {outside.tolist()} outside the class set 0..{n_classes - 1}")
    counts = np.bincount(labels[(labels >= 0) & (labels < n_classes)].astype(np.int64), minlength=n_classes)
    metrics["per_class_counts"] = {str(cls): int(n) for cls, n in enumerate(counts)}
    for cls, wanted in (expected_counts or {}).items():
        got = int(counts[int(cls)]) if 0 <= int(cls) < n_classes else 0
        if int(wanted) > 0 and got == 0:
            problems.append(f"class {cls} was requested {wanted} image(s) but has none")
        elif got != int(wanted):
            problems.append(f"class {cls} has {got} image(s) but {wanted} were requested")
    return problems


# --------------------------------------------------------------------------------------------- fidelity


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
) -> CheckResult:
    """Reported, not blocking: how close synthetic images lie to real train images in feature space.

    Metrics overall and per class: Fréchet distance (FID in the small CNN's feature space), precision,
    recall, density and coverage (Naeem et al. 2020, ``k`` neighbours) and a classifier two-sample test
    AUC (cross-validated logistic regression on features; 0.5 = indistinguishable). The overall figures
    compare with real train images drawn to the synthetic set's class shares (synthetic sets usually hold
    minority classes only, and a class-mix difference must not read as low fidelity). With
    ``validation_images``, ``fid_train_vs_validation`` gives the real-vs-real reference point (FID is biased
    upwards on small samples, so compare figures of similar sample sizes). ``passed`` is ``c2st_auc <=
    max_c2st_auc``. At most ``max_rows`` images per side are used (random, seeded).
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
    metrics.update(_fidelity_metrics(real_features[matched], fake_features, k, seed))
    per_class = {}
    for cls in np.unique(fake_labels).tolist():
        per_class[str(cls)] = _fidelity_metrics(
            real_features[real_labels == cls], fake_features[fake_labels == cls], k, seed
        )
    metrics["per_class"] = per_class
    if validation_images is not None and len(validation_images) > 1:
        validation_features = extractor.embed(validation_images[_subsample(len(validation_images), max_rows, rng)])
        metrics["fid_train_vs_validation"] = frechet_distance(real_features, validation_features)

    auc = metrics["c2st_auc"]
    passed = auc is None or auc <= max_c2st_auc
    reference = (f"; real train vs validation FID {metrics['fid_train_vs_validation']:.3g}"
                 if "fid_train_vs_validation" in metrics else "")
    details = (
        f"FID {_fmt(metrics['fid'])}{reference}; precision {_fmt(metrics['precision'])}, recall "
        f"{_fmt(metrics['recall'])}, density {_fmt(metrics['density'])}, coverage {_fmt(metrics['coverage'])}; "
        f"C2ST AUC {_fmt(auc)} ({'<=' if passed else '>'} {max_c2st_auc})"
    )
    return CheckResult("image_fidelity", passed, False, metrics,
                       {"max_c2st_auc": max_c2st_auc, "k": k}, details)


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


def _fidelity_metrics(real: np.ndarray, fake: np.ndarray, k: int, seed: int) -> dict:
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


# --------------------------------------------------------------------------------------------- diversity


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

    real_nn = [
        nearest_distances(real_features[train_labels == cls], exclude_self=True)
        for cls in np.unique(train_labels) if (train_labels == cls).sum() > 1
    ]
    if not real_nn:
        raise ValueError("train_labels give no class at least two train images; the duplicate threshold needs them")
    real_nn = np.concatenate(real_nn)
    duplicate_distance = float(max(np.quantile(real_nn, duplicate_quantile), 0.1 * np.median(real_nn)))

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
                entry["spread_ratio"] = _spread(fake_features[fake_rows]) / max(_spread(real_class), 1e-12)
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
        f"near-duplicate rate {rate:.1%}, lowest spread ratio {_fmt(metrics['min_spread_ratio'])}"
    )
    return CheckResult("image_diversity", passed, True, metrics, thresholds, details)


def _spread(features: np.ndarray) -> float:
    """Root of the total variance: the typical distance of a feature vector from the class mean."""
    return float(np.sqrt(features.var(axis=0, ddof=1).sum()))


def _has_identical_twin(images: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """True for each image that another image of the same label repeats pixel for pixel."""
    rows = np.column_stack([labels.astype(np.int64).view(np.uint8).reshape(len(labels), -1),
                            images.reshape(len(images), -1)])
    _, inverse, counts = np.unique(rows, axis=0, return_inverse=True, return_counts=True)
    return counts[inverse.ravel()] > 1


# --------------------------------------------------------------------------------------------- privacy


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
    quantile: :func:`quality.baselines.close_fraction_allowance`), or when any synthetic image is pixel-identical
    to a train image.
    """
    thresholds = {"quantile": quantile, "max_close_fraction": max_close_fraction, "max_exact_copies": 0}
    if len(validation_images) == 0:
        raise ValueError("validation_images is empty; the privacy baseline needs real images unseen in training")
    if len(synthetic_images) == 0:
        return CheckResult("image_privacy", True, True, {"n_synthetic": 0}, thresholds,
                           "no synthetic images to assess")
    exact_copies = int(_copies_of(synthetic_images, train_images).sum())
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


def _copies_of(images: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """True for each image that is pixel-identical to some reference image (rows compared, vectorised)."""
    rows = np.concatenate([images.reshape(len(images), -1), reference.reshape(len(reference), -1)])
    _, inverse = np.unique(rows, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    return np.isin(inverse[: len(images)], inverse[len(images):])


# --------------------------------------------------------------------------------------------- distances


def pairwise_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances ``(len(a), len(b))``."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    squared = (a * a).sum(axis=1)[:, None] + (b * b).sum(axis=1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.clip(squared, 0.0, None))


def nearest_distances(
    queries: np.ndarray, reference: Optional[np.ndarray] = None, exclude_self: bool = False
) -> np.ndarray:
    """Distance from each query row to its nearest reference row (``reference`` defaults to ``queries``;
    ``exclude_self`` skips the row itself), in chunks so memory stays flat."""
    reference = queries if reference is None else reference
    nearest = []
    for start in range(0, len(queries), DISTANCE_CHUNK_ROWS):
        distances = pairwise_distances(queries[start:start + DISTANCE_CHUNK_ROWS], reference)
        if exclude_self:
            rows = np.arange(distances.shape[0])
            distances[rows, start + rows] = np.inf
        nearest.append(distances.min(axis=1))
    return np.concatenate(nearest) if nearest else np.zeros(0)


def kth_neighbour_distance(features: np.ndarray, k: int) -> np.ndarray:
    """Distance from each row to its ``k``-th nearest other row."""
    distances = pairwise_distances(features, features)
    np.fill_diagonal(distances, np.inf)
    return np.partition(distances, k - 1, axis=1)[:, k - 1]


def _subsample(n: int, max_rows: int, rng: np.random.Generator) -> np.ndarray:
    return np.sort(rng.choice(n, size=max_rows, replace=False)) if n > max_rows else np.arange(n)


def _fmt(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{value:.3g}"
