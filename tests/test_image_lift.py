import os

import numpy as np
import pytest

import quality.lift.images as image_lift
from quality.checks.image_features import predict_proba, train_classifier
from quality.data.images import load_digits_builtin, split_images
from quality.lift.images import (
    CLASSIC_METHODS,
    METHODS,
    batch_augmenter,
    classic_augmentation,
    classic_augmentation_spec,
    image_lift_report,
    random_oversample_indices,
)

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")


@pytest.fixture(scope="module")
def small_task():
    """Digits 0-2 at 8 px with digit 2 made scarce; evaluation images share no pixels-exact twin with train."""
    dataset = load_digits_builtin(size=8)
    keep = dataset.labels < 3
    dataset.images, dataset.labels, dataset.class_names = dataset.images[keep], dataset.labels[keep], ["0", "1", "2"]
    split = split_images(dataset, seed=0, train_caps={2: 12})
    train_keys = {image.tobytes() for image in split.train_images}
    unseen = np.array([image.tobytes() not in train_keys for image in split.holdout_images])
    return split, split.holdout_images[unseen], split.holdout_labels[unseen]


def stand_in_synthetic(split):
    """Horizontally flipped minority train images play the GAN's part."""
    minority = split.train_images[split.train_labels == 2]
    return minority[:, :, ::-1].copy(), np.full(len(minority), 2, dtype=np.int64)


def test_lift_runs_end_to_end_and_no_classifier_sees_an_evaluation_image(small_task, monkeypatch):
    split, eval_images, eval_labels = small_task
    synthetic_images, synthetic_labels = stand_in_synthetic(split)
    calls = []

    def recording_train_classifier(images, labels, **kwargs):
        calls.append((images.copy(), labels.copy(), kwargs["augment"]))
        return train_classifier(images, labels, **kwargs)

    monkeypatch.setattr(image_lift, "train_classifier", recording_train_classifier)
    report, extra = image_lift_report(
        split.train_images, split.train_labels, synthetic_images, synthetic_labels, eval_images, eval_labels,
        seeds=(0, 1), epochs=2, evaluated_on="holdout", n_boot=200, device="cpu",
    )

    eval_keys = {image.tobytes() for image in eval_images}
    assert len(calls) == len(METHODS) * 2
    for images, _, _ in calls:
        assert not eval_keys & {image.tobytes() for image in images}
    augmented = [augment is not None for _, _, augment in calls]
    assert augmented == [("classic" in method) for method in METHODS for _ in (0, 1)]
    for images, labels, _ in calls[2:4]:  # real+oversampling: every class raised to the majority count
        assert len(set(np.bincount(labels).tolist())) == 1

    assert set(report.scores) == set(METHODS)
    assert report.evaluated_on == "holdout" and report.n_eval_rows == len(eval_labels) and report.seeds == [0, 1]
    best = extra["best_classic_baseline"]
    assert best in CLASSIC_METHODS and extra["best_classic_chosen_on"] == "holdout"
    scores = extra["classic_baseline_balanced_accuracy"]
    assert scores[best] == max(scores.values())
    assert scores[best] == pytest.approx(report.scores[best]["balanced_accuracy"])
    lift = report.lift("real+synthetic", best, "balanced_accuracy")
    assert lift.ci_low <= lift.mean <= lift.ci_high
    assert report.lift("real+synthetic+classic", "real_only", "minority_recall") is not None
    assert extra["minority_class"] == 2 and extra["skipped_methods"] == {}
    assert extra["n_train_rows"]["real+synthetic"] == len(split.train_labels) + len(synthetic_labels)
    assert extra["augmentation_pipeline"]["transform"]["__class_fullname__"] == "Compose"


def test_a_classic_reference_chosen_elsewhere_is_the_one_reported(small_task):
    split, eval_images, eval_labels = small_task
    synthetic_images, synthetic_labels = stand_in_synthetic(split)
    args = (split.train_images, split.train_labels, synthetic_images, synthetic_labels, eval_images, eval_labels)
    methods = ("real_only", "real+oversampling", "real+classic", "real+synthetic")
    with pytest.raises(ValueError, match=r"'real\+classic\+oversampling' is not among the classic baselines"):
        image_lift_report(*args, methods=methods, classic_reference="real+classic+oversampling")
    for reference in ("real+oversampling", "real+classic"):
        report, extra = image_lift_report(*args, seeds=(0,), epochs=1, n_boot=50, device="cpu", methods=methods,
                                          evaluated_on="holdout", classic_reference=reference)
        assert extra["best_classic_baseline"] == reference and extra["best_classic_chosen_on"] == "another split"
        assert report.lift("real+synthetic", reference, "balanced_accuracy") is not None


def test_empty_synthetic_set_skips_the_synthetic_methods(small_task):
    split, eval_images, eval_labels = small_task
    report, extra = image_lift_report(
        split.train_images, split.train_labels, split.train_images[:0], np.zeros(0, np.int64),
        eval_images, eval_labels, seeds=(0,), epochs=1, n_boot=50, device="cpu",
        methods=("real_only", "real+oversampling", "real+synthetic", "real+synthetic+classic"),
    )
    assert set(report.scores) == {"real_only", "real+oversampling"}
    assert extra["skipped_methods"] == {"real+synthetic": "no synthetic images",
                                        "real+synthetic+classic": "no synthetic images"}
    assert extra["best_classic_baseline"] == "real+oversampling"
    assert report.evaluated_on == "validation"


def test_seeded_training_with_classic_augmentation_repeats_exactly(small_task):
    split, eval_images, _ = small_task

    def trained(seed):
        augment = batch_augmenter(classic_augmentation(8, 1, seed=seed))
        model = train_classifier(split.train_images, split.train_labels, seed=seed, epochs=2, augment=augment,
                                 device="cpu")
        return predict_proba(model, eval_images)

    first = trained(0)
    assert np.array_equal(first, trained(0))
    assert not np.allclose(first, trained(1))
    assert first.shape == (len(eval_images), 3) and np.allclose(first.sum(axis=1), 1.0)


def test_classic_augmentation_changes_images_but_keeps_shape_and_serialises():
    import albumentations

    images = np.random.default_rng(0).integers(0, 256, size=(20, 28, 28, 1), dtype=np.uint8)
    augmented = batch_augmenter(classic_augmentation(28, 1, seed=0))(images)
    assert augmented.shape == images.shape and augmented.dtype == np.uint8
    assert (augmented != images).any(axis=(1, 2, 3)).mean() > 0.5

    gray = classic_augmentation_spec(28, 1)
    names = [t["__class_fullname__"] for t in gray["transform"]["transforms"]]
    assert names == ["Affine", "HorizontalFlip", "RandomBrightnessContrast", "GaussNoise"]
    colour = [t["__class_fullname__"] for t in classic_augmentation_spec(28, 3)["transform"]["transforms"]]
    assert "HueSaturationValue" in colour
    rebuilt = albumentations.from_dict(gray)
    assert albumentations.to_dict(rebuilt) == gray


def test_random_oversampling_balances_every_class_and_keeps_every_row():
    labels = np.array([0] * 10 + [1] * 3 + [2] * 6)
    rows = random_oversample_indices(labels, seed=0)
    assert np.bincount(labels[rows]).tolist() == [10, 10, 10]
    assert set(range(len(labels))) <= set(rows.tolist())
    assert np.array_equal(rows, random_oversample_indices(labels, seed=0))


def test_lift_inputs_are_checked(small_task):
    split, eval_images, eval_labels = small_task
    args = (split.train_images, split.train_labels, split.train_images[:0], np.zeros(0, np.int64))
    with pytest.raises(ValueError, match=r"eval_labels contain class\(es\) \[7\]"):
        image_lift_report(*args, eval_images, np.full(len(eval_labels), 7), seeds=(0,), epochs=1)
    with pytest.raises(ValueError, match="eval_images have shape"):
        image_lift_report(*args, eval_images[:, :4], eval_labels, seeds=(0,), epochs=1)
    with pytest.raises(ValueError, match="unknown method"):
        image_lift_report(*args, eval_images, eval_labels, methods=("real_only", "real+smote"))


def test_several_splits_share_one_training_and_match_split_by_split_reports(small_task, monkeypatch):
    from quality.lift.images import image_lift_reports

    split, eval_images, eval_labels = small_task
    synthetic_images, synthetic_labels = stand_in_synthetic(split)
    methods = ("real_only", "real+oversampling", "real+classic", "real+synthetic")
    common = dict(seeds=(0,), epochs=1, n_boot=50, device="cpu", methods=methods)
    args = (split.train_images, split.train_labels, synthetic_images, synthetic_labels)
    fits = []

    def counting_train_classifier(images, labels, **kwargs):
        fits.append(len(labels))
        return train_classifier(images, labels, **kwargs)

    monkeypatch.setattr(image_lift, "train_classifier", counting_train_classifier)
    both = image_lift_reports(*args, {"validation": (split.validation_images, split.validation_labels),
                                      "holdout": (eval_images, eval_labels)}, **common)
    assert len(fits) == len(methods)  # one CNN per method and seed, whatever the number of splits
    validation = image_lift_report(*args, split.validation_images, split.validation_labels, **common)
    chosen = validation[1]["best_classic_baseline"]
    holdout = image_lift_report(*args, eval_images, eval_labels, evaluated_on="holdout",
                                classic_reference=chosen, **common)
    for name, alone in (("validation", validation), ("holdout", holdout)):
        report, extra = both[name]
        assert report.to_dict() == alone[0].to_dict()
        assert extra["balanced_accuracy_per_seed"] == alone[1]["balanced_accuracy_per_seed"]
    assert both["holdout"][1]["best_classic_baseline"] == chosen
    assert both["holdout"][1]["best_classic_chosen_on"] == "another split"


def test_cnns_trained_in_two_processes_are_listed_in_order_and_repeat_exactly(small_task):
    from quality.lift.images import image_lift_reports

    split, eval_images, eval_labels = small_task
    synthetic_images, synthetic_labels = stand_in_synthetic(split)
    methods = ("real_only", "real+classic", "real+synthetic")
    seen = []
    common = dict(seeds=(0, 1), epochs=1, n_boot=50, device="cpu", methods=methods, n_jobs=2)
    args = (split.train_images, split.train_labels, synthetic_images, synthetic_labels,
            {"holdout": (eval_images, eval_labels)})
    report, extra = image_lift_reports(*args, progress=lambda done, total: seen.append((done, total)),
                                       **common)["holdout"]
    assert seen == [(done, 6) for done in range(1, 7)]
    assert extra["methods"] == list(methods) and set(extra["wall_seconds"]) == set(methods)
    assert all(seconds > 0 for seconds in extra["wall_seconds"].values())
    again, _ = image_lift_reports(*args, **common)["holdout"]
    assert again.to_dict() == report.to_dict()
    assert {method: len(scores) for method, scores in extra["balanced_accuracy_per_seed"].items()} == {
        method: 2 for method in methods}
