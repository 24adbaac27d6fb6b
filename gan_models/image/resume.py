"""The image GAN's training checkpoints: what one holds, and the checks and restore of a resumed run."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np
import torch

from gan_models.checkpoint import check_same_data, checkpoint_mismatch, data_fingerprint, save_checkpoint
from gan_models.image.losses import ScoreAverages
from gan_models.image.training import TrainingRun

if TYPE_CHECKING:
    from gan_models.image.trainer import ImageGAN

CHECKPOINT_KIND = "image_gan"
# Config fields that may change between an interrupted run and its resumption.
RESUMABLE_CHANGES = ("steps", "checkpoint_every", "device", "log_every", "budget_minutes")


def training_data_fingerprint(images: np.ndarray, labels: np.ndarray, classes: Sequence[int]) -> str:
    """Content fingerprint of the images, their labels and the classes the labels stand for (a checkpoint
    resumes only the same)."""
    layout = repr((images.shape, str(images.dtype), labels.shape, str(labels.dtype), list(classes)))
    contents = [memoryview(np.ascontiguousarray(array)) for array in (images, labels)]
    return data_fingerprint([layout, *contents])


def save_run_checkpoint(directory: Path, model: ImageGAN, run: TrainingRun, loss_sums: dict, fingerprint: str) -> None:
    """Write everything ``model``'s run needs to go on from its current step (see ``restore_run``)."""
    save_checkpoint(
        Path(directory),
        {
            "kind": CHECKPOINT_KIND,
            "data_fingerprint": fingerprint,
            "config": model.config.to_dict(),
            "meta": _data_shape(model),
            "step": model.steps_done,
            "generator": model.generator.state_dict(),
            "discriminator": model.discriminator.state_dict(),
            "generator_ema": model.generator_ema.state_dict(),
            "generator_optimizer": run.optimizers["generator"].state_dict(),
            "discriminator_optimizer": run.optimizers["discriminator"].state_dict(),
            "rng_state": run.rng.get_state(),
            "loss_history": list(model.loss_history),
            "pending_losses": {name: float(value) for name, value in loss_sums.items()},
            "train_seconds": model.train_seconds,
            "score_averages": {"real": run.score_averages.real, "fake": run.score_averages.fake},
        },
    )


def restore_run(checkpoint: dict, model: ImageGAN, run: TrainingRun, directory: Path, fingerprint: str) -> dict:
    """Put ``model``'s networks, optimisers, RNG and counters back where the checkpoint left them, after
    refusing one written for another config or other data; returns the pending loss sums."""
    saved_config = checkpoint["config"]
    current_config = model.config.to_dict()
    defaults = type(model.config)().to_dict()  # a field the checkpoint predates had its default then
    changed = sorted(
        name for name in current_config
        if name not in RESUMABLE_CHANGES and saved_config.get(name, defaults[name]) != current_config[name]
    )
    if changed:
        raise checkpoint_mismatch(directory, f"with a different config ({changed} differ)")
    expected = _data_shape(model)
    if checkpoint["meta"] != expected:
        raise checkpoint_mismatch(directory, f"for data shaped {checkpoint['meta']}, but this data is {expected}")
    check_same_data(checkpoint, fingerprint, directory)
    model.generator.load_state_dict(checkpoint["generator"])
    model.discriminator.load_state_dict(checkpoint["discriminator"])
    model.generator_ema.load_state_dict(checkpoint["generator_ema"])
    run.optimizers["generator"].load_state_dict(checkpoint["generator_optimizer"])
    run.optimizers["discriminator"].load_state_dict(checkpoint["discriminator_optimizer"])
    run.rng.set_state(checkpoint["rng_state"])
    model.steps_done = int(checkpoint["step"])
    model.loss_history = list(checkpoint["loss_history"])
    model.train_seconds = float(checkpoint["train_seconds"])
    averages = checkpoint.get("score_averages", {})
    run.score_averages = ScoreAverages(averages.get("real"), averages.get("fake"))
    pending = checkpoint["pending_losses"]
    return {
        "generator_loss": torch.tensor(pending["generator_loss"], device=model.device),
        "discriminator_loss": torch.tensor(pending["discriminator_loss"], device=model.device),
        "count": int(pending["count"]),
    }


def _data_shape(model: ImageGAN) -> dict:
    return {"image_size": model.image_size, "channels": model.channels, "classes": model.classes}
