"""Training, sampling and persistence of the class-conditional image GAN.

``ImageGAN`` trains one conditional generator for every class with class-balanced real batches,
DiffAugment on every discriminator input and an exponential moving average (EMA) of the generator
weights, which is the network used for sampling (one step: ``training.train_step``). ``per_class``
trains one independent generator per class behind the same ``sample``/``save``/``load`` API.
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterator, Mapping

import numpy as np
import torch
import torch.nn as nn

from gan_models.checkpoint import load_checkpoint, load_saved_weights, parse_saved_config, read_saved_model
from gan_models.image.architectures import build_architecture
from gan_models.image.config import ImageGANConfig
from gan_models.image.data import to_uint8_nhwc, validated_class_counts, validated_training_data
from gan_models.image.losses import get_loss
from gan_models.image.resume import CHECKPOINT_KIND, restore_run, save_run_checkpoint, training_data_fingerprint
from gan_models.image.sampler import BalancedBatchSampler
from gan_models.image.training import (
    TrainingRun,
    autocast,
    empty_loss_sums,
    make_optimizers,
    mean_losses,
    resolved_precision,
    train_step,
)
from gan_models.runtime import device_for_loading, seed_everything, select_device

Progress = Callable[[int, int, dict], None]
clock = time.perf_counter  # the budget's clock (a test replaces it)


class ImageGAN:
    """A class-conditional image GAN: ``fit`` on uint8 images, ``sample`` exact class counts."""

    modality: ClassVar[str] = "image"
    artifact_key: ClassVar[str] = "image_gan"  # names the type in stored artefacts: never change it

    def __init__(self, config: ImageGANConfig | None = None):
        self.config = config or ImageGANConfig()
        self.generator: nn.Module | None = None
        self.discriminator: nn.Module | None = None
        self.generator_ema: nn.Module | None = None
        self.image_size = 0
        self.channels = 0
        self.n_classes = 0
        self.classes: list[int] = []
        self.loss_history: list[dict] = []
        self.steps_done = 0
        self.train_seconds = 0.0
        self.device = torch.device("cpu")
        self.stopped_by_budget = False
        self._resumed_from_step = 0

    # ----------------------------------------------------------------------- training

    def fit(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        n_classes: int | None = None,
        progress: Progress | None = None,
        checkpoint_dir: Path | None = None,
    ) -> "ImageGAN":
        """Train on uint8 ``images`` ``(N, H, W[, C])`` and int ``labels`` in ``0..n_classes-1``.

        With ``checkpoint_dir``, an existing checkpoint there is resumed (ending at the same total
        step count) and, when ``config.checkpoint_every > 0``, a new one is written that often and
        at the end; one written for another config, other images or labels, or by the tabular GAN is
        refused with a ValueError. ``progress(step, total, {"generator_loss", "discriminator_loss"})``
        is called every ``config.log_every`` steps and at the last one. Under ``config.budget_minutes`` the
        loop stops after the step that spends the budget (``stopped_by_budget``), and ``total`` is the step
        it is then projected to stop at, so the caller's percentage and time left stay right.
        """
        images, labels, n_classes = validated_training_data(images, labels, n_classes)
        return self._fit(images, labels, list(range(n_classes)), progress, checkpoint_dir)

    def _fit(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        classes: list[int],
        progress: Progress | None,
        checkpoint_dir: Path | None,
    ) -> "ImageGAN":
        run = self._start_run(images, labels, classes)
        pending = empty_loss_sums(self.device)
        fingerprint = checkpoint = None
        if checkpoint_dir is not None:
            fingerprint = training_data_fingerprint(images, labels, self.classes)
            checkpoint = load_checkpoint(Path(checkpoint_dir), CHECKPOINT_KIND)
        if checkpoint is not None:
            pending = restore_run(checkpoint, self, run, Path(checkpoint_dir), fingerprint)
        self._resumed_from_step = self.steps_done
        started = clock()
        pending = self._train(run, pending, progress, checkpoint_dir, fingerprint, started)
        self.train_seconds += clock() - started
        if checkpoint_dir is not None and self.config.checkpoint_every > 0:
            save_run_checkpoint(checkpoint_dir, self, run, pending, fingerprint)
        return self

    def _start_run(self, images: np.ndarray, labels: np.ndarray, classes: list[int]) -> TrainingRun:
        """Seed, build fresh networks and optimisers for ``images``, and reset the training counters."""
        config = self.config
        self.device = select_device(config.device)
        rng = seed_everything(config.seed)
        self.image_size, self.channels = images.shape[1], images.shape[3]
        self.n_classes, self.classes = len(classes), [int(c) for c in classes]
        self._build_networks()
        self.loss_history, self.steps_done, self.stopped_by_budget = [], 0, False
        return TrainingRun(
            config=config,
            device=self.device,
            generator=self.generator,
            discriminator=self.discriminator,
            generator_ema=self.generator_ema,
            optimizers=make_optimizers(self.generator, self.discriminator, config),
            rng=rng,
            real_images=torch.from_numpy(images).to(self.device),  # uint8 stays uint8 on the device
            sampler=BalancedBatchSampler(labels, self.n_classes),
            loss=get_loss(config.loss),
            precision=resolved_precision(config.precision, self.device),
        )

    def _train(
        self, run: TrainingRun, pending: dict, progress: Progress | None, checkpoint_dir: Path | None,
        fingerprint: str, started: float,
    ) -> dict:
        """Step to ``config.steps`` or until the budget is spent, recording losses and writing checkpoints;
        returns the unrecorded loss sums."""
        config = self.config
        budget = 60.0 * config.budget_minutes
        first_step = self.steps_done
        while self.steps_done < config.steps:
            train_step(run, pending, self.steps_done)
            self.steps_done += 1
            elapsed = clock() - started
            self.stopped_by_budget = 0 < budget <= elapsed and self.steps_done < config.steps
            last = self.steps_done == config.steps or self.stopped_by_budget
            record = None
            if self.steps_done % config.log_every == 0 or last:
                record = mean_losses(pending, self.steps_done)
                self.loss_history.append(record)
                pending = empty_loss_sums(self.device)
            if self._checkpoint_due(checkpoint_dir):
                save_run_checkpoint(checkpoint_dir, self, run, pending, fingerprint)
            if record is not None and progress is not None:
                progress(self.steps_done, self._projected_total(budget, elapsed, first_step, last), record)
            if self.stopped_by_budget:
                break
        return pending

    def _projected_total(self, budget: float, elapsed: float, first_step: int, last: bool) -> int:
        """The step training will stop at: ``config.steps``, or sooner when the budget will run out first."""
        steps = self.config.steps
        if last or budget <= 0:
            return self.steps_done if last else steps
        pace = elapsed / max(1, self.steps_done - first_step)
        reachable = self.steps_done + int(max(0.0, budget - elapsed) / pace) + 1 if pace > 0 else steps
        return min(steps, max(self.steps_done + 1, reachable))

    def _checkpoint_due(self, checkpoint_dir: Path | None) -> bool:
        every = self.config.checkpoint_every
        return checkpoint_dir is not None and every > 0 and self.steps_done % every == 0

    def _build_networks(self) -> None:
        config = self.config
        generator, discriminator = build_architecture(
            config.architecture, self.image_size, self.channels, self.n_classes, config.z_dim, config.base_channels
        )
        # channels_last: oneDNN's fastest layout for these convolutions (1.3x on the CPU), same results.
        self.generator = generator.to(self.device, memory_format=torch.channels_last)
        self.discriminator = discriminator.to(self.device, memory_format=torch.channels_last)
        self.generator_ema = copy.deepcopy(self.generator).eval().requires_grad_(False)

    # ----------------------------------------------------------------------- sampling

    def sample(
        self, class_counts: Mapping[int, int], chunk_size: int = 512, seed: int | None = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(uint8 images (n, H, W, C), int64 labels (n,))`` chunks from the EMA generator.

        Totals match ``class_counts`` exactly (every sample is generated for its class; nothing is
        rejected). Classes come in ascending order; at most ``chunk_size`` images are held at once.
        ``seed=None`` uses ``config.seed``, so sampling is reproducible by default.
        """
        self._require_fitted()
        counts = validated_class_counts(class_counts, self.classes, chunk_size)
        return self._generate(counts, chunk_size, self.config.seed if seed is None else seed)

    def _generate(self, counts: dict[int, int], chunk_size: int, seed: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        ordered = sorted(counts)
        real_labels = np.asarray(ordered, dtype=np.int64)
        internal_labels = torch.tensor([self.classes.index(c) for c in ordered], dtype=torch.int64)
        boundaries = np.cumsum([counts[c] for c in ordered])
        total = int(boundaries[-1]) if len(boundaries) else 0
        rng = torch.Generator().manual_seed(int(seed))
        precision = resolved_precision(self.config.precision, self.device)
        for start in range(0, total, chunk_size):
            positions = np.arange(start, min(start + chunk_size, total))
            class_slots = np.searchsorted(boundaries, positions, side="right")
            labels = internal_labels[torch.from_numpy(class_slots)].to(self.device)
            z = torch.randn(positions.shape[0], self.config.z_dim, generator=rng).to(self.device)
            with torch.no_grad(), autocast(self.device, precision):
                images = self.generator_ema(z, labels)
            yield to_uint8_nhwc(images), real_labels[class_slots]

    def _require_fitted(self) -> None:
        if self.generator_ema is None:
            raise ValueError("this ImageGAN has not been trained: call fit() or ImageGAN.load() first")

    # ----------------------------------------------------------------------- persistence

    def metadata(self) -> dict[str, Any]:
        """What ``meta.json`` records: data shape, classes, training progress and loss curve."""
        return {
            "kind": "image_gan",
            "image_size": self.image_size,
            "channels": self.channels,
            "n_classes": self.n_classes,
            "classes": self.classes,
            "steps_done": self.steps_done,
            "stopped_by_budget": self.stopped_by_budget,
            "train_seconds": self.train_seconds,
            "device": str(self.device),
            "loss_history": self.loss_history,
        }

    @property
    def training_info(self) -> dict[str, Any]:
        """Training facts: ``metadata()`` without its kind and loss curve, plus the step the last ``fit``
        in this process resumed from (0 when it started afresh, and after ``load``)."""
        facts = {key: value for key, value in self.metadata().items() if key not in ("kind", "loss_history")}
        return {**facts, "resumed_from_step": self._resumed_from_step}

    def save(self, directory: Path) -> Path:
        """Write ``generator_ema.pt``, ``generator.pt``, ``discriminator.pt`` (state_dicts),
        ``config.json`` and ``meta.json`` to ``directory``; returns the directory."""
        self._require_fitted()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        torch.save(self.generator_ema.state_dict(), directory / "generator_ema.pt")
        torch.save(self.generator.state_dict(), directory / "generator.pt")
        torch.save(self.discriminator.state_dict(), directory / "discriminator.pt")
        (directory / "config.json").write_text(json.dumps(self.config.to_dict(), indent=2))
        (directory / "meta.json").write_text(json.dumps(self.metadata(), indent=2))
        return directory

    @classmethod
    def load(cls, directory: Path, device: str | None = None) -> "ImageGAN":
        """Rebuild a saved model from its state_dicts (``weights_only=True``, no pickled modules).

        ``device`` must be available here; without it the device the model was saved with is used when
        this machine has it, and the CPU otherwise.
        """
        directory = Path(directory)
        config_values, meta = read_saved_model(
            directory, "ImageGAN", ("config.json", "meta.json", "generator_ema.pt", "generator.pt", "discriminator.pt")
        )
        config = parse_saved_config(directory, "ImageGAN", config_values, ImageGANConfig.from_dict)
        if device is not None:
            config.device = device
        model = cls(config)
        model.device = device_for_loading(config.device, requested=device)
        model.image_size, model.channels = meta["image_size"], meta["channels"]
        model.classes = [int(c) for c in meta["classes"]]
        model.n_classes = len(model.classes)
        model.steps_done, model.train_seconds = meta["steps_done"], meta["train_seconds"]
        model.stopped_by_budget = bool(meta.get("stopped_by_budget", False))
        model.loss_history = meta["loss_history"]
        model._build_networks()
        for name, network in (
            ("generator_ema", model.generator_ema),
            ("generator", model.generator),
            ("discriminator", model.discriminator),
        ):
            load_saved_weights(directory, "ImageGAN", f"{name}.pt", network, model.device)
        return model
