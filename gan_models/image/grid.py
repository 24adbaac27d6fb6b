"""Preview grids: real images of each class beside synthetic ones."""

from __future__ import annotations

import numpy as np

from gan_models.image.data import as_nhwc
from gan_models.image.per_class import PerClassImageGAN
from gan_models.image.trainer import ImageGAN


def sample_grid(
    real_images: np.ndarray,
    real_labels: np.ndarray,
    model: ImageGAN | PerClassImageGAN,
    per_class: int = 8,
    seed: int = 0,
    padding: int = 2,
) -> np.ndarray:
    """A uint8 ``(H', W', C)`` preview: one row per class, ``per_class`` real images, a gap, then as
    many synthetic ones. Real images are picked at random (seeded); missing tiles are left black."""
    real_images = as_nhwc(real_images, "real_images")
    real_labels = np.asarray(real_labels).reshape(-1)
    if real_labels.shape[0] != real_images.shape[0]:
        raise ValueError(f"real_labels has {real_labels.shape[0]} entries but real_images has {real_images.shape[0]}")
    if real_images.shape[1:] != (model.image_size, model.image_size, model.channels):
        raise ValueError(
            f"real_images are {real_images.shape[1:]} but the model makes "
            f"{(model.image_size, model.image_size, model.channels)}"
        )
    if not isinstance(per_class, int) or per_class < 1:
        raise ValueError(f"per_class must be a positive integer, got {per_class!r}")

    classes = list(model.classes)
    synthetic = np.concatenate(
        [images for images, _ in model.sample({cls: per_class for cls in classes}, seed=seed)]
    )
    synthetic_labels = np.repeat(np.asarray(classes), per_class)
    return image_grid(real_images, real_labels, synthetic, synthetic_labels, classes, per_class, seed, padding)


def image_grid(
    real_images: np.ndarray,
    real_labels: np.ndarray,
    synthetic_images: np.ndarray,
    synthetic_labels: np.ndarray,
    classes: list[int],
    per_class: int = 8,
    seed: int = 0,
    padding: int = 2,
) -> np.ndarray:
    """One row per class: up to ``per_class`` real images (picked at random, seeded), a gap, then up to
    ``per_class`` synthetic ones of that class; missing tiles are left black. Returns uint8 ``(H', W', C)``."""
    size, channels = real_images.shape[1], real_images.shape[3]
    tiles = np.zeros((len(classes), 2 * per_class + 1, size, size, channels), dtype=np.uint8)
    rng = np.random.default_rng(seed)
    for row, cls in enumerate(classes):
        members = np.flatnonzero(real_labels == cls)
        picked = rng.choice(members, size=min(per_class, members.size), replace=False)
        tiles[row, : picked.size] = real_images[np.sort(picked)]
        generated = synthetic_images[synthetic_labels == cls][:per_class]
        tiles[row, per_class + 1 : per_class + 1 + len(generated)] = generated

    framed = np.pad(tiles, ((0, 0), (0, 0), (padding, padding), (padding, padding), (0, 0)))
    rows, columns, tile_h, tile_w, _ = framed.shape
    return framed.transpose(0, 2, 1, 3, 4).reshape(rows * tile_h, columns * tile_w, channels)
