"""Conditional generator/discriminator pairs, looked up by name in :data:`ARCHITECTURES`.

Every builder takes ``(image_size, channels, n_classes, z_dim, base_channels)`` and returns
``(generator, discriminator)``:

- ``generator(z, labels) -> images`` in ``[-1, 1]`` (tanh), shaped ``(N, channels, size, size)``;
- ``discriminator(images, labels) -> scores`` shaped ``(N,)`` (unbounded logits).

Images are grown from a small base map by repeated 2x upsampling, never cropped or resized:
28 = 7·2², 32 = 4·2³, 48 = 6·2³, 64 = 4·2⁴ (see :func:`resolution_plan`).
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from gan_models.image.layers import (
    DiscriminatorBlock,
    GeneratorBlock,
    MinibatchStdDev,
    SelfAttention,
    sn_embedding,
    sn_linear,
)

MIN_BASE_SIZE = 4
MAX_CHANNEL_MULTIPLIER = 8


def resolution_plan(image_size: int) -> tuple[int, int]:
    """Return ``(base_size, n_upsamplings)``: the most 2x steps that keep the base map at least 4x4."""
    if not isinstance(image_size, int) or image_size < 4 * MIN_BASE_SIZE or image_size % 4 != 0:
        raise ValueError(
            f"image_size={image_size!r} is not supported: it must be a multiple of 4 and at least "
            f"{4 * MIN_BASE_SIZE} (e.g. 28, 32, 48, 64) so it can be grown from a small map by 2x steps"
        )
    n_upsamplings = 0
    while image_size % 2 ** (n_upsamplings + 1) == 0 and image_size // 2 ** (n_upsamplings + 1) >= MIN_BASE_SIZE:
        n_upsamplings += 1
    return image_size // 2**n_upsamplings, n_upsamplings


def channel_widths(base_channels: int, n_upsamplings: int) -> list[int]:
    """Channels per resolution level, from the base map (widest) to full resolution (``base_channels``)."""
    return [
        base_channels * min(2 ** (n_upsamplings - level), MAX_CHANNEL_MULTIPLIER)
        for level in range(n_upsamplings + 1)
    ]


def attention_level(n_upsamplings: int) -> int:
    """The middle resolution level (0 = base map) where the self-attention block sits."""
    return (n_upsamplings + 1) // 2


def _validate(image_size: int, channels: int, n_classes: int, z_dim: int, base_channels: int) -> None:
    sizes = {"channels": channels, "n_classes": n_classes, "z_dim": z_dim, "base_channels": base_channels}
    for name, value in sizes.items():
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    resolution_plan(image_size)


class ResNetGenerator(nn.Module):
    """SNGAN-style conditional ResNet generator with class-conditional batch norm."""

    def __init__(self, image_size: int, channels: int, n_classes: int, z_dim: int, base_channels: int, attention: bool,
                 upsampling: str = "nearest"):
        super().__init__()
        self.base_size, n_up = resolution_plan(image_size)
        widths = channel_widths(base_channels, n_up)
        self.z_dim = z_dim
        self.project = nn.Linear(z_dim, widths[0] * self.base_size**2)
        self.blocks = nn.ModuleList(GeneratorBlock(widths[i], widths[i + 1], n_classes, upsampling)
                                    for i in range(n_up))
        self.attention_after = attention_level(n_up) - 1 if attention else None
        self.attention = SelfAttention(widths[attention_level(n_up)], spectral=False) if attention else None
        self.out_norm = nn.BatchNorm2d(widths[-1])
        self.to_image = nn.Conv2d(widths[-1], channels, 3, padding=1)

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        h = self.project(z).view(z.shape[0], -1, self.base_size, self.base_size)
        for index, block in enumerate(self.blocks):
            h = block(h, labels)
            if index == self.attention_after:
                h = self.attention(h)
        return torch.tanh(self.to_image(F.relu(self.out_norm(h))))


class ProjectionDiscriminator(nn.Module):
    """SNGAN ResNet discriminator with the cGAN projection head (Miyato & Koyama 2018).

    score(x, y) = w·φ(x) + <embed(y), φ(x)>, where φ sums ReLU features over positions.
    """

    def __init__(self, image_size: int, channels: int, n_classes: int, base_channels: int, attention: bool,
                 minibatch_std: bool = False):
        super().__init__()
        _, n_up = resolution_plan(image_size)
        # Narrow at full resolution, widest at the base map (BigGAN's D schedule): the costly
        # full-resolution convolutions stay cheap and the capacity sits where the semantics are.
        widths = channel_widths(base_channels, n_up)[::-1]
        blocks: list[nn.Module] = []
        in_channels = channels
        for level in range(n_up):
            blocks.append(DiscriminatorBlock(in_channels, widths[level], downsample=True, first=level == 0))
            in_channels = widths[level]
            # Same resolution as in the generator: attention_level counts from the base map.
            if attention and n_up - (level + 1) == attention_level(n_up):
                blocks.append(SelfAttention(in_channels, spectral=True))
        if minibatch_std:  # at the base map, before the last block, as in ProGAN
            blocks.append(MinibatchStdDev())
            in_channels += 1
        blocks.append(DiscriminatorBlock(in_channels, widths[n_up], downsample=False))
        self.blocks = nn.Sequential(*blocks)
        self.linear = sn_linear(widths[n_up], 1)
        self.class_embedding = sn_embedding(n_classes, widths[n_up])

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        features = F.relu(self.blocks(images)).sum(dim=(2, 3))
        projection = (self.class_embedding(labels) * features).sum(dim=1)
        return self.linear(features).squeeze(1) + projection


class DCGANGenerator(nn.Module):
    """Conditional DCGAN generator: a label embedding is concatenated to z, then transposed convs."""

    def __init__(self, image_size: int, channels: int, n_classes: int, z_dim: int, base_channels: int):
        super().__init__()
        self.base_size, n_up = resolution_plan(image_size)
        widths = channel_widths(base_channels, n_up)
        self.z_dim = z_dim
        self.label_embedding = nn.Embedding(n_classes, z_dim)
        self.project = nn.Linear(2 * z_dim, widths[0] * self.base_size**2, bias=False)
        self.base_norm = nn.BatchNorm2d(widths[0])
        layers: list[nn.Module] = []
        for level in range(n_up):
            layers += [
                nn.ConvTranspose2d(widths[level], widths[level + 1], 4, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(widths[level + 1]),
                nn.ReLU(inplace=True),
            ]
        self.upsample = nn.Sequential(*layers)
        self.to_image = nn.Conv2d(widths[-1], channels, 3, padding=1)

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        h = self.project(torch.cat([z, self.label_embedding(labels)], dim=1))
        h = F.relu(self.base_norm(h.view(z.shape[0], -1, self.base_size, self.base_size)))
        return torch.tanh(self.to_image(self.upsample(h)))


class DCGANDiscriminator(nn.Module):
    """Conditional DCGAN discriminator: one-hot label maps are concatenated to the input image.

    No batch norm, so it is also valid under a per-sample gradient penalty (WGAN-GP).
    """

    def __init__(self, image_size: int, channels: int, n_classes: int, base_channels: int):
        super().__init__()
        base_size, n_up = resolution_plan(image_size)
        widths = channel_widths(base_channels, n_up)[::-1]
        self.n_classes = n_classes
        layers: list[nn.Module] = []
        in_channels = channels + n_classes
        for level in range(n_up):
            layers += [nn.Conv2d(in_channels, widths[level + 1], 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
            in_channels = widths[level + 1]
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(in_channels * base_size**2, 1)

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        n, _, h, w = images.shape
        label_maps = F.one_hot(labels, self.n_classes).to(images.dtype)[:, :, None, None].expand(n, -1, h, w)
        features = self.features(torch.cat([images, label_maps], dim=1))
        return self.head(features.flatten(1)).squeeze(1)


ArchitectureBuilder = Callable[[int, int, int, int, int], tuple[nn.Module, nn.Module]]


def _sngan_pair(image_size: int, channels: int, n_classes: int, z_dim: int, base_channels: int, attention: bool,
                upsampling: str = "nearest", minibatch_std: bool = False) -> tuple[nn.Module, nn.Module]:
    _validate(image_size, channels, n_classes, z_dim, base_channels)
    return (
        ResNetGenerator(image_size, channels, n_classes, z_dim, base_channels, attention, upsampling),
        ProjectionDiscriminator(image_size, channels, n_classes, base_channels, attention, minibatch_std),
    )


def build_sngan(
    image_size: int, channels: int, n_classes: int, z_dim: int, base_channels: int
) -> tuple[nn.Module, nn.Module]:
    """Conditional-BN ResNet generator + spectral-norm projection discriminator."""
    return _sngan_pair(image_size, channels, n_classes, z_dim, base_channels, attention=False)


def build_sngan_sa(
    image_size: int, channels: int, n_classes: int, z_dim: int, base_channels: int
) -> tuple[nn.Module, nn.Module]:
    """:func:`build_sngan` with a self-attention block at the middle resolution of both networks."""
    return _sngan_pair(image_size, channels, n_classes, z_dim, base_channels, attention=True)


def build_sngan_bilinear(
    image_size: int, channels: int, n_classes: int, z_dim: int, base_channels: int
) -> tuple[nn.Module, nn.Module]:
    """:func:`build_sngan` whose generator upsamples bilinearly (a low-pass filter) instead of repeating pixels.

    Meant against the near-Nyquist texture of ``sngan``'s samples; on BreastMNIST it was no closer to the real
    images and one of two seeds collapsed (BENCHMARKS.md), so it is not the default."""
    return _sngan_pair(image_size, channels, n_classes, z_dim, base_channels, attention=False, upsampling="bilinear")


def build_sngan_mbstd(
    image_size: int, channels: int, n_classes: int, z_dim: int, base_channels: int
) -> tuple[nn.Module, nn.Module]:
    """:func:`build_sngan` whose discriminator also sees how much the images of each group of four differ
    (:class:`~gan_models.image.layers.MinibatchStdDev`), against samples with too little variety between them."""
    return _sngan_pair(image_size, channels, n_classes, z_dim, base_channels, attention=False, minibatch_std=True)


def build_dcgan(
    image_size: int, channels: int, n_classes: int, z_dim: int, base_channels: int
) -> tuple[nn.Module, nn.Module]:
    """Conditional DCGAN (label embedding on z, label maps on the discriminator input)."""
    _validate(image_size, channels, n_classes, z_dim, base_channels)
    return (
        DCGANGenerator(image_size, channels, n_classes, z_dim, base_channels),
        DCGANDiscriminator(image_size, channels, n_classes, base_channels),
    )


ARCHITECTURES: dict[str, ArchitectureBuilder] = {
    "sngan": build_sngan,
    "sngan_sa": build_sngan_sa,
    "sngan_bilinear": build_sngan_bilinear,
    "sngan_mbstd": build_sngan_mbstd,
    "dcgan": build_dcgan,
}


def build_architecture(
    name: str, image_size: int, channels: int, n_classes: int, z_dim: int, base_channels: int
) -> tuple[nn.Module, nn.Module]:
    """Look up ``name`` in :data:`ARCHITECTURES` and build the pair."""
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}; choose from {sorted(ARCHITECTURES)}")
    return ARCHITECTURES[name](image_size, channels, n_classes, z_dim, base_channels)
