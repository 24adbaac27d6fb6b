"""Curation of synthetic images: near-copies never kept, images that look like another class dropped while
there are enough others, coverage preferred over repeats, the counts asked for kept, and the gate's rows
never looked at."""

import numpy as np
import pytest

from assets.modalities import image as image_modality
from gan_models.image import ImageGAN, ImageGANConfig
from pipelines.config import SamplingConfig
from quality.checks.image_features import predict_proba
from quality.curation import images as curation
from quality.data.images import ImageSplit, load_digits_builtin, split_images


def _of_class(images, labels, cls, n):
    return images[labels == cls][:n]


def test_curation_keeps_no_near_copy_and_drops_images_of_another_class_first(digits_split, extractor):
    split = digits_split
    copies = _of_class(split.train_images, split.train_labels, 3, 10)
    fresh = _of_class(split.validation_images, split.validation_labels, 3, 20)
    other_class = _of_class(split.validation_images, split.validation_labels, 7, 20)
    candidates = np.concatenate([copies, fresh, other_class])
    labels = np.full(len(candidates), 3)
    confident = predict_proba(extractor.model, candidates)[:, 3] >= curation.MIN_CONFIDENCE
    wanted = int(confident[10:].sum()) - 2

    result = curation.curate_images(extractor, split.train_images, split.train_labels, candidates, labels, {3: wanted})

    assert len(result.keep) == result.kept[3] == wanted
    assert not np.isin(result.keep, np.arange(10)).any()  # the train copies
    assert confident[result.keep].all()
    assert result.near_copies[3] >= 10 and result.candidates[3] == len(candidates)
    summary = result.summary([str(c) for c in range(10)])
    assert summary["kept"] == {"3": wanted} and summary["kept_fraction"] == round(wanted / len(candidates), 4)


def test_curation_fills_the_count_from_the_most_confident_others_but_never_from_copies(digits_split, extractor):
    split = digits_split
    copies = _of_class(split.train_images, split.train_labels, 5, 10)
    other_class = _of_class(split.validation_images, split.validation_labels, 0, 15)
    candidates = np.concatenate([copies, other_class])
    labels = np.full(len(candidates), 5)

    result = curation.curate_images(extractor, split.train_images, split.train_labels, candidates, labels, {5: 20})

    assert result.kept[5] == len(result.keep) <= 15
    assert not np.isin(result.keep, np.arange(10)).any()


def test_curation_prefers_coverage_to_repeats_of_one_image(digits_split, extractor):
    split = digits_split
    distinct = _of_class(split.validation_images, split.validation_labels, 1, 12)
    confident = distinct[predict_proba(extractor.model, distinct)[:, 1] >= curation.MIN_CONFIDENCE]
    assert len(confident) >= 6
    repeated = np.repeat(confident[:1], 10, axis=0)
    candidates = np.concatenate([repeated, confident[1:]])
    labels = np.full(len(candidates), 1)

    result = curation.curate_images(extractor, split.train_images, split.train_labels, candidates, labels, {1: 4})

    assert len(result.keep) == 4 and result.near_copies[1] <= len(confident) - 5  # enough distinct ones to pick
    assert np.isin(result.keep, np.arange(10)).sum() <= 1


@pytest.fixture(scope="module")
def digits16():
    return split_images(load_digits_builtin(size=16), seed=0)


@pytest.fixture(scope="module")
def tiny_gan(digits16):
    config = ImageGANConfig(z_dim=16, base_channels=8, steps=4, batch_size=16, log_every=2, device="cpu", seed=3)
    return ImageGAN(config).fit(digits16.train_images, digits16.train_labels, n_classes=digits16.n_classes)


def test_the_publication_balances_every_deciding_image_and_the_lift_the_train_images(digits16, tiny_gan):
    split = digits16
    synthetic = image_modality.generate(tiny_gan, split, SamplingConfig(seed=0))
    deciding = np.concatenate([split.train_labels, split.validation_labels])
    published = np.bincount(deciding, minlength=split.n_classes) + np.bincount(synthetic.labels, minlength=split.n_classes)
    lift_images, lift_labels = synthetic.for_lift()
    for_lift = np.bincount(split.train_labels, minlength=split.n_classes) + np.bincount(lift_labels,
                                                                                       minlength=split.n_classes)
    assert len(set(published.tolist())) == 1 and len(set(for_lift.tolist())) == 1
    assert image_modality.class_counts(split) == dict(zip(split.class_names, np.bincount(deciding).tolist()))
    # one pool: of each class, the smaller set is the first images of the larger one
    for cls in range(split.n_classes):
        ours, theirs = synthetic.images[synthetic.labels == cls], lift_images[lift_labels == cls]
        shorter = min(len(ours), len(theirs))
        assert np.array_equal(ours[:shorter], theirs[:shorter])


def test_generate_curates_to_the_balancing_counts_and_never_reads_the_gate_rows(digits16, tiny_gan, monkeypatch):
    split, model = digits16, tiny_gan
    seen = []
    curate = curation.curate_images
    monkeypatch.setattr(image_modality, "curate_images",
                        lambda *args: seen.append(args) or curate(*args))
    config = SamplingConfig(seed=0, sampling_strategy="{\"0\": 200, \"1\": 190}", image_curation=3)

    synthetic = image_modality.generate(model, split, config)

    needed = image_modality.rows_to_generate(split, config)
    for_lift = image_modality._lift_rows_to_generate(split, config)
    assert np.bincount(synthetic.labels, minlength=split.n_classes).tolist()[:2] == [needed[0], needed[1]]
    assert np.bincount(synthetic.for_lift()[1], minlength=split.n_classes).tolist()[:2] == [for_lift[0], for_lift[1]]
    assert synthetic.curation["factor"] == 3
    assert synthetic.curation["candidates"] == {str(c): 3 * max(needed[c], for_lift[c]) for c in (0, 1)}
    (arguments,) = seen
    gate_rows = {split.validation_images.tobytes(), split.holdout_images.tobytes()}
    assert not any(isinstance(a, np.ndarray) and a.tobytes() in gate_rows for a in arguments)
    uncurated = SamplingConfig(seed=0, sampling_strategy=config.sampling_strategy, image_curation=1)
    assert image_modality.generate(model, split, uncurated).curation == {}


def test_image_curation_reaches_the_sampler_from_the_command_line_and_the_catalog_and_tables_refuse_it(tmp_path):
    from pipelines.catalog import CatalogEntry, entry_fingerprint
    from pipelines.cli import ArgumentError, build_parser, check_run_options, run_config_from_args

    args = build_parser().parse_args(["run", "digits", "--image-curation", "4", "--out", str(tmp_path)])
    check_run_options(args)
    assert run_config_from_args(args)["ops"]["synthetic_samples"]["config"]["image_curation"] == 4
    default = run_config_from_args(build_parser().parse_args(["run", "digits"]))
    assert "image_curation" not in default["ops"]["synthetic_samples"]["config"]
    assert SamplingConfig().image_curation == curation.DEFAULT_IMAGE_CURATION
    entry = CatalogEntry.model_validate({"name": "digits", "source": "digits", "image_curation": 3})
    assert entry.run_config()["ops"]["synthetic_samples"]["config"]["image_curation"] == 3
    plain = CatalogEntry.model_validate({"name": "digits", "source": "digits"})
    assert entry_fingerprint(entry) != entry_fingerprint(plain)  # a curated entry runs again; a plain one does not
    with pytest.raises(ValueError, match="image_curation applies to images only"):
        CatalogEntry.model_validate({"name": "bc", "source": "breast_cancer", "image_curation": 3})
    with pytest.raises(ValueError, match="--image-curation applies to images only"):
        check_run_options(build_parser().parse_args(["run", "breast_cancer", "--image-curation", "2", "--out", str(tmp_path)]))
    with pytest.raises(ArgumentError, match="--image-curation"):
        build_parser().parse_args(["run", "digits", "--image-curation", "0"])


def test_the_data_card_shows_what_curation_kept_per_class():
    from quality.publish.card import render_data_card

    summary = {"factor": 4, "candidates": {"malignant": 1008}, "kept": {"malignant": 252},
               "near_copies": {"malignant": 3}, "unconfident": {"malignant": 133}, "kept_fraction": 0.25}
    card = render_data_card({"dataset": "b", "curation": summary})
    assert "## Curation" in card and "4 candidates per image kept; 25% kept" in card
    assert "| malignant | 1008 | 252 | 3 | 133 |" in card
    assert "## Curation" not in render_data_card({"dataset": "b", "curation": {}})


def test_a_strategy_the_train_images_alone_cannot_meet_is_refused_before_training():
    blank = np.zeros((1, 16, 16, 1), np.uint8)
    labels = {"train": np.repeat([0, 1], [10, 40]), "validation": np.repeat([0, 1], [2, 20])}
    split = ImageSplit(np.repeat(blank, 50, axis=0), labels["train"], np.repeat(blank, 22, axis=0), labels["validation"],
                       blank[:0], np.zeros(0, np.int64), ["rare", "common"], "memory", False)
    # 0.22 of the 60 deciding common images is 13.2 rare ones (12 deciding: fits); of the 40 train ones, 8.8 (10: not)
    with pytest.raises(ValueError):
        image_modality.rows_to_generate(split, SamplingConfig(sampling_strategy="0.22"))
    assert image_modality.rows_to_generate(split, SamplingConfig(sampling_strategy="0.3")) == {0: 6, 1: 0}


def test_generate_refuses_when_curation_keeps_too_few_and_takes_the_best_first(digits16, tiny_gan, monkeypatch):
    config = SamplingConfig(seed=0, image_curation=2)
    keep_everything = curation.curate_images
    synthetic = image_modality.generate(tiny_gan, digits16, config)
    lift_images, lift_labels = synthetic.for_lift()
    for cls in range(digits16.n_classes):  # one pool, best first: the smaller set is the start of the larger one
        ours, theirs = synthetic.images[synthetic.labels == cls], lift_images[lift_labels == cls]
        assert np.array_equal(ours[:min(len(ours), len(theirs))], theirs[:min(len(ours), len(theirs))])

    def too_few(*args):
        result = keep_everything(*args)
        dropped = np.flatnonzero(args[4][result.keep] == 0)[-1]
        return curation.Curation(np.delete(result.keep, dropped), result.candidates, {**result.kept, 0: result.kept[0] - 1},
                                 result.near_copies, result.unconfident)

    monkeypatch.setattr(image_modality, "curate_images", too_few)
    with pytest.raises(ValueError, match=r"curation kept too few synthetic images \(class '0': "):
        image_modality.generate(tiny_gan, digits16, config)
