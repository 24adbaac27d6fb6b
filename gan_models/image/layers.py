"""Building blocks for conditional image GANs.

- spectral-normalised conv/linear/embedding helpers (SNGAN, Miyato et al. 2018);
- conditional batch norm: a class embedding supplies each channel's gain and bias (BigGAN-lite);
- residual up-block for the generator and residual down-block for the discriminator (SNGAN ResNets);
- self-attention over spatial positions (SAGAN, Zhang et al. 2019).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.parametrizations import spectral_norm


def sn_conv2d(in_channels: int, out_channels: int, kernel_size: int = 3, padding: int = 1) -> nn.Module:
    """A stride-1 convolution with spectral normalisation on its weight."""
    return spectral_norm(nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding))


def sn_linear(in_features: int, out_features: int) -> nn.Module:
    """A linear layer with spectral normalisation on its weight."""
    return spectral_norm(nn.Linear(in_features, out_features))


def sn_embedding(n_classes: int, dim: int) -> nn.Module:
    """A class embedding with spectral normalisation (the projection discriminator's class vectors)."""
    return spectral_norm(nn.Embedding(n_classes, dim))


class ConditionalBatchNorm2d(nn.Module):
    """Batch norm without its own affine parameters; gain and bias come from the class label."""

    def __init__(self, num_features: int, n_classes: int):
        super().__init__()
        self.norm = nn.BatchNorm2d(num_features, affine=False)
        self.gain = nn.Embedding(n_classes, num_features)
        self.bias = nn.Embedding(n_classes, num_features)
        nn.init.ones_(self.gain.weight)
        nn.init.zeros_(self.bias.weight)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        gain = self.gain(labels)[:, :, None, None]
        bias = self.bias(labels)[:, :, None, None]
        return self.norm(x) * gain + bias


class GeneratorBlock(nn.Module):
    """Pre-activation residual block that doubles the resolution: CBN-ReLU-up-conv-CBN-ReLU-conv.

    ``upsampling`` is ``F.interpolate``'s mode: ``"nearest"`` repeats each pixel, ``"bilinear"`` (half-pixel
    centres) is the same followed by the [1, 3, 3, 1] low-pass filter of StyleGAN2, so no period-2 pattern
    reaches the next convolution.
    """

    def __init__(self, in_channels: int, out_channels: int, n_classes: int, upsampling: str = "nearest"):
        super().__init__()
        self.upsampling = upsampling
        self.norm1 = ConditionalBatchNorm2d(in_channels, n_classes)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.norm2 = ConditionalBatchNorm2d(out_channels, n_classes)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.norm1(x, labels))
        h = self.conv1(self._upsample(h))
        h = self.conv2(F.relu(self.norm2(h, labels)))
        return h + self.shortcut(self._upsample(x))

    def _upsample(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=2, mode=self.upsampling)


class DiscriminatorBlock(nn.Module):
    """Residual block with spectral norm that optionally halves the resolution (average pooling).

    The first block of a discriminator sees raw pixels, so it skips the leading ReLU.
    """

    def __init__(self, in_channels: int, out_channels: int, downsample: bool = True, first: bool = False):
        super().__init__()
        self.downsample = downsample
        self.first = first
        self.conv1 = sn_conv2d(in_channels, out_channels)
        self.conv2 = sn_conv2d(out_channels, out_channels)
        self.learn_shortcut = downsample or in_channels != out_channels
        self.shortcut = sn_conv2d(in_channels, out_channels, 1, padding=0) if self.learn_shortcut else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x if self.first else F.relu(x)
        h = self.conv2(F.relu(self.conv1(h)))
        if self.downsample:
            h = F.avg_pool2d(h, 2)
        return h + self._shortcut(x)

    def _shortcut(self, x: torch.Tensor) -> torch.Tensor:
        if not self.learn_shortcut:
            return x
        # Pooling before the 1x1 conv is cheaper and, for a linear map, equivalent.
        if self.downsample:
            x = F.avg_pool2d(x, 2)
        return self.shortcut(x)


class SelfAttention(nn.Module):
    """SAGAN self-attention: each position attends to every (2x2-pooled) position of the map.

    The residual gain ``gamma`` starts at zero, so the block begins as the identity and the network
    learns how much non-local evidence to mix in.
    """

    def __init__(self, channels: int, spectral: bool = True):
        super().__init__()
        conv = sn_conv2d if spectral else (lambda i, o, k, padding: nn.Conv2d(i, o, k, padding=padding))
        key_channels = max(1, channels // 8)
        value_channels = max(1, channels // 2)
        self.query = conv(channels, key_channels, 1, padding=0)
        self.key = conv(channels, key_channels, 1, padding=0)
        self.value = conv(channels, value_channels, 1, padding=0)
        self.out = conv(value_channels, channels, 1, padding=0)
        self.gamma = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        query = self.query(x).flatten(2)  # (N, K, HW)
        pool = 2 if h % 2 == 0 and w % 2 == 0 else 1
        key = F.max_pool2d(self.key(x), pool).flatten(2)  # (N, K, HW')
        value = F.max_pool2d(self.value(x), pool).flatten(2)  # (N, V, HW')
        attention = torch.softmax(query.transpose(1, 2) @ key, dim=-1)  # (N, HW, HW')
        attended = (value @ attention.transpose(1, 2)).view(n, -1, h, w)  # (N, V, H, W)
        return x + self.gamma * self.out(attended)


class MinibatchStdDev(nn.Module):
    """Appends one feature map: how much the images of the sample's group differ (ProGAN, Karras et al. 2018).

    A discriminator that sees this can reject a generator whose images vary less than real ones. Groups are
    runs of consecutive samples, so a batch of real images followed by as many fakes never mixes the two when
    each half is a multiple of the group size; a batch the group size does not divide uses the largest size
    that does.
    """

    def __init__(self, group_size: int = 4):
        super().__init__()
        self.group_size = group_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        group = next(size for size in range(min(self.group_size, n), 0, -1) if n % size == 0)
        grouped = x.float().reshape(n // group, group, c, h, w)
        spread = (grouped.var(dim=1, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))  # (n // group,)
        feature = spread.repeat_interleave(group)[:, None, None, None].expand(n, 1, h, w).to(x.dtype)
        return torch.cat([x, feature], dim=1)
