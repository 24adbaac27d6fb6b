"""Adversarial losses, looked up by name in :data:`LOSSES`.

Each entry is a :class:`GANLoss`: ``discriminator_loss(d_real, d_fake)`` and ``generator_loss(d_fake)``
take the discriminator's raw scores; ``penalty`` (optional) is an extra discriminator term that needs
the discriminator itself and its inputs, e.g. the WGAN-GP gradient penalty. Scores are promoted to
float32 before any reduction so bf16 autocast on CUDA does not degrade the loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

GRADIENT_PENALTY_WEIGHT = 10.0
# LeCam (Tseng et al., CVPR 2021): google/lecam-gan's BigGAN runs with DiffAugment use weight 0.3 and averages of decay 0.99.
LECAM_WEIGHT = 0.3
LECAM_DECAY = 0.99
# Mode seeking (Mao et al., CVPR 2019): MSGAN's own weight for its conditional image-to-image and label-to-image runs.
MODE_SEEKING_WEIGHT = 1.0
MODE_SEEKING_EPS = 1e-5
# R1 (Mescheder et al., ICML 2018): gamma / 2 * E[|grad D(x_real)|^2] on every discriminator step (about 1.5x a
# plain step; StyleGAN2's lazy form, every 16th step, cost nothing but measured worse on BreastMNIST: BENCHMARKS.md).
R1_GAMMA = 1.0
REGULARISERS = ("none", "lecam", "mode_seeking", "r1")

Penalty = Callable[[nn.Module, torch.Tensor, torch.Tensor, torch.Tensor, Optional[torch.Generator]], torch.Tensor]


@dataclass(frozen=True)
class GANLoss:
    """A named pair of adversarial objectives (both minimised) and an optional D penalty."""

    discriminator_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    generator_loss: Callable[[torch.Tensor], torch.Tensor]
    penalty: Optional[Penalty] = None


def hinge_discriminator_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """Hinge loss (Lim & Ye 2017; SNGAN/BigGAN): push real scores above +1 and fake below -1."""
    return F.relu(1.0 - d_real.float()).mean() + F.relu(1.0 + d_fake.float()).mean()


def hinge_generator_loss(d_fake: torch.Tensor) -> torch.Tensor:
    return -d_fake.float().mean()


def vanilla_discriminator_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy on logits: -log σ(real) - log(1 - σ(fake))."""
    return F.softplus(-d_real.float()).mean() + F.softplus(d_fake.float()).mean()


def vanilla_generator_loss(d_fake: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss: -log σ(fake)."""
    return F.softplus(-d_fake.float()).mean()


def lsgan_discriminator_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """Least squares (Mao et al. 2017): real scores toward 1, fake toward 0."""
    return 0.5 * ((d_real.float() - 1.0) ** 2).mean() + 0.5 * (d_fake.float() ** 2).mean()


def lsgan_generator_loss(d_fake: torch.Tensor) -> torch.Tensor:
    return 0.5 * ((d_fake.float() - 1.0) ** 2).mean()


def wasserstein_discriminator_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """Negative critic estimate of the Wasserstein-1 distance: mean(fake) - mean(real)."""
    return d_fake.float().mean() - d_real.float().mean()


def wasserstein_generator_loss(d_fake: torch.Tensor) -> torch.Tensor:
    return -d_fake.float().mean()


def gradient_penalty(
    discriminator: nn.Module,
    real: torch.Tensor,
    fake: torch.Tensor,
    labels: torch.Tensor,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """WGAN-GP (Gulrajani et al. 2017): 10 · E[(‖∇D(x̂)‖ - 1)²] on random real/fake interpolates."""
    alpha = torch.rand(real.shape[0], 1, 1, 1, generator=generator).to(device=real.device, dtype=real.dtype)
    interpolates = (alpha * real.detach() + (1.0 - alpha) * fake.detach()).requires_grad_(True)
    scores = discriminator(interpolates, labels)
    (gradients,) = torch.autograd.grad(scores.float().sum(), interpolates, create_graph=True)
    gradient_norm = gradients.float().flatten(1).norm(2, dim=1)
    return GRADIENT_PENALTY_WEIGHT * ((gradient_norm - 1.0) ** 2).mean()


@dataclass
class ScoreAverages:
    """Running means of the discriminator's scores on real and on fake images (LeCam's anchors); None until the
    first step sets them."""

    real: Optional[torch.Tensor] = None
    fake: Optional[torch.Tensor] = None

    def update(self, d_real: torch.Tensor, d_fake: torch.Tensor, decay: float = LECAM_DECAY) -> None:
        real, fake = d_real.detach().float().mean(), d_fake.detach().float().mean()
        self.real = real if self.real is None else torch.lerp(real, self.real, decay)
        self.fake = fake if self.fake is None else torch.lerp(fake, self.fake, decay)


def lecam_penalty(d_real: torch.Tensor, d_fake: torch.Tensor, averages: ScoreAverages) -> torch.Tensor:
    """LeCam regularisation: keep real scores from rising above the running mean of fake scores and fake scores
    from falling below that of real ones, which bounds how far the discriminator can pull apart on few images.
    Updates ``averages`` with this batch first, as google/lecam-gan does."""
    averages.update(d_real, d_fake)
    return LECAM_WEIGHT * (F.relu(d_real.float() - averages.fake).pow(2).mean()
                           + F.relu(averages.real - d_fake.float()).pow(2).mean())


def mode_seeking_penalty(fake: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """MSGAN's generator term: the batch's first and second halves are pairs of latents of the same classes, and
    the generator is penalised by the inverse of how far apart their images lie relative to their latents, so
    that different latents do not collapse onto one image."""
    first, second = fake.float().chunk(2), z.float().chunk(2)
    spread = (first[0] - first[1]).abs().mean() / (second[0] - second[1]).abs().mean()
    return MODE_SEEKING_WEIGHT / (spread + MODE_SEEKING_EPS)


def r1_penalty(d_real: torch.Tensor, real_inputs: torch.Tensor) -> torch.Tensor:
    """R1: the squared norm of the discriminator's gradient at the real images it scored (``real_inputs`` must
    require grad before that forward pass), which keeps it from sharpening around the few real images."""
    (gradients,) = torch.autograd.grad(d_real.float().sum(), real_inputs, create_graph=True)
    return 0.5 * R1_GAMMA * gradients.float().flatten(1).pow(2).sum(dim=1).mean()


LOSSES: dict[str, GANLoss] = {
    "hinge": GANLoss(hinge_discriminator_loss, hinge_generator_loss),
    "vanilla": GANLoss(vanilla_discriminator_loss, vanilla_generator_loss),
    "lsgan": GANLoss(lsgan_discriminator_loss, lsgan_generator_loss),
    "wgan-gp": GANLoss(wasserstein_discriminator_loss, wasserstein_generator_loss, gradient_penalty),
}


def get_loss(name: str) -> GANLoss:
    """Look up ``name`` in :data:`LOSSES`."""
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; choose from {sorted(LOSSES)}")
    return LOSSES[name]
