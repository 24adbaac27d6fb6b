import re

import numpy as np
import pytest
import scipy.linalg

import quality.checks.image_features as image_features
from quality.checks.diversity import image_diversity_check
from quality.checks.fidelity import frechet_distance, image_fidelity_check, precision_recall_density_coverage
from quality.checks.privacy import image_privacy_check
from quality.checks.validity import image_validity_check
from quality.checks.image_features import FeatureExtractor, train_feature_extractor
from quality.data.images import load_medmnist_npz, split_images


def noise_images(n: int, shape, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, *shape), dtype=np.uint8)


# ------------------------------------------------------------------------------------------ feature extractor


def test_feature_extractor_is_seeded_and_round_trips_through_files(digits_split, extractor, tmp_path):
    images = digits_split.validation_images[:50]
    few_images, few_labels = digits_split.train_images[:300], digits_split.train_labels[:300]
    first = train_feature_extractor(few_images, few_labels, seed=0, epochs=1, n_classes=10)
    again = train_feature_extractor(few_images, few_labels, seed=0, epochs=1, n_classes=10)
    other_seed = train_feature_extractor(few_images, few_labels, seed=1, epochs=1, n_classes=10)
    assert np.array_equal(again.embed(images), first.embed(images))
    assert not np.allclose(other_seed.embed(images), first.embed(images))

    extractor.save(tmp_path)
    # Loaded on the device it was trained on: on CUDA, embeddings run under bf16 autocast, so a copy
    # loaded on the CPU agrees only to bf16 precision.
    loaded = FeatureExtractor.load(tmp_path, device=str(next(extractor.model.parameters()).device))
    assert np.allclose(loaded.embed(images), extractor.embed(images), atol=1e-6)
    on_cpu = FeatureExtractor.load(tmp_path, device="cpu")  # exact on a CPU machine; bf16-close after CUDA
    assert np.allclose(on_cpu.embed(images), extractor.embed(images), rtol=2e-2, atol=2e-2)
    assert extractor.embed(images).shape == (50, extractor.config["feature_dim"])
    with pytest.raises(ValueError, match=r"shape \(N, 8, 8, 1\)"):
        extractor.embed(noise_images(3, (12, 12, 1)))


# ------------------------------------------------------------------------------------------ validity


def test_validity_passes_real_looking_images(digits_split):
    result = image_validity_check(digits_split.train_images, digits_split.validation_images,
                                  digits_split.validation_labels, n_classes=10)
    assert result.passed and result.blocking, result.details


@pytest.mark.parametrize(
    "make_images, make_labels, message",
    [
        (lambda imgs: imgs[:, :4], lambda lbls: lbls, "shape"),
        (lambda imgs: imgs.astype(np.float32), lambda lbls: lbls, "dtype float32"),
        (lambda imgs: np.where(np.arange(len(imgs))[:, None, None, None] == 0, np.nan, imgs.astype(float)),
         lambda lbls: lbls, "NaN"),
        (lambda imgs: imgs.astype(np.int16) + 200, lambda lbls: lbls, "outside 0..255"),
        (lambda imgs: np.concatenate([imgs[:-1], np.full_like(imgs[:1], 7)]), lambda lbls: lbls, "1 constant image"),
        (lambda imgs: np.repeat(imgs[:1], len(imgs), axis=0), lambda lbls: lbls, "are identical"),
        (lambda imgs: imgs, lambda lbls: np.where(np.arange(len(lbls)) == 0, 12, lbls), r"label\(s\) \[12\]"),
        (lambda imgs: imgs, lambda lbls: lbls[:-1], "one per image"),
    ],
    ids=["shape", "dtype", "nan", "range", "constant", "identical", "labels_outside", "label_count"],
)
def test_validity_names_each_problem(digits_split, make_images, make_labels, message):
    images, labels = digits_split.validation_images[:20], digits_split.validation_labels[:20]
    result = image_validity_check(digits_split.train_images, make_images(images), make_labels(labels), n_classes=10)
    assert not result.passed
    assert re.search(message, result.details), result.details


def test_validity_fails_when_a_requested_class_comes_back_empty(digits_split):
    images, labels = digits_split.validation_images, digits_split.validation_labels
    keep = labels != 3
    result = image_validity_check(digits_split.train_images, images[keep], labels[keep], n_classes=10,
                                  expected_counts={3: 5})
    assert not result.passed and "class 3 was requested 5" in result.details


# ------------------------------------------------------------------------------------------ fidelity


def test_frechet_distance_matches_the_scipy_sqrtm_formula():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(300, 6))
    b = rng.normal(size=(200, 6)) @ rng.normal(size=(6, 6)) + 0.5
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    expected = (np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(cov_a) + np.trace(cov_b)
                - 2 * np.trace(scipy.linalg.sqrtm(cov_a @ cov_b).real))
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)


def test_precision_recall_density_coverage_of_a_set_with_itself_and_a_distant_set():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(200, 4))
    same = precision_recall_density_coverage(real, real, k=5)
    assert same["precision"] == same["recall"] == same["coverage"] == 1.0
    far = precision_recall_density_coverage(real, real + 100.0, k=5)
    assert far == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_fidelity_separates_same_distribution_from_noise(digits_split, extractor):
    # three classes of "synthetic" images keep the per-class two-sample tests few (they dominate the cost)
    three = digits_split.holdout_labels < 3
    real_like = image_fidelity_check(
        extractor, digits_split.train_images, digits_split.train_labels, digits_split.holdout_images[three],
        digits_split.holdout_labels[three], validation_images=digits_split.validation_images,
        validation_labels=digits_split.validation_labels,
    )
    noise = noise_images(150, digits_split.train_images.shape[1:])
    # validation images of none of the synthetic classes: no real-vs-real two-sample test to compare with
    noisy = image_fidelity_check(extractor, digits_split.train_images, digits_split.train_labels,
                                 noise, np.arange(150) % 3, validation_images=digits_split.validation_images[:10],
                                 validation_labels=np.full(10, 9))
    assert not real_like.blocking
    assert real_like.passed and not noisy.passed
    assert real_like.metrics["fid"] < 0.2 * noisy.metrics["fid"]
    assert real_like.metrics["fid"] < 3 * real_like.metrics["fid_train_vs_validation"]
    assert real_like.metrics["c2st_auc"] < 0.7 and noisy.metrics["c2st_auc"] > 0.95
    # real train against real validation images of the same classes: the feature space does not tell them apart
    assert real_like.metrics["c2st_train_vs_validation"] < 0.7
    reference = real_like.details.split("real train vs validation:")[1]
    assert reference.startswith(" FID") and "C2ST AUC" in reference
    assert noisy.metrics["c2st_train_vs_validation"] is None and "validation: FID" in noisy.details
    assert "C2ST" not in noisy.details.split("validation:")[1].split(";")[0]
    assert real_like.metrics["precision"] > 0.8 and noisy.metrics["precision"] < 0.1
    assert set(real_like.metrics["per_class"]) == {"0", "1", "2"}
    assert real_like.metrics["per_class"]["2"]["c2st_auc"] < 0.8 < noisy.metrics["per_class"]["2"]["c2st_auc"]


# ------------------------------------------------------------------------------------------ diversity


def test_diversity_passes_real_images_and_fails_mode_collapse(digits_split, extractor):
    real_like = image_diversity_check(extractor, digits_split.train_images, digits_split.train_labels,
                                      digits_split.holdout_images, digits_split.holdout_labels)
    assert real_like.passed and real_like.blocking, real_like.details

    rng = np.random.default_rng(0)
    # collapsed generator: every synthetic "7" is the same train image with +-2 grey levels of noise
    seven = digits_split.train_images[digits_split.train_labels == 7][0].astype(int)
    collapsed = np.clip(seven + rng.integers(-2, 3, size=(60, *seven.shape)), 0, 255).astype(np.uint8)
    others = digits_split.holdout_labels != 7
    images = np.concatenate([digits_split.holdout_images[others], collapsed])
    labels = np.concatenate([digits_split.holdout_labels[others], np.full(60, 7)])
    result = image_diversity_check(extractor, digits_split.train_images, digits_split.train_labels, images, labels)
    assert not result.passed
    assert result.metrics["per_class"]["7"]["near_duplicate_rate"] > 0.5
    assert result.metrics["per_class"]["7"]["spread_ratio"] < 0.5 and "mode collapse" in result.details

    twins = np.repeat(digits_split.holdout_images[:10], 2, axis=0)
    exact = image_diversity_check(extractor, digits_split.train_images, digits_split.train_labels,
                                  twins, np.repeat(digits_split.holdout_labels[:10], 2))
    assert exact.metrics["n_pixel_identical"] == 20 and not exact.passed


# ------------------------------------------------------------------------------------------ privacy


def test_privacy_passes_unseen_real_images_and_fails_copies(digits_split, extractor):
    split = digits_split
    labels = {"validation_labels": split.validation_labels}
    unseen = image_privacy_check(extractor, split.train_images, split.validation_images, split.holdout_images,
                                 synthetic_labels=split.holdout_labels, **labels)
    assert unseen.passed and unseen.blocking, unseen.details
    assert unseen.metrics["exact_copies"] == 0

    copies = image_privacy_check(extractor, split.train_images, split.validation_images, split.train_images[:50],
                                 synthetic_labels=split.train_labels[:50], **labels)
    assert not copies.passed and copies.metrics["exact_copies"] == 50

    rng = np.random.default_rng(0)
    jittered = np.clip(split.train_images[:50].astype(int) + rng.choice([-1, 1], size=(50, 8, 8, 1)), 0, 255)
    near = image_privacy_check(extractor, split.train_images, split.validation_images, jittered.astype(np.uint8),
                               synthetic_labels=split.train_labels[:50], **labels)
    assert not near.passed and near.metrics["exact_copies"] == 0
    assert near.metrics["pixel"]["close_fraction"] > 0.9

    one_copy = np.concatenate([split.holdout_images, split.train_images[:1]])
    leaked = image_privacy_check(extractor, split.train_images, split.validation_images, one_copy,
                                 synthetic_labels=np.r_[split.holdout_labels, split.train_labels[:1]], **labels)
    assert not leaked.passed and leaked.metrics["exact_copies"] >= 1


def test_checks_only_embed_they_never_train_on_what_they_are_given(digits_split, extractor, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("a quality check trained a model")

    monkeypatch.setattr(image_features, "train_classifier", forbidden)
    split = digits_split
    two = split.holdout_labels < 2
    image_fidelity_check(extractor, split.train_images, split.train_labels, split.holdout_images[two],
                         split.holdout_labels[two], validation_images=split.validation_images)
    image_diversity_check(extractor, split.train_images, split.train_labels, split.holdout_images[:100],
                          split.holdout_labels[:100])
    image_privacy_check(extractor, split.train_images, split.validation_images, split.holdout_images[:100],
                        validation_labels=split.validation_labels, synthetic_labels=split.holdout_labels[:100])


def test_empty_synthetic_sets_pass_with_a_reason(digits_split, extractor):
    empty = digits_split.train_images[:0]
    for result in (
        image_fidelity_check(extractor, digits_split.train_images, digits_split.train_labels, empty, np.zeros(0, int)),
        image_diversity_check(extractor, digits_split.train_images, digits_split.train_labels, empty, np.zeros(0, int)),
        image_privacy_check(extractor, digits_split.train_images, digits_split.validation_images, empty,
                            validation_labels=digits_split.validation_labels, synthetic_labels=np.zeros(0, int)),
    ):
        assert result.passed and "no synthetic images" in result.details


def test_privacy_compares_minority_images_with_unseen_minority_images(breastmnist_path):
    """Minority ultrasound images sit farther from train than the pooled validation images: against the
    pooled baseline, near-copies of them (Gaussian noise of 3 grey levels) passed."""
    split = split_images(load_medmnist_npz(breastmnist_path), seed=0)
    extractor = train_feature_extractor(split.train_images, split.train_labels, seed=0, epochs=1, n_classes=2)
    minority = split.train_images[split.train_labels == 0]
    rng = np.random.default_rng(0)
    noisy = np.clip(minority + rng.normal(0, 3, minority.shape), 0, 255).astype(np.uint8)
    result = image_privacy_check(extractor, split.train_images, split.validation_images, noisy,
                                 validation_labels=split.validation_labels, synthetic_labels=np.zeros(len(noisy), int))
    assert not result.passed and result.metrics["pixel"]["close_fraction"] > 0.9
    unseen = split.holdout_labels == 0
    honest = image_privacy_check(extractor, split.train_images, split.validation_images, split.holdout_images[unseen],
                                 validation_labels=split.validation_labels, synthetic_labels=split.holdout_labels[unseen])
    assert honest.passed, honest.details
