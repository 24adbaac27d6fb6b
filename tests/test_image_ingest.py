import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from quality.data.images import (
    DIGITS_SCARCE_TRAIN_ROWS,
    ImageDataset,
    ImageSplit,
    load_digits_builtin,
    load_medmnist_npz,
    split_images,
)
from quality.data.image_folders import load_image_folder

BREASTMNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "breastmnist.npz"
needs_breastmnist = pytest.mark.skipif(
    not BREASTMNIST.is_file(), reason=f"BreastMNIST file not found at {BREASTMNIST} (it is never copied into the repo)"
)


def tagged_images(n: int, size: int = 8, channels: int = 1) -> np.ndarray:
    """Images whose first two pixels spell their row number, so every image is unique and traceable."""
    rng = np.random.default_rng(n)
    images = rng.integers(0, 256, size=(n, size, size, channels), dtype=np.uint8)
    images[:, 0, 0, 0] = np.arange(n) // 256
    images[:, 0, 1, 0] = np.arange(n) % 256
    return images


def row_numbers(images: np.ndarray) -> set[int]:
    return set((images[:, 0, 0, 0].astype(int) * 256 + images[:, 0, 1, 0]).tolist())


def write_npz(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


def write_png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


# ------------------------------------------------------------------------------------------ MedMNIST


@needs_breastmnist
def test_breastmnist_loads_with_its_official_splits():
    dataset = load_medmnist_npz(BREASTMNIST)
    assert dataset.images.shape == (546, 28, 28, 1) and dataset.images.dtype == np.uint8
    assert dataset.labels.dtype == np.int64
    assert np.bincount(dataset.labels).tolist() == [147, 399]
    assert dataset.class_names == ["0", "1"]
    assert len(dataset.official_splits["val"][0]) == 78 and len(dataset.official_splits["test"][0]) == 156

    split = split_images(dataset, seed=0)
    assert split.holdout_is_official
    assert np.array_equal(split.train_images, dataset.images)
    assert np.array_equal(split.validation_images, dataset.official_splits["val"][0])
    assert np.array_equal(split.holdout_labels, dataset.official_splits["test"][1])


@needs_breastmnist
def test_caps_on_a_medmnist_file_thin_only_train():
    dataset = load_medmnist_npz(BREASTMNIST)
    split = split_images(dataset, seed=0, train_caps={0: 20})
    assert np.bincount(split.train_labels).tolist() == [20, 399]
    assert len(split.validation_labels) == 78 and len(split.holdout_labels) == 156


def test_npz_with_n_by_1_labels_rgb_images_class_names_and_resize(tmp_path):
    images = tagged_images(40, size=8, channels=3)
    labels = np.repeat([0, 1], 20).reshape(-1, 1)
    path = write_npz(tmp_path / "rgb.npz", train_images=images, train_labels=labels,
                     class_names=np.array(["healthy", "sick"]))
    dataset = load_medmnist_npz(path)
    assert dataset.images.shape == (40, 8, 8, 3)
    assert dataset.labels.shape == (40,) and dataset.labels.dtype == np.int64
    assert dataset.class_names == ["healthy", "sick"]
    assert dataset.official_splits == {}

    resized = load_medmnist_npz(path, size=16)
    assert resized.images.shape == (40, 16, 16, 3) and resized.images.dtype == np.uint8


def test_npz_grayscale_gets_a_channel_axis_and_whole_valued_floats_convert(tmp_path):
    images = tagged_images(30)[..., 0].astype(np.float32)
    path = write_npz(tmp_path / "gray.npz", train_images=images, train_labels=np.repeat([0, 1, 2], 10))
    dataset = load_medmnist_npz(path)
    assert dataset.images.shape == (30, 8, 8, 1) and dataset.images.dtype == np.uint8
    assert np.array_equal(dataset.images[..., 0], images.astype(np.uint8))
    assert dataset.class_names == ["0", "1", "2"]


def test_npz_without_both_official_splits_is_split_stratified(tmp_path):
    path = write_npz(tmp_path / "only_test.npz", train_images=tagged_images(60), train_labels=np.repeat([0, 1], 30),
                     test_images=tagged_images(20), test_labels=np.repeat([0, 1], 10))
    split = split_images(load_medmnist_npz(path), seed=0)
    assert not split.holdout_is_official
    assert len(split.train_labels) + len(split.validation_labels) + len(split.holdout_labels) == 80


@pytest.mark.parametrize(
    "arrays, message",
    [
        (dict(images=np.zeros((4, 8, 8), np.uint8)), r"keys found: \['images'\]"),
        (dict(train_images=tagged_images(10)[..., 0], train_labels=np.repeat([0, 1], 4)), "10 images but 8 labels"),
        (dict(train_images=tagged_images(10)[..., 0], train_labels=np.zeros(10, int)), "at least two classes"),
        (dict(train_images=tagged_images(10)[..., 0], train_labels=np.repeat([0, 2], 5),
              class_names=np.array(["a", "b"])), r"label\(s\) \[2\] are outside the class set"),
        (dict(train_images=tagged_images(10)[..., 0], train_labels=np.repeat([0, -1], 5)), r"label\(s\) \[-1\]"),
        (dict(train_images=np.full((10, 8, 8), 0.5), train_labels=np.repeat([0, 1], 5)), "cannot be converted to uint8"),
        (dict(train_images=np.full((10, 8, 8), 300), train_labels=np.repeat([0, 1], 5)), "cannot be converted to uint8"),
        (dict(train_images=tagged_images(10)[..., 0], train_labels=np.repeat([0, 10**6], 5)),
         r"labels take the values \[0, 1000000\], which are not class indices 0..K-1"),
        (dict(train_images=tagged_images(10)[..., 0], train_labels=np.repeat([0.0, np.inf], 5)), "NaN or infinite"),
        (dict(train_images=tagged_images(10)[..., 0], train_labels=np.repeat([0, 1], 5),
              class_names=np.array(["..", "b"])), r"name\(s\) \['..'\] that cannot name a folder"),
        (dict(train_images=tagged_images(10)[..., 0], train_labels=np.repeat([0, 1], 5),
              class_names=np.array(["a/b", "a_b"])), "'a/b' and 'a_b' would share the publication folder 'a_b'"),
        (dict(train_images=tagged_images(10)[..., 0], train_labels=np.repeat([0, 1], 5),
              notes=np.array([{"a": 1}], dtype=object)), "key 'notes' holds a Python object"),
    ],
    ids=["missing_train_key", "length_mismatch", "single_class", "label_outside_names", "negative_label",
         "fractional_floats", "values_above_255", "labels_far_beyond_the_classes", "infinite_label",
         "class_name_dot_dot", "class_names_sharing_a_folder", "pickled_key"],
)
def test_bad_npz_contents_raise_a_named_error(tmp_path, arrays, message):
    path = write_npz(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match=message) as error:
        load_medmnist_npz(path)
    assert "bad.npz" in str(error.value)


def test_missing_and_corrupt_npz_files_are_named(tmp_path):
    with pytest.raises(ValueError, match="nowhere.npz does not exist"):
        load_medmnist_npz(tmp_path / "nowhere.npz")
    (tmp_path / "text.npz").write_text("not a zip archive")
    with pytest.raises(ValueError, match="text.npz is not a readable .npz archive"):
        load_medmnist_npz(tmp_path / "text.npz")
    good = write_npz(tmp_path / "good.npz", train_images=tagged_images(10), train_labels=np.repeat([0, 1], 5))
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[:300])
    with pytest.raises(ValueError, match="truncated.npz"):
        load_medmnist_npz(truncated)
    assert zipfile.is_zipfile(good)
    (tmp_path / "folder.npz").mkdir()
    with pytest.raises(ValueError, match="folder.npz is a folder, not a MedMNIST .npz file"):
        load_medmnist_npz(tmp_path / "folder.npz")
    np.save(tmp_path / "single.npy", tagged_images(4))
    (tmp_path / "single.npy").rename(tmp_path / "single.npz")
    with pytest.raises(ValueError, match=r"single.npz holds a single array \(.npy\)"):
        load_medmnist_npz(tmp_path / "single.npz")


def test_bytes_class_names_are_decoded(tmp_path):
    path = write_npz(tmp_path / "named.npz", train_images=tagged_images(10), train_labels=np.repeat([0, 1], 5),
                     class_names=np.array([b"malignant", b"benign"]))
    assert load_medmnist_npz(path).class_names == ["malignant", "benign"]


def test_a_class_with_one_training_image_is_refused_even_with_official_splits(tmp_path):
    labels = np.array([0] + [1] * 9)
    path = write_npz(tmp_path / "one.npz", train_images=tagged_images(10), train_labels=labels,
                     val_images=tagged_images(4), val_labels=np.repeat([0, 1], 2),
                     test_images=tagged_images(4), test_labels=np.repeat([0, 1], 2))
    with pytest.raises(ValueError, match=r"one.npz: train split: class\(es\) \{'0': 1\} have fewer than 2 training"):
        split_images(load_medmnist_npz(path), seed=0)


# ------------------------------------------------------------------------------------------ folder


def make_folder(root: Path, sizes=(12, 12)) -> Path:
    rng = np.random.default_rng(0)
    for index in range(3):
        write_png(root / "benign" / f"b{index}.png", rng.integers(0, 256, (sizes[0], sizes[0]), dtype=np.uint8))
    for index in range(2):
        write_png(root / "malignant" / f"m{index}.png", rng.integers(0, 256, (sizes[1], sizes[1]), dtype=np.uint8))
    return root


def test_folder_of_grayscale_pngs_is_resized_and_labelled_by_folder(tmp_path):
    dataset = load_image_folder(make_folder(tmp_path, sizes=(12, 20)), size=16)
    assert dataset.images.shape == (5, 16, 16, 1) and dataset.images.dtype == np.uint8
    assert dataset.class_names == ["benign", "malignant"]
    assert dataset.labels.tolist() == [0, 0, 0, 1, 1]


def test_folder_mixing_grayscale_and_rgb_becomes_rgb_unless_channels_is_set(tmp_path):
    root = make_folder(tmp_path)
    colour = np.zeros((12, 12, 3), np.uint8)
    colour[..., 0] = 200
    write_png(root / "malignant" / "colour.png", colour)
    Image.fromarray(colour).save(root / "malignant" / "colour.jpg", quality=95)
    dataset = load_image_folder(root, size=12)
    assert dataset.images.shape == (7, 12, 12, 3)
    red = dataset.images[3:5]  # files are read in sorted order: b0-b2, then colour.jpg, colour.png, m0, m1
    assert dataset.labels[3:5].tolist() == [1, 1]
    assert red[..., 0].mean() > 150 and red[..., 1].mean() < 50
    assert np.array_equal(dataset.images[0][..., 0], dataset.images[0][..., 1])  # grayscale spread to RGB
    assert load_image_folder(root, size=12, channels=1).images.shape == (7, 12, 12, 1)


def test_folder_without_resize_needs_one_size_and_names_two_files(tmp_path):
    root = make_folder(tmp_path, sizes=(12, 20))
    with pytest.raises(ValueError, match=r"b0.png is 12x12 but .*m0.png is 20x20"):
        load_image_folder(root, size=None)
    same = load_image_folder(make_folder(tmp_path / "same"), size=None)
    assert same.images.shape == (5, 12, 12, 1)


def test_non_image_files_warn_and_are_skipped_or_raise(tmp_path):
    root = make_folder(tmp_path)
    (root / "benign" / "notes.txt").write_text("scanner settings")
    (root / "benign" / ".DS_Store").write_bytes(b"\0")
    with pytest.warns(UserWarning, match="notes.txt"):
        dataset = load_image_folder(root)
    assert len(dataset.labels) == 5
    with pytest.raises(ValueError, match="notes.txt"):
        load_image_folder(root, on_non_image="error")
    with pytest.raises(ValueError, match="on_non_image"):
        load_image_folder(root, on_non_image="ignore")


def test_empty_class_folder_corrupt_image_and_single_class_are_named(tmp_path):
    root = make_folder(tmp_path / "empty")
    (root / "normal").mkdir()
    with pytest.raises(ValueError, match="normal has no PNG/JPEG images"):
        load_image_folder(root)

    root = make_folder(tmp_path / "corrupt")
    (root / "benign" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(ValueError, match="broken.png cannot be read"):
        load_image_folder(root)

    write_png(tmp_path / "single" / "only" / "a.png", np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match="at least two classes"):
        load_image_folder(tmp_path / "single")
    with pytest.raises(ValueError, match="does not exist"):
        load_image_folder(tmp_path / "absent")


# ------------------------------------------------------------------------------------------ digits and split


def test_digits_are_upsampled_uint8_with_ten_classes():
    dataset = load_digits_builtin(size=32)
    assert dataset.images.shape == (1797, 32, 32, 1) and dataset.images.dtype == np.uint8
    assert dataset.images.max() == 255 and dataset.images.min() == 0
    assert dataset.class_names == [str(d) for d in range(10)]
    assert sorted(set(dataset.labels.tolist())) == list(range(10))


def test_scarce_digits_split_caps_only_train_and_leaves_other_splits_untouched():
    dataset = load_digits_builtin(size=8)
    full = split_images(dataset, seed=3)
    scarce = split_images(dataset, seed=3, train_caps=DIGITS_SCARCE_TRAIN_ROWS)
    counts = np.bincount(scarce.train_labels, minlength=10)
    full_counts = np.bincount(full.train_labels, minlength=10)
    for digit in range(10):
        expected = DIGITS_SCARCE_TRAIN_ROWS.get(digit, full_counts[digit])
        assert counts[digit] == expected
    assert np.array_equal(scarce.validation_images, full.validation_images)
    assert np.array_equal(scarce.holdout_images, full.holdout_images)
    assert np.array_equal(scarce.holdout_labels, full.holdout_labels)


def test_split_has_no_overlap_covers_every_image_and_repeats_with_its_seed():
    dataset = ImageDataset(tagged_images(200), np.repeat([0, 1, 2, 3], 50), list("abcd"), "test")
    split = split_images(dataset, seed=5, train_caps={1: 10})
    train, validation, holdout = (row_numbers(split.train_images), row_numbers(split.validation_images),
                                  row_numbers(split.holdout_images))
    assert not (train & validation) and not (train & holdout) and not (validation & holdout)
    assert len(train) == 30 * 3 + 10 and len(validation) == 40 and len(holdout) == 40
    again = split_images(dataset, seed=5, train_caps={1: 10})
    assert np.array_equal(again.train_images, split.train_images)
    assert row_numbers(split_images(dataset, seed=6).holdout_images) != holdout


def test_bad_caps_are_named():
    dataset = ImageDataset(tagged_images(40), np.repeat([0, 1], 20), ["a", "b"], "test")
    with pytest.raises(ValueError, match="train_caps names class 'a'"):
        split_images(dataset, seed=0, train_caps={"a": 5})
    with pytest.raises(ValueError, match=r"train_caps\[1\] = 1"):
        split_images(dataset, seed=0, train_caps={1: 1})


def test_split_saves_and_loads_without_pickle(tmp_path):
    dataset = ImageDataset(tagged_images(60, channels=3), np.repeat([0, 1, 2], 20), ["x", "y", "z"], "memory")
    split = split_images(dataset, seed=1)
    split.save(tmp_path / "split")
    loaded = ImageSplit.load(tmp_path / "split")
    for name in ("train_images", "train_labels", "validation_images", "holdout_labels"):
        assert np.array_equal(getattr(loaded, name), getattr(split, name))
    assert loaded.class_names == ["x", "y", "z"] and loaded.source == "memory" and not loaded.holdout_is_official
    with np.load(tmp_path / "split" / "split.npz", allow_pickle=False) as arrays:
        assert arrays["train_images"].dtype == np.uint8
    with pytest.raises(ValueError, match="split.npz does not exist"):
        ImageSplit.load(tmp_path)


def test_a_sampling_strategy_names_image_classes_by_name():
    from assets.modalities.image import rows_to_generate
    from pipelines.config import SamplingConfig

    dataset = ImageDataset(tagged_images(200), np.repeat([0, 1, 2, 3], 50), list("abcd"), "test")
    split = split_images(dataset, seed=5, train_caps={1: 10})
    deciding_b = int((split.train_labels == 1).sum() + (split.validation_labels == 1).sum())  # 10 train + 10 validation
    assert deciding_b == 20  # the publication's rows: train and validation
    assert rows_to_generate(split, SamplingConfig(sampling_strategy='{"b": 25}')) == {0: 0, 1: 5, 2: 0, 3: 0}
    with pytest.raises(ValueError, match=r"names class\(es\) \['e'\], which are not among the classes \['a', 'b'"):
        rows_to_generate(split, SamplingConfig(sampling_strategy='{"e": 25}'))


@pytest.mark.parametrize("shape", [(10, 28, 32), (10, 30, 30)], ids=["not_square", "size_the_gan_cannot_grow"])
def test_an_image_size_the_gan_cannot_train_on_is_refused_when_read(tmp_path, shape):
    from assets.modalities.image import load
    from pipelines.config import DatasetConfig

    images = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    path = write_npz(tmp_path / "odd.npz", train_images=images, train_labels=np.repeat([0, 1], 5))
    with pytest.raises(ValueError, match=rf"odd.npz: images are {shape[1]}x{shape[2]}; the image GAN needs square"):
        load(DatasetConfig(source=str(path)), "odd")


def test_a_lone_official_split_is_pooled_with_train_and_the_user_is_warned(tmp_path):
    from assets.modalities.image import input_warnings

    path = write_npz(tmp_path / "only_test.npz", train_images=tagged_images(20), train_labels=np.repeat([0, 1], 10),
                     test_images=tagged_images(6), test_labels=np.repeat([0, 1], 3))
    assert input_warnings(load_medmnist_npz(path)) == [
        "the file has an official 'test' split but no 'val' split: its 'test' images are pooled with train and "
        "re-split, so some of them train the GAN"]
    both = write_npz(tmp_path / "both.npz", train_images=tagged_images(20), train_labels=np.repeat([0, 1], 10),
                     val_images=tagged_images(6), val_labels=np.repeat([0, 1], 3),
                     test_images=tagged_images(6), test_labels=np.repeat([0, 1], 3))
    assert input_warnings(load_medmnist_npz(both)) == []


def test_a_class_of_constant_images_is_warned_about_not_refused(tmp_path):
    """A blank-page class is legitimate when it is not generated; generated, its images fail validity."""
    from assets.modalities.image import input_warnings

    images = tagged_images(10)[..., 0]
    images[:5] = 255
    dataset = load_medmnist_npz(write_npz(tmp_path / "pages.npz", train_images=images, train_labels=np.repeat([0, 1], 5),
                                          class_names=np.array(["blank", "text"])))
    assert input_warnings(dataset) == [
        "every training image of class(es) ['blank'] is constant (a single pixel value): images generated for such "
        "a class fail the validity check, which requires non-constant images"]


def _class_folders(root, classes):
    rng = np.random.default_rng(0)
    for cls in classes:
        (root / cls).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(rng.integers(0, 255, (28, 28), dtype=np.uint8)).save(root / cls / f"{i}.png")
    return root


def test_class_folders_that_would_share_a_publication_folder_are_refused(tmp_path):
    from quality.data.image_folders import load_image_folder

    with pytest.raises(ValueError, match="'cat food' and 'cat_food' would share the publication folder 'cat_food'"):
        load_image_folder(_class_folders(tmp_path / "pets", ["cat food", "cat_food", "dog"]))


def test_a_class_name_too_long_in_bytes_for_a_folder_is_refused(tmp_path):
    from quality.data.images import load_medmnist_npz

    images = np.random.default_rng(0).integers(0, 255, (10, 28, 28), dtype=np.uint8)
    np.savez(tmp_path / "s.npz", train_images=images, train_labels=np.repeat([0, 1], 5),
             class_names=np.array(["肺" * 90, "normal"]))
    with pytest.raises(ValueError, match="cannot name a folder"):
        load_medmnist_npz(tmp_path / "s.npz")


def test_a_long_class_folder_name_that_exists_is_loaded(tmp_path):
    from quality.data.image_folders import load_image_folder

    name = "Acute lymphoblastic leukaemia, B-cell precursor, bone marrow aspirate, May-Gruenwald-Giemsa stain x100"
    assert len(name) > 100
    assert load_image_folder(_class_folders(tmp_path / "scans", [name, "normal"])).class_names == [name, "normal"]


def test_the_built_in_digits_train_fewer_gan_steps_unless_told_otherwise():
    from dataclasses import replace

    from assets.modalities.image import gan_config
    from pipelines.config import IMAGE_GAN, GeneratorConfig
    from quality.data.images import DIGITS_GAN_STEPS, DIGITS_SCARCE_TRAIN_ROWS, load_digits_builtin, split_images

    digits = split_images(load_digits_builtin(size=8), seed=0, train_caps=DIGITS_SCARCE_TRAIN_ROWS)
    other = replace(digits, source="scans.npz")
    assert gan_config(GeneratorConfig(), digits).steps == DIGITS_GAN_STEPS < IMAGE_GAN.steps
    assert gan_config(GeneratorConfig(), other).steps == IMAGE_GAN.steps
    assert gan_config(GeneratorConfig(image_steps=7), digits).steps == 7
