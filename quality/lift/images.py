"""The image downstream-lift protocol: does adding synthetic images help a small CNN on real images?

Each method trains :func:`quality.image_features.train_classifier` once per seed on its own training set
(built from the real train split, never from evaluation images) and predicts the evaluation split:

- ``real_only``: the real train images;
- ``real+oversampling``: real images, minority classes randomly repeated up to the majority count;
- ``real+classic`` / ``real+classic+oversampling``: the same with the albumentations pipeline of
  :func:`classic_augmentation` applied on the fly every epoch;
- ``real+synthetic`` / ``real+synthetic+classic``: real plus synthetic images (skipped when there are none).

Lifts are paired bootstrap differences from :func:`quality.lift.build_lift_report` against ``real_only``
and against the best classic baseline (chosen by mean balanced accuracy on the same evaluation split).
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np

from gan_models.runtime import select_device
from quality.checks.image_features import predict_proba, train_classifier
from quality.lift.statistics import BOOTSTRAP_RESAMPLES, DEFAULT_LIFT_SEEDS, RunPrediction, build_lift_report
from quality.lift.report import REAL_ONLY, REAL_PLUS_SYNTHETIC, LiftReport

CLASSIFIER_NAME = "small_cnn"
Progress = Callable[[int, int], None]  # (CNNs trained, CNNs to train)
CNN_EPOCHS = 15  # epochs of the downstream CNN
CLASSIC_METHODS = ("real+oversampling", "real+classic", "real+classic+oversampling")
SYNTHETIC_METHODS = (REAL_PLUS_SYNTHETIC, "real+synthetic+classic")
METHODS = (REAL_ONLY, *CLASSIC_METHODS, *SYNTHETIC_METHODS)


def _albumentations():
    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")  # never let it check for updates online
    import albumentations

    return albumentations


def classic_augmentation(image_size: int, channels: int, seed: Optional[int] = None):
    """An albumentations ``Compose`` suited to small grayscale medical images (ultrasound, X-ray).

    Small affine jitter (shift of ~1/16 of the side in whole pixels, scale 0.9-1.1, rotation within 10
    degrees, reflected borders), horizontal flip, mild brightness/contrast and slight gaussian noise.
    No colour jitter for grayscale; RGB images get a small hue/saturation jitter. ``seed`` makes the
    pipeline's random draws repeatable.
    """
    import cv2

    A = _albumentations()
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    if image_size < 8:
        raise ValueError(f"image_size must be at least 8 px, got {image_size}")
    shift = max(1, image_size // 16)
    transforms = [
        A.Affine(translate_px=(-shift, shift), scale=(0.9, 1.1), rotate=(-10, 10),
                 border_mode=cv2.BORDER_REFLECT_101, p=0.7),
        A.HorizontalFlip(p=0.5),
        A.RandomBrightnessContrast(brightness_limit=0.1, contrast_limit=0.1, p=0.5),
        A.GaussNoise(std_range=(0.01, 0.03), per_channel=False, p=0.3),
    ]
    if channels == 3:
        transforms.append(A.HueSaturationValue(hue_shift_limit=5, sat_shift_limit=10, val_shift_limit=0, p=0.3))
    return A.Compose(transforms, seed=seed)


def classic_augmentation_spec(image_size: int, channels: int) -> dict[str, Any]:
    """The classic pipeline serialised by ``albumentations.to_dict``, for the data card."""
    return _albumentations().to_dict(classic_augmentation(image_size, channels))


def batch_augmenter(pipeline) -> Callable[[np.ndarray], np.ndarray]:
    """Apply an albumentations pipeline to each image of a uint8 ``(N, H, W, C)`` batch (fine for a few
    thousand small images per epoch)."""

    def augment(images: np.ndarray) -> np.ndarray:
        augmented = np.stack([pipeline(image=image)["image"] for image in images])
        return augmented.reshape(images.shape).astype(np.uint8, copy=False)

    return augment


def random_oversample_indices(labels: np.ndarray, seed: int) -> np.ndarray:
    """Row positions that repeat random rows of each smaller class until every class has the majority count."""
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    extra = [
        rng.choice(np.flatnonzero(labels == cls), size=counts.max() - count, replace=True)
        for cls, count in zip(classes, counts)
    ]
    return np.concatenate([np.arange(len(labels)), *extra]).astype(np.int64)


def image_lift_report(
    train_images: np.ndarray,
    train_labels: np.ndarray,
    synthetic_images: np.ndarray,
    synthetic_labels: np.ndarray,
    eval_images: np.ndarray,
    eval_labels: np.ndarray,
    seeds: Sequence[int] = DEFAULT_LIFT_SEEDS,
    epochs: int = CNN_EPOCHS,
    evaluated_on: str = "validation",
    n_boot: int = BOOTSTRAP_RESAMPLES,
    device: str = "auto",
    batch_size: int = 64,
    methods: Sequence[str] = METHODS,
    classic_reference: Optional[str] = None,
    n_jobs: int = 1,
) -> tuple[LiftReport, dict[str, Any]]:
    """Train the small CNN per seed and method, score on the evaluation split and estimate lifts.

    Returns the :class:`LiftReport` (references: ``real_only`` and a classic baseline) and a dict with that
    baseline (and the split it was chosen on), every classic baseline's mean balanced accuracy, the
    serialised albumentations pipeline, skipped methods with the reason, and wall times. The baseline is
    the one with the best mean balanced accuracy on this split, or ``classic_reference`` when given: the
    holdout report takes the baseline chosen on the validation split, so that it reports the comparison
    that decided publication and chooses nothing itself.
    ``methods`` may drop methods (``real_only`` and at least one classic baseline must stay).
    """
    return image_lift_reports(
        train_images, train_labels, synthetic_images, synthetic_labels, {evaluated_on: (eval_images, eval_labels)},
        seeds=seeds, epochs=epochs, n_boot=n_boot, device=device, batch_size=batch_size, methods=methods,
        classic_reference=classic_reference, n_jobs=n_jobs,
    )[evaluated_on]


def image_lift_reports(
    train_images: np.ndarray,
    train_labels: np.ndarray,
    synthetic_images: np.ndarray,
    synthetic_labels: np.ndarray,
    evaluations: Mapping[str, tuple[np.ndarray, np.ndarray]],
    seeds: Sequence[int] = DEFAULT_LIFT_SEEDS,
    epochs: int = CNN_EPOCHS,
    n_boot: int = BOOTSTRAP_RESAMPLES,
    device: str = "auto",
    batch_size: int = 64,
    methods: Sequence[str] = METHODS,
    classic_reference: Optional[str] = None,
    n_jobs: int = 1,
    progress: Optional[Progress] = None,
) -> dict[str, tuple[LiftReport, dict[str, Any]]]:
    """:func:`image_lift_report` for several evaluation splits (name -> ``(images, labels)``) at the cost of
    one: each CNN is trained once per method and seed (its training never sees an evaluation split) and
    predicts every split. The first split chooses the classic baseline (unless ``classic_reference`` is
    given); the later ones take its choice. Reports are those :func:`image_lift_report` gives split by split.
    ``n_jobs`` CNNs train side by side in worker processes (one on a GPU: they would share it);
    ``progress(done, total)`` is called as each finishes."""
    if not evaluations:
        raise ValueError("evaluations is empty; the lift needs at least one split of real evaluation images")
    train_labels, synthetic_labels = np.asarray(train_labels, np.int64), np.asarray(synthetic_labels, np.int64).reshape(-1)
    evaluations = {name: (images, np.asarray(labels, np.int64)) for name, (images, labels) in evaluations.items()}
    for images, labels in evaluations.values():
        n_classes = _validated_inputs(train_images, train_labels, synthetic_images, synthetic_labels,
                                      images, labels, methods)
    measured_classics = [m for m in CLASSIC_METHODS if m in methods]
    if classic_reference is not None and classic_reference not in measured_classics:
        raise ValueError(f"classic_reference {classic_reference!r} is not among the classic baselines measured "
                         f"here {measured_classics}")
    image_size, channels = min(train_images.shape[1:3]), train_images.shape[-1]
    skipped = {}
    if len(synthetic_images) == 0:
        skipped = {m: "no synthetic images" for m in SYNTHETIC_METHODS if m in methods}
    methods = [m for m in METHODS if m in methods and m not in skipped]
    counts = np.bincount(train_labels, minlength=n_classes)
    minority_class = int(np.argmin(counts))

    runs_by_split, wall_seconds, n_train_rows = _method_runs(
        methods, seeds, train_images, train_labels, synthetic_images, synthetic_labels,
        {name: images for name, (images, _) in evaluations.items()},
        dict(epochs=epochs, batch_size=batch_size, device=device, n_classes=n_classes),
        n_jobs=1 if select_device(device).type == "cuda" else n_jobs, progress=progress)
    reports = {}
    for evaluated_on, (_, eval_labels) in evaluations.items():
        runs = runs_by_split[evaluated_on]
        per_seed = _balanced_accuracy_per_seed(runs, eval_labels, methods)
        classic_scores = {method: float(np.mean(per_seed[method])) for method in measured_classics}
        best_classic, chosen_on, rule = _classic_reference(classic_scores, classic_reference, evaluated_on)
        report = build_lift_report(
            eval_labels, runs, classes=list(range(n_classes)), minority_class=minority_class,
            references=["real_only", best_classic], evaluated_on=evaluated_on, n_boot=n_boot,
        )
        reports[evaluated_on] = report, {
            "best_classic_baseline": best_classic,
            "best_classic_chosen_on": chosen_on,
            "best_classic_rule": rule,
            "classic_baseline_balanced_accuracy": classic_scores,
            "balanced_accuracy_per_seed": per_seed,
            "augmentation_pipeline": classic_augmentation_spec(image_size, channels),
            "methods": methods,
            "skipped_methods": skipped,
            "minority_class": minority_class,
            "classifier": CLASSIFIER_NAME,
            "epochs": int(epochs),
            "seeds": [int(s) for s in seeds],
            "n_train_rows": n_train_rows,
            "n_eval_rows": int(len(eval_labels)),
            "wall_seconds": wall_seconds,
        }
        classic_reference = best_classic  # the later splits report the comparison the first one chose
    return reports


def _method_runs(methods: Sequence[str], seeds: Sequence[int], train_images: np.ndarray, train_labels: np.ndarray,
                 synthetic_images: np.ndarray, synthetic_labels: np.ndarray, eval_sets: Mapping[str, np.ndarray],
                 training: dict[str, Any], n_jobs: int = 1, progress: Optional[Progress] = None,
                 ) -> tuple[dict[str, list[RunPrediction]], dict[str, float], dict[str, int]]:
    """One CNN per method and seed, trained on that method's images and predicting each of ``eval_sets``
    (by split name), ``n_jobs`` of them at a time in worker processes; with the seconds each method's CNNs
    took (training and every split's predictions, summed over seeds) and its training-set size. Runs are
    listed method by method, seed by seed, however many processes trained them."""
    from joblib import Parallel, delayed

    tasks = [(method, seed) for method in methods for seed in seeds]
    results = Parallel(n_jobs=n_jobs, return_as="generator")(
        delayed(_method_seed_run)(method, seed, train_images, train_labels, synthetic_images, synthetic_labels,
                                  eval_sets, training)
        for method, seed in tasks)
    runs: dict[str, list[RunPrediction]] = {name: [] for name in eval_sets}
    seconds: dict[str, float] = {method: 0.0 for method in methods}
    n_train_rows: dict[str, int] = {}
    for done, ((method, seed), (predictions, n_rows, elapsed)) in enumerate(zip(tasks, results), start=1):
        for name, proba in predictions.items():
            runs[name].append(RunPrediction(method, CLASSIFIER_NAME, int(seed), proba.argmax(axis=1), proba))
        n_train_rows[method] = n_rows
        seconds[method] += elapsed
        if progress is not None:
            progress(done, len(tasks))
    return runs, seconds, n_train_rows


def _method_seed_run(method: str, seed: int, train_images: np.ndarray, train_labels: np.ndarray,
                     synthetic_images: np.ndarray, synthetic_labels: np.ndarray, eval_sets: Mapping[str, np.ndarray],
                     training: dict[str, Any]) -> tuple[dict[str, np.ndarray], int, float]:
    """One method's CNN for one seed: its probabilities on each evaluation split, its training-set size and
    the seconds it took."""
    started = time.perf_counter()
    image_size, channels = min(train_images.shape[1:3]), train_images.shape[-1]
    images, labels = _training_set(method, seed, train_images, train_labels, synthetic_images, synthetic_labels)
    augment = batch_augmenter(classic_augmentation(image_size, channels, seed=seed)) if "classic" in method else None
    model = train_classifier(images, labels, seed=seed, augment=augment, **training)
    predictions = {name: predict_proba(model, eval_images) for name, eval_images in eval_sets.items()}
    return predictions, int(len(labels)), time.perf_counter() - started


def _balanced_accuracy_per_seed(runs: Sequence[RunPrediction], eval_labels: np.ndarray,
                                methods: Sequence[str]) -> dict[str, list[float]]:
    from sklearn.metrics import balanced_accuracy_score

    return {method: [balanced_accuracy_score(eval_labels, run.y_pred) for run in runs if run.method == method]
            for method in methods}


def _classic_reference(classic_scores: dict[str, float], classic_reference: Optional[str],
                       evaluated_on: str) -> tuple[str, str, str]:
    """The classic baseline to report against, the split it was chosen on, and the rule that chose it."""
    if classic_reference is None:
        return (max(classic_scores, key=classic_scores.get), evaluated_on,
                f"highest mean balanced accuracy over seeds on the {evaluated_on} split")
    return classic_reference, "another split", "given by the caller, chosen on another split"


def _training_set(
    method: str,
    seed: int,
    train_images: np.ndarray,
    train_labels: np.ndarray,
    synthetic_images: np.ndarray,
    synthetic_labels: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The images and labels one method trains on (augmentation is applied later, per epoch)."""
    if "synthetic" in method:
        return (np.concatenate([train_images, synthetic_images]),
                np.concatenate([train_labels, synthetic_labels]))
    if "oversampling" in method:
        rows = random_oversample_indices(train_labels, seed)
        return train_images[rows], train_labels[rows]
    return train_images, train_labels


def _validated_inputs(
    train_images: np.ndarray,
    train_labels: np.ndarray,
    synthetic_images: np.ndarray,
    synthetic_labels: np.ndarray,
    eval_images: np.ndarray,
    eval_labels: np.ndarray,
    methods: Sequence[str],
) -> int:
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown method(s) {unknown}; choose from {list(METHODS)}")
    if "real_only" not in methods or not any(m in methods for m in CLASSIC_METHODS):
        raise ValueError(f"methods must include 'real_only' and at least one of {list(CLASSIC_METHODS)}")
    pairs = {"train": (train_images, train_labels), "synthetic": (synthetic_images, synthetic_labels),
             "eval": (eval_images, eval_labels)}
    for name, (images, labels) in pairs.items():
        if len(images) != len(labels):
            raise ValueError(f"{name}_images has {len(images)} images but {name}_labels has {len(labels)} labels")
        if len(images) and tuple(images.shape[1:]) != tuple(train_images.shape[1:]):
            raise ValueError(f"{name}_images have shape {images.shape}; expected (N, *{train_images.shape[1:]})")
    if len(eval_images) == 0:
        raise ValueError("eval_images is empty; the lift needs real evaluation images")
    n_classes = int(train_labels.max()) + 1
    if np.unique(train_labels).size < 2:
        raise ValueError("train_labels hold a single class; the lift needs at least two classes")
    for name, labels in (("synthetic_labels", synthetic_labels), ("eval_labels", eval_labels)):
        outside = np.unique(labels[(labels < 0) | (labels >= n_classes)])
        if outside.size:
            raise ValueError(f"{name} contain class(es) {outside.tolist()} not among the train classes 0..{n_classes - 1}")
    return n_classes
