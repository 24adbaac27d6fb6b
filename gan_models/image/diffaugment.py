"""Differentiable augmentation (DiffAugment, Zhao et al. 2020) for data-efficient GAN training.

The same random transform family ``T`` is applied to every discriminator input, real and fake,
so D sees ``D(T(x))`` and G is trained through ``T``. Because every op is differentiable, G's
gradient flows through the augmentation and D cannot simply memorise the few real images.

Images are ``(N, C, H, W)`` tensors in ``[-1, 1]``. Each function draws its random parameters
from an optional CPU ``torch.Generator`` so seeded runs repeat exactly.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

Augmentation = Callable[[torch.Tensor, "torch.Generator | None"], torch.Tensor]

TRANSLATION_RATIO = 0.125  # shift by up to 1/8 of the image side, as in the paper
CUTOUT_RATIO = 0.5  # erase a square half the image side
SMALL_CUTOUT_RATIO = 0.25  # "cutout_small": a quarter of the side


def _uniform(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """One uniform [0, 1) draw per image, shaped to broadcast over (C, H, W)."""
    draws = torch.rand(x.shape[0], 1, 1, 1, generator=generator)
    return draws.to(device=x.device, dtype=x.dtype)


def adjust_brightness(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Add a per-image offset in [-0.5, 0.5)."""
    return x + (_uniform(x, generator) - 0.5)


def adjust_saturation(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Scale each pixel's distance to its channel mean by a factor in [0, 2) (identity on grayscale)."""
    channel_mean = x.mean(dim=1, keepdim=True)
    return (x - channel_mean) * (_uniform(x, generator) * 2.0) + channel_mean


def adjust_contrast(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Scale each image's distance to its global mean by a factor in [0.5, 1.5)."""
    image_mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - image_mean) * (_uniform(x, generator) + 0.5) + image_mean


def translate(x: torch.Tensor, generator: torch.Generator | None = None, padding: str = "constant") -> torch.Tensor:
    """Shift each image by up to 1/8 of its side in each direction, filling the uncovered border by
    ``padding``: ``"constant"`` (zeros, the paper's: a band of mid-grey a real scan never has, which the
    discriminator can learn to look for), ``"reflect"`` or ``"replicate"`` (the image's own pixels)."""
    n, c, h, w = x.shape
    max_shift = max(1, int(round(min(h, w) * TRANSLATION_RATIO)))
    shifts = torch.randint(-max_shift, max_shift + 1, (2, n), generator=generator).to(x.device)
    padded = F.pad(x, (max_shift, max_shift, max_shift, max_shift), mode=padding)
    # Output pixel (i, j) reads padded pixel (i + max_shift - dy, j + max_shift - dx).
    rows = torch.arange(h, device=x.device)[None, :] + max_shift - shifts[0][:, None]  # (N, H)
    cols = torch.arange(w, device=x.device)[None, :] + max_shift - shifts[1][:, None]  # (N, W)
    row_index = rows[:, None, :, None].expand(n, c, h, padded.shape[3])
    picked_rows = torch.gather(padded, 2, row_index)
    col_index = cols[:, None, None, :].expand(n, c, h, w)
    return torch.gather(picked_rows, 3, col_index)


def translate_reflect(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """:func:`translate` filling the border with the image's mirror image instead of zeros."""
    return translate(x, generator, padding="reflect")


def cutout(x: torch.Tensor, generator: torch.Generator | None = None, ratio: float = CUTOUT_RATIO) -> torch.Tensor:
    """Zero a square of ``ratio`` times the image side (half by default) at a random centre (it may hang
    over the border)."""
    n, _, h, w = x.shape
    size_h, size_w = max(1, int(h * ratio + 0.5)), max(1, int(w * ratio + 0.5))
    top = torch.randint(0, h + (1 - size_h % 2), (n,), generator=generator).to(x.device) - size_h // 2
    left = torch.randint(0, w + (1 - size_w % 2), (n,), generator=generator).to(x.device) - size_w // 2
    rows = torch.arange(h, device=x.device)[None, :]
    cols = torch.arange(w, device=x.device)[None, :]
    inside_rows = (rows >= top[:, None]) & (rows < top[:, None] + size_h)  # (N, H)
    inside_cols = (cols >= left[:, None]) & (cols < left[:, None] + size_w)  # (N, W)
    erased = inside_rows[:, :, None] & inside_cols[:, None, :]  # (N, H, W)
    return x * (~erased).to(x.dtype)[:, None, :, :]


def cutout_small(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """:func:`cutout` of a square a quarter of the side (1/16 of the area: 7x7 px at 28 px), so a small
    image keeps most of its content; the paper's half-side square blanks a quarter of it."""
    return cutout(x, generator, ratio=SMALL_CUTOUT_RATIO)


POLICIES: dict[str, list[Augmentation]] = {
    "color": [adjust_brightness, adjust_saturation, adjust_contrast],
    "translation": [translate],
    "translation_reflect": [translate_reflect],
    "cutout": [cutout],
    "cutout_small": [cutout_small],
}


def parse_policy(policy: str) -> list[str]:
    """Split a comma-separated policy string into known policy names ('' or 'none' means no augmentation)."""
    if not isinstance(policy, str):
        raise ValueError(f"diffaugment policy must be a comma-separated string, got {type(policy).__name__}")
    names = [name.strip().lower() for name in policy.split(",") if name.strip()]
    if names == ["none"]:
        return []
    unknown = [name for name in names if name not in POLICIES]
    if unknown:
        raise ValueError(
            f"unknown diffaugment policy {unknown} in {policy!r}; choose from {sorted(POLICIES)} "
            "(comma-separated) or 'none'"
        )
    return names


def diff_augment(
    x: torch.Tensor, policy: str = "color,translation,cutout", generator: torch.Generator | None = None
) -> torch.Tensor:
    """Apply the named augmentation policies, in order, to a batch of ``(N, C, H, W)`` images."""
    names = parse_policy(policy)
    if x.ndim != 4:
        raise ValueError(f"diff_augment expects images shaped (N, C, H, W), got shape {tuple(x.shape)}")
    for name in names:
        for augmentation in POLICIES[name]:
            x = augmentation(x, generator)
    return x
