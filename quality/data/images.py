"""Image sources (MedMNIST ``.npz``, folder-per-class PNG/JPEG, built-in digits) and the image split.

Every loader returns one in-memory form, :class:`ImageDataset`: ``uint8`` images ``(N, H, W, C)`` with
``C`` = 1 (grayscale, trailing axis kept) or 3, int64 labels ``(N,)`` in ``0..K-1`` and ``class_names``.
Input problems raise ``ValueError`` naming the file, key or class at fault.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Mapping, Optional

import numpy as np
import torch
import torch.nn.functional as F

from quality.data.plan import SPLIT, Protocol
from quality.data.splitting import HOLDOUT_FRACTION, VALIDATION_FRACTION, cap_class_rows, stratified_split_indices

MEDMNIST_SPLITS = ("train", "val", "test")

# Odd digits cut to 15 training images: the "made scarce for some classes" embedded default.
DIGITS_SCARCE_TRAIN_ROWS: dict[int, int] = {1: 15, 3: 15, 5: 15, 7: 15, 9: 15}

# GAN steps of the built-in digits when none are asked for (other sources: ImageGANConfig.steps), so the demo runs
# in under 5 minutes on 2 cores. It still publishes, but a 2,000-step GAN helps the downstream CNN more
# (BENCHMARKS.md, "Images: whole runs with the lift's CNNs in two processes").
DIGITS_GAN_STEPS = 600

# Images read from class folders are resized to this many pixels a side unless told otherwise.
FOLDER_IMAGE_SIZE = 28


@dataclass
class ImageDataset:
    """Images of one source. ``official_splits`` holds MedMNIST's ``"val"``/``"test"`` when the file has them."""

    modality: ClassVar[str] = "image"
    artifact_key: ClassVar[str] = "image_dataset"  # names the type in stored artefacts: never change it

    images: np.ndarray
    labels: np.ndarray
    class_names: list[str]
    source: str
    official_splits: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    name: str = ""

    def save(self, directory: str | Path) -> Path:
        """Write ``dataset.npz`` (images, labels and any official splits) and ``dataset.json``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        arrays = {"images": self.images, "labels": self.labels}
        for split_name, (images, labels) in self.official_splits.items():
            arrays[f"{split_name}_images"], arrays[f"{split_name}_labels"] = images, labels
        np.savez_compressed(directory / "dataset.npz", **arrays)
        meta = {"class_names": list(self.class_names), "source": self.source, "name": self.name,
                "official_splits": sorted(self.official_splits)}
        (directory / "dataset.json").write_text(json.dumps(meta, indent=2))
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> "ImageDataset":
        directory = Path(directory)
        meta = json.loads((directory / "dataset.json").read_text())
        with np.load(directory / "dataset.npz", allow_pickle=False) as arrays:
            official = {name: (arrays[f"{name}_images"], arrays[f"{name}_labels"]) for name in meta["official_splits"]}
            return cls(arrays["images"], arrays["labels"], meta["class_names"], meta["source"], official, meta["name"])


@dataclass
class ImageSplit:
    """Train (GANs, encoders and thresholds see only this), validation (decides) and holdout (reports)."""

    modality: ClassVar[str] = "image"
    artifact_key: ClassVar[str] = "image_split"  # names the type in stored artefacts: never change it

    train_images: np.ndarray
    train_labels: np.ndarray
    validation_images: np.ndarray
    validation_labels: np.ndarray
    holdout_images: np.ndarray
    holdout_labels: np.ndarray
    class_names: list[str]
    source: str
    holdout_is_official: bool
    name: str = ""

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def protocol(self) -> Protocol:
        """Images are judged on one validation split (a MedMNIST file's official one when it has one)."""
        return Protocol(SPLIT, 1, "images are judged on a validation split"
                        + (" (the file's official val and test splits)" if self.holdout_is_official else ""))

    def save(self, directory: str | Path) -> Path:
        """Write ``split.npz`` (compressed arrays) and ``split.json`` (names, source) into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            directory / "split.npz",
            **{name: getattr(self, name) for name in _SPLIT_ARRAYS},
        )
        meta = {
            "class_names": list(self.class_names),
            "source": self.source,
            "holdout_is_official": self.holdout_is_official,
            "name": self.name,
        }
        (directory / "split.json").write_text(json.dumps(meta, indent=2))
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> "ImageSplit":
        """Read a split written by :meth:`save` (no pickle involved)."""
        directory = Path(directory)
        for name in ("split.npz", "split.json"):
            if not (directory / name).is_file():
                raise ValueError(f"{directory / name} does not exist; was the split saved with ImageSplit.save?")
        meta = json.loads((directory / "split.json").read_text())
        with np.load(directory / "split.npz", allow_pickle=False) as arrays:
            fields = {name: arrays[name] for name in _SPLIT_ARRAYS}
        return cls(**fields, **meta)


_SPLIT_ARRAYS = (
    "train_images", "train_labels", "validation_images", "validation_labels", "holdout_images", "holdout_labels",
)


# --------------------------------------------------------------------------------------------- MedMNIST npz


def load_medmnist_npz(path: str | Path, size: Optional[int] = None) -> ImageDataset:
    """Load a 2D MedMNIST-format ``.npz``: ``train_images``/``train_labels`` and optional ``val_*``/``test_*``.

    Labels may be ``(N,)`` or ``(N, 1)``; images grayscale ``(N, H, W)`` or RGB ``(N, H, W, 3)``.
    Class names come from a ``class_names`` string array in the file if present, else ``"0"``, ``"1"``, ....
    ``size`` resizes every image to ``size x size`` (bilinear); ``None`` keeps the stored size.
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a folder, not a MedMNIST .npz file (a folder of class sub-folders needs no "
                         ".npz suffix)")
    if not path.is_file():
        raise ValueError(f"MedMNIST file {path} does not exist")
    arrays = _read_npz(path)
    if "train_images" not in arrays or "train_labels" not in arrays:
        raise ValueError(
            f"{path} has no 'train_images'/'train_labels' keys, so it is not a MedMNIST-format file; "
            f"keys found: {sorted(arrays)}"
        )
    splits: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for split in MEDMNIST_SPLITS:
        has_images, has_labels = f"{split}_images" in arrays, f"{split}_labels" in arrays
        if has_images != has_labels:
            raise ValueError(f"{path} has only one of '{split}_images' / '{split}_labels'; both are needed")
        if has_images:
            where = f"{path}:{split}"
            images = _as_nhwc_uint8(arrays[f"{split}_images"], where)
            labels = _as_label_vector(arrays[f"{split}_labels"], len(images), where)
            splits[split] = (_resize_images(images, size), labels)

    class_names = _class_names_from_npz(arrays, splits, path)
    train_images, train_labels = splits.pop("train")
    for split, (_, labels) in [("train", (train_images, train_labels)), *splits.items()]:
        _check_labels_in_class_set(labels, class_names, f"{path}:{split}")
    _check_every_class_present(train_labels, class_names, f"{path}:train")
    _check_same_image_shape({"train": train_images, **{s: im for s, (im, _) in splits.items()}}, path)
    check_class_names_publishable(class_names, path)
    return ImageDataset(train_images, train_labels, class_names, f"medmnist_npz:{path}", splits)


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    if not zipfile.is_zipfile(path):  # np.load would otherwise try other formats (and mention pickles)
        with open(path, "rb") as file:
            single = file.read(6) == b"\x93NUMPY"
        raise ValueError(f"{path} " + ("holds a single array (.npy), not an .npz archive" if single else
                                       "is not a readable .npz archive (it is not a zip file)") + "; expected a MedMNIST-format npz")
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(f"{path} is not a readable .npz archive ({err}); expected a MedMNIST-format npz") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"{path} holds a single array, not an .npz archive; expected a MedMNIST-format npz")
    arrays = {}
    with archive:
        for key in archive.files:
            try:
                arrays[key] = archive[key]
            except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
                if isinstance(err, ValueError) and "allow_pickle" in str(err):
                    raise ValueError(
                        f"{path}: key {key!r} holds a Python object (pickled) array, which synthlift never loads; "
                        "save it as a numeric or string array (or drop the key)"
                    ) from None
                raise ValueError(f"{path}: key {key!r} cannot be read ({err}); is the file corrupt?") from None
    return arrays


def _class_names_from_npz(
    arrays: Mapping[str, np.ndarray], splits: Mapping[str, tuple[np.ndarray, np.ndarray]], path: Path
) -> list[str]:
    if "class_names" in arrays:
        names = [name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)
                 for name in np.asarray(arrays["class_names"]).ravel().tolist()]
        if len(set(names)) != len(names):
            raise ValueError(f"{path}: 'class_names' has repeated names {names}")
        return names
    present = sorted({int(v) for _, labels in splits.values() for v in np.unique(labels)})
    top_label = present[-1]
    if present[0] >= 0 and top_label + 1 > max(2 * len(present), len(present) + 8):
        raise ValueError(
            f"{path}: labels take the values {_short(present)}, which are not class indices 0..K-1 "
            "(too many classes would have no images); renumber them 0..K-1 (a 'class_names' array may then name them)"
        )
    return [str(index) for index in range(top_label + 1)]


# --------------------------------------------------------------------------------------------- folder


def load_digits_builtin(size: int = 32) -> ImageDataset:
    """scikit-learn's 8x8 digits (values 0..16), upsampled bilinearly to ``size x size`` and scaled to 0..255.

    Scarcity is applied later by :func:`split_images` (``train_caps=DIGITS_SCARCE_TRAIN_ROWS``).
    """
    from sklearn.datasets import load_digits

    check_size_argument(size)
    digits = load_digits()
    scaled = digits.images.astype(np.float32)[..., None] * (255.0 / 16.0)
    images = _resize_images(scaled, size)
    labels = digits.target.astype(np.int64)
    return ImageDataset(images, labels, [str(d) for d in range(10)], "builtin:digits")


# --------------------------------------------------------------------------------------------- split


def split_images(
    dataset: ImageDataset,
    seed: int,
    validation_fraction: float = VALIDATION_FRACTION,
    holdout_fraction: float = HOLDOUT_FRACTION,
    train_caps: Optional[Mapping[int, int]] = None,
) -> ImageSplit:
    """Split a dataset into train / validation / holdout.

    A MedMNIST file with both official ``val`` and ``test`` keeps them: validation = official val (it
    decides publication), holdout = official test (the final figure, never a decision input). Otherwise
    every image the dataset holds is split per class by :func:`quality.splitting.stratified_split_indices`.
    ``train_caps`` (class index -> max rows) thins the train split only, to simulate scarcity.
    """
    caps = _validated_caps(train_caps, dataset.class_names)
    if "val" in dataset.official_splits and "test" in dataset.official_splits:
        train_images, train_labels = dataset.images, dataset.labels
        validation_images, validation_labels = dataset.official_splits["val"]
        holdout_images, holdout_labels = dataset.official_splits["test"]
        holdout_is_official = True
    else:
        images = np.concatenate([dataset.images, *(im for im, _ in dataset.official_splits.values())])
        labels = np.concatenate([dataset.labels, *(lb for _, lb in dataset.official_splits.values())])
        indices = stratified_split_indices(
            labels, seed, validation_fraction, holdout_fraction, where=dataset.source
        )
        train_images, train_labels = images[indices.train], labels[indices.train]
        validation_images, validation_labels = images[indices.validation], labels[indices.validation]
        holdout_images, holdout_labels = images[indices.holdout], labels[indices.holdout]
        holdout_is_official = False
    if caps:
        kept = cap_class_rows(np.arange(len(train_labels)), train_labels, caps, seed)
        train_images, train_labels = train_images[kept], train_labels[kept]
    _check_min_train_images(train_labels, dataset.class_names, f"{dataset.source}: train split")
    return ImageSplit(
        train_images, train_labels, validation_images, validation_labels, holdout_images, holdout_labels,
        list(dataset.class_names), dataset.source, holdout_is_official, dataset.name,
    )


def _validated_caps(train_caps: Optional[Mapping[int, int]], class_names: list[str]) -> dict[int, int]:
    caps = {}
    for cls, cap in (train_caps or {}).items():
        if not isinstance(cls, (int, np.integer)) or not 0 <= int(cls) < len(class_names):
            raise ValueError(
                f"train_caps names class {cls!r}; use a class index in 0..{len(class_names) - 1} "
                f"(classes: {class_names})"
            )
        if int(cap) < 2:
            raise ValueError(f"train_caps[{cls}] = {cap}; a class needs at least 2 training images")
        caps[int(cls)] = int(cap)
    return caps


# --------------------------------------------------------------------------------------------- validation


def _as_nhwc_uint8(images: np.ndarray, where: str) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(
            f"{where}: images have shape {images.shape}; expected (N, H, W) grayscale or (N, H, W, 1|3)"
        )
    if len(images) == 0:
        raise ValueError(f"{where}: there are no images")
    return _to_uint8(images, where)


def _to_uint8(images: np.ndarray, where: str) -> np.ndarray:
    """Convert only when no value changes: integers (or whole-valued floats) within 0..255."""
    if images.dtype == np.uint8:
        return images
    if images.dtype == bool or not np.issubdtype(images.dtype, np.number):
        raise ValueError(f"{where}: images have dtype {images.dtype}; expected uint8 pixel values 0..255")
    values = images.astype(np.float64)
    if np.isnan(values).any():
        raise ValueError(f"{where}: images contain NaN; expected uint8 pixel values 0..255")
    low, high = float(values.min()), float(values.max())
    if low < 0 or high > 255 or not np.array_equal(values, np.round(values)):
        raise ValueError(
            f"{where}: images have dtype {images.dtype} with values in [{low:g}, {high:g}] that are not whole "
            "numbers in 0..255, so they cannot be converted to uint8 without changing them; "
            "rescale them to uint8 0..255 first"
        )
    return values.astype(np.uint8)


def _as_label_vector(labels: np.ndarray, n_images: int, where: str) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1:
        raise ValueError(
            f"{where}: labels have shape {labels.shape}; expected (N,) or (N, 1) single-label class indices"
        )
    if len(labels) != n_images:
        raise ValueError(f"{where}: {n_images} images but {len(labels)} labels; they must be the same length")
    if not np.issubdtype(labels.dtype, np.number) or labels.dtype == bool:
        raise ValueError(f"{where}: labels have dtype {labels.dtype}; expected integer class indices")
    if np.issubdtype(labels.dtype, np.floating) and not np.isfinite(labels).all():
        raise ValueError(f"{where}: labels contain NaN or infinite values; expected integer class indices")
    if not np.array_equal(labels, np.round(labels)):
        raise ValueError(f"{where}: labels are not whole numbers; expected integer class indices")
    return labels.astype(np.int64)


def _check_labels_in_class_set(labels: np.ndarray, class_names: list[str], where: str) -> None:
    outside = np.unique(labels[(labels < 0) | (labels >= len(class_names))])
    if outside.size:
        raise ValueError(
            f"{where}: label(s) {outside.tolist()} are outside the class set 0..{len(class_names) - 1} "
            f"(classes: {class_names})"
        )


def _check_every_class_present(labels: np.ndarray, class_names: list[str], where: str) -> None:
    present = np.unique(labels)
    if len(present) < 2:
        raise ValueError(
            f"{where}: every image has label {present.tolist()}; a classification dataset needs at least two classes"
        )
    missing = sorted(set(range(len(class_names))) - set(present.tolist()))
    if missing:
        raise ValueError(
            f"{where}: class(es) {_short([class_names[i] for i in missing])} have no training images; "
            f"every class needs training images (labels must be class indices 0..{len(class_names) - 1}, "
            f"found {_short(present.tolist())})"
        )


MIN_TRAIN_IMAGES_PER_CLASS = 2  # as the stratified split and train_caps require
MAX_CLASS_NAME_LENGTH = 100
MAX_FOLDER_NAME_BYTES = 255  # NAME_MAX of common file systems: 100 CJK characters are 300 bytes


def _short(values: list, limit: int = 10) -> str:
    return str(values) if len(values) <= limit else f"{values[:limit]} ... ({len(values)} in all)"


def _check_min_train_images(labels: np.ndarray, class_names: list[str], where: str) -> None:
    counts = np.bincount(labels, minlength=len(class_names))
    few = {class_names[i]: int(n) for i, n in enumerate(counts) if n < MIN_TRAIN_IMAGES_PER_CLASS}
    if few:
        raise ValueError(f"{where}: class(es) {few} have fewer than {MIN_TRAIN_IMAGES_PER_CLASS} training images; "
                         "a GAN cannot learn a class, nor can its spread be checked, from one image")


def constant_classes(dataset: ImageDataset) -> list[str]:
    """Classes whose every training image is a single pixel value (an all-black export, or a blank-page class)."""
    flat = dataset.images.reshape(len(dataset.images), -1)
    constant = flat.min(axis=1) == flat.max(axis=1)
    return [name for i, name in enumerate(dataset.class_names) if constant[dataset.labels == i].all()]


def check_class_names_publishable(class_names: list[str], path: Path,
                                   max_chars: Optional[int] = MAX_CLASS_NAME_LENGTH) -> None:
    """Class names become folder names of the publication: refuse those that cannot or would collide."""
    bad = [n for n in class_names if n.strip(".") == "" or (max_chars is not None and len(n) > max_chars)
           or len(publication_folder_name(n).encode("utf-8")) > MAX_FOLDER_NAME_BYTES]
    if bad:
        raise ValueError(f"{path}: 'class_names' has name(s) {_short(bad)} that cannot name a folder (empty, "
                         f"'.', '..', longer than {MAX_CLASS_NAME_LENGTH} characters or {MAX_FOLDER_NAME_BYTES} bytes)")
    folders: dict[str, str] = {}
    for name in class_names:
        folder = publication_folder_name(name)
        if folder in folders:
            raise ValueError(f"{path}: class names {folders[folder]!r} and {name!r} would share the "
                             f"publication folder {folder!r}; rename one of them ('class_names' of an .npz, or the class folder)")
        folders[folder] = name


def publication_folder_name(name: str) -> str:
    """The folder of a class in a published ImageFolder layout."""
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name) or "class"


def _check_same_image_shape(images_by_split: Mapping[str, np.ndarray], path: Path) -> None:
    shapes = {split: images.shape[1:] for split, images in images_by_split.items()}
    if len(set(shapes.values())) > 1:
        raise ValueError(f"{path}: splits have different image shapes {shapes}; resize every split to one size first")


def check_size_argument(size: Optional[int]) -> None:
    if size is not None and (not isinstance(size, (int, np.integer)) or size < 4):
        raise ValueError(f"size must be an integer >= 4 or None, got {size!r}")


def _resize_images(images: np.ndarray, size: Optional[int]) -> np.ndarray:
    """Bilinear resize of ``(N, H, W, C)`` values in 0..255 to ``size x size`` uint8, in one batched call."""
    check_size_argument(size)
    if size is None or images.shape[1:3] == (size, size):
        return np.clip(np.round(images), 0, 255).astype(np.uint8) if images.dtype != np.uint8 else images
    batch = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)).permute(0, 3, 1, 2)
    shrinking = size < images.shape[1] or size < images.shape[2]
    resized = F.interpolate(batch, size=(size, size), mode="bilinear", align_corners=False, antialias=shrinking)
    return resized.permute(0, 2, 3, 1).round().clamp(0, 255).to(torch.uint8).numpy()
