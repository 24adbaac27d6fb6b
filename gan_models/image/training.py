"""One training step of the image GAN: discriminator steps on DiffAugmented real and fake batches, a
generator step, and the update of the exponential moving average (EMA) of the generator's weights."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Iterator

import torch
import torch.nn as nn

from gan_models.image.config import ImageGANConfig
from gan_models.image.data import to_model_range
from gan_models.image.diffaugment import diff_augment
from gan_models.image.losses import GANLoss, ScoreAverages, lecam_penalty, mode_seeking_penalty, r1_penalty
from gan_models.image.sampler import BalancedBatchSampler


@dataclass
class TrainingRun:
    """What the steps of one ``fit`` train with."""

    config: ImageGANConfig
    device: torch.device
    generator: nn.Module
    discriminator: nn.Module
    generator_ema: nn.Module
    optimizers: dict[str, torch.optim.Optimizer]
    rng: torch.Generator
    real_images: torch.Tensor  # uint8 (N, H, W, C) on the device
    sampler: BalancedBatchSampler
    loss: GANLoss
    precision: torch.dtype = torch.float32  # the autocast dtype of the forward passes (resolved_precision)
    score_averages: ScoreAverages = field(default_factory=ScoreAverages)  # LeCam's anchors


def resolved_precision(precision: str, device: torch.device) -> torch.dtype:
    """The dtype ``precision`` means on ``device``: ``"auto"`` is bfloat16 on CUDA and on CPUs with AMX bf16
    tiles (where oneDNN runs bf16 convolutions natively), float32 on other CPUs (bf16 there is emulated)."""
    if precision == "float32":
        return torch.float32
    if precision == "bfloat16" or device.type == "cuda":
        return torch.bfloat16
    amx = getattr(getattr(torch, "cpu", None), "_is_amx_tile_supported", None)
    return torch.bfloat16 if device.type == "cpu" and amx is not None and amx() else torch.float32


@contextlib.contextmanager
def autocast(device: torch.device, dtype: torch.dtype) -> Iterator[None]:
    """Autocast to ``dtype`` on ``device``; a no-op for float32. Losses promote scores to float32."""
    if dtype == torch.float32:
        yield
    else:
        with torch.autocast(device_type=device.type, dtype=dtype):
            yield


def make_optimizers(
    generator: nn.Module, discriminator: nn.Module, config: ImageGANConfig
) -> dict[str, torch.optim.Optimizer]:
    return {
        "generator": torch.optim.Adam(generator.parameters(), lr=config.generator_lr, betas=config.betas),
        "discriminator": torch.optim.Adam(discriminator.parameters(), lr=config.discriminator_lr, betas=config.betas),
    }


def empty_loss_sums(device: torch.device) -> dict:
    """Running sums of losses since the last record, kept on the device to avoid a sync per step."""
    zero = torch.zeros((), device=device)
    return {"generator_loss": zero.clone(), "discriminator_loss": zero.clone(), "count": 0}


def mean_losses(loss_sums: dict, step: int) -> dict:
    """The mean losses since the last record, as a loss-history record for ``step`` (one device sync)."""
    count = max(1, loss_sums["count"])
    return {
        "step": step,
        "generator_loss": float(loss_sums["generator_loss"]) / count,
        "discriminator_loss": float(loss_sums["discriminator_loss"]) / count,
    }


def train_step(run: TrainingRun, loss_sums: dict, steps_done: int) -> None:
    """One generator step after ``discriminator_steps`` discriminator steps, then the EMA update;
    ``steps_done`` counts the steps before this one, and the losses are added to ``loss_sums``."""
    steps = run.config.discriminator_steps
    for _ in range(steps):
        loss_sums["discriminator_loss"] += discriminator_step(run) / steps
    loss_sums["generator_loss"] += generator_step(run)
    loss_sums["count"] += 1
    update_ema(run.generator_ema, run.generator, run.config.ema_decay, steps_done)


def _random_latents(run: TrainingRun, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    z = torch.randn(labels.shape[0], run.config.z_dim, generator=run.rng)
    return z.to(run.device), labels.to(run.device)


def discriminator_step(run: TrainingRun) -> torch.Tensor:
    config, discriminator, loss = run.config, run.discriminator, run.loss
    r1 = config.regulariser == "r1"
    indices, labels = run.sampler.sample(config.batch_size, run.rng)
    # NHWC uint8 permuted to NCHW is already channels_last in memory: the layout oneDNN convolves fastest.
    real = to_model_range(run.real_images[indices.to(run.device)]).contiguous(memory_format=torch.channels_last)
    z, labels = _random_latents(run, labels)
    with autocast(run.device, run.precision):
        with torch.no_grad():
            fake = run.generator(z, labels)
        real_augmented = diff_augment(real, config.diffaugment, run.rng).requires_grad_(r1)
        fake_augmented = diff_augment(fake, config.diffaugment, run.rng)
        # One pass over real and fake together: half the spectral-norm power iterations, bigger GEMMs.
        scores = discriminator(torch.cat([real_augmented, fake_augmented]), torch.cat([labels, labels]))
        d_real, d_fake = scores.split(labels.shape[0])
        d_loss = loss.discriminator_loss(d_real, d_fake)
        if loss.penalty is not None:
            d_loss = d_loss + loss.penalty(discriminator, real_augmented, fake_augmented, labels, run.rng)
        if config.regulariser == "lecam":
            d_loss = d_loss + lecam_penalty(d_real, d_fake, run.score_averages)
        if r1:
            d_loss = d_loss + r1_penalty(d_real, real_augmented)
    optimizer = run.optimizers["discriminator"]
    optimizer.zero_grad(set_to_none=True)
    d_loss.backward()
    optimizer.step()
    return d_loss.detach()


def generator_step(run: TrainingRun) -> torch.Tensor:
    mode_seeking = run.config.regulariser == "mode_seeking"
    labels = run.sampler.batch_labels(run.config.batch_size, run.rng)
    if mode_seeking:  # the second half repeats the first half's classes: pairs of latents of one class
        half = labels[: labels.shape[0] // 2]
        labels = torch.cat([half, half])
    z, labels = _random_latents(run, labels)
    optimizer = run.optimizers["generator"]
    run.discriminator.requires_grad_(False)  # gradients flow through D to G, but D's own are not needed
    try:
        with autocast(run.device, run.precision):
            fake = run.generator(z, labels)
            d_fake = run.discriminator(diff_augment(fake, run.config.diffaugment, run.rng), labels)
            g_loss = run.loss.generator_loss(d_fake)
            if mode_seeking:
                g_loss = g_loss + mode_seeking_penalty(fake, z)
        optimizer.zero_grad(set_to_none=True)
        g_loss.backward()
        optimizer.step()
    finally:
        run.discriminator.requires_grad_(True)
    return g_loss.detach()


@torch.no_grad()
def update_ema(generator_ema: nn.Module, generator: nn.Module, ema_decay: float, steps_done: int) -> None:
    # Warm-up: early on the average follows G closely, so it is not anchored to random init.
    decay = min(ema_decay, (1.0 + steps_done) / (10.0 + steps_done))
    torch._foreach_lerp_(list(generator_ema.parameters()), list(generator.parameters()), 1.0 - decay)
    for ema_buffer, buffer in zip(generator_ema.buffers(), generator.buffers()):
        ema_buffer.copy_(buffer)
