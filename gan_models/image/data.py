"""Checks and conversions of the arrays the image GAN takes and gives: uint8 ``(N, H, W, C)`` images,
integer labels, and the class counts asked of ``sample``."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import torch

from gan_models.image.architectures import resolution_plan


def as_nhwc(images: np.ndarray, argument: str = "images") -> np.ndarray:
    """Return uint8 images as ``(N, H, W, C)``, adding the channel axis to ``(N, H, W)`` grayscale."""
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise ValueError(f"{argument} must be uint8 (0-255), got dtype {images.dtype}")
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[3] not in (1, 3):
        raise ValueError(f"{argument} must be shaped (N, H, W) or (N, H, W, C) with C in (1, 3), got {images.shape}")
    if images.shape[1] != images.shape[2]:
        raise ValueError(f"{argument} must be square, got height {images.shape[1]} and width {images.shape[2]}")
    return images


def validated_training_data(
    images: np.ndarray, labels: np.ndarray, n_classes: int | None
) -> tuple[np.ndarray, np.ndarray, int]:
    """``(images as NHWC, labels as int64, n_classes)``, refusing data a class-balanced fit cannot use."""
    images = as_nhwc(images)
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise ValueError(f"labels must be shaped ({images.shape[0]},) to match images, got {labels.shape}")
    if images.shape[0] == 0:
        raise ValueError("images is empty: there is nothing to train on")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integers 0..n_classes-1, got dtype {labels.dtype}")
    labels = labels.astype(np.int64)
    n_classes = int(labels.max()) + 1 if n_classes is None else int(n_classes)
    if labels.min() < 0 or labels.max() >= n_classes:
        raise ValueError(
            f"labels must lie in 0..{n_classes - 1} (n_classes={n_classes}), got {labels.min()}..{labels.max()}"
        )
    counts = np.bincount(labels, minlength=n_classes)
    empty = np.flatnonzero(counts == 0).tolist()
    if empty:
        raise ValueError(f"class(es) {empty} have no training images; a class-balanced batch needs at least one each")
    resolution_plan(images.shape[1])
    return images, labels, n_classes


def to_model_range(images_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 ``(N, H, W, C)`` → float ``(N, C, H, W)`` in [-1, 1]."""
    return images_uint8.permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def to_uint8_nhwc(images: torch.Tensor) -> np.ndarray:
    """float ``(N, C, H, W)`` in [-1, 1] → uint8 ``(N, H, W, C)`` numpy array."""
    scaled = images.float().add(1.0).mul(127.5).round().clamp(0, 255).to(torch.uint8)
    return scaled.permute(0, 2, 3, 1).contiguous().cpu().numpy()


def validated_class_counts(class_counts: Mapping[int, int], classes: Sequence[int], chunk_size: int) -> dict[int, int]:
    """``class_counts`` by class index, refusing unknown classes, repeats and counts that are not whole."""
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    counts: dict[int, int] = {}
    for key, count in dict(class_counts).items():
        cls = _class_index(key)
        if cls not in classes:
            raise ValueError(
                f"class_counts names class {key!r}, which this model was not trained on; classes: {list(classes)}"
            )
        if cls in counts:
            raise ValueError(f"class_counts names class {cls} twice (as {key!r} and as another key)")
        if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 0:
            raise ValueError(f"class_counts[{key!r}] must be a non-negative integer, got {count!r}")
        counts[cls] = int(count)
    return counts


def _class_index(key: Any) -> int | None:
    """A class given as an integer or as the text of one ("1"); None for anything else (1.7, "one", True)."""
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        return int(key)
    if isinstance(key, str) and key.strip().lstrip("-").isdecimal():
        return int(key)
    return None
