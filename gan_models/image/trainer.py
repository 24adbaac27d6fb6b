"""Training, sampling and persistence of class-conditional image GANs.

``ImageGAN`` trains one conditional generator for every class with class-balanced real batches,
DiffAugment on every discriminator input and an exponential moving average (EMA) of the generator
weights, which is the network used for sampling. ``train_single_class`` + ``PerClassImageGAN`` train
one independent generator per class (one Dagster step per class) and combine them behind the same
``sample``/``save``/``load`` API.
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterator, Mapping, Sequence

import numpy as np
import torch
import torch.nn as nn

from gan_models.checkpoint import (
    check_same_data,
    checkpoint_mismatch,
    data_fingerprint,
    load_checkpoint,
    load_saved_weights,
    parse_saved_config,
    read_saved_model,
    save_checkpoint,
)
from gan_models.image.architectures import ARCHITECTURES, build_architecture, resolution_plan
from gan_models.image.diffaugment import diff_augment, parse_policy
from gan_models.image.losses import LOSSES, get_loss
from gan_models.runtime import autocast, device_for_loading, seed_everything, select_device

Progress = Callable[[int, int, dict], None]

CHECKPOINT_KIND = "image_gan"
# Config fields that may change between an interrupted run and its resumption.
RESUMABLE_CHANGES = ("steps", "checkpoint_every", "device", "log_every")


@dataclass
class ImageGANConfig:
    """Hyper-parameters of one image GAN run (saved as ``config.json`` next to the weights).

    Defaults are sized for scarce 28-64 px data on a CPU. ``base_channels=32``: at 16 the projection
    discriminator could barely tell real from an *untrained* generator under DiffAugment. Batch 32
    and one discriminator step per generator step make a step several times cheaper than 64 and 2.
    ``ema_decay`` is approached with a warm-up, ``min(decay, (1+t)/(10+t))``, so a 2000-step run
    averages over roughly the last few hundred steps rather than reaching back to the random init.
    ``log_every`` sets how often losses are recorded and ``progress`` is called.
    """

    architecture: str = "sngan"
    loss: str = "hinge"
    z_dim: int = 128
    base_channels: int = 32
    steps: int = 2000
    batch_size: int = 32
    generator_lr: float = 2e-4
    discriminator_lr: float = 2e-4
    betas: tuple = (0.0, 0.999)
    discriminator_steps: int = 1
    diffaugment: str = "color,translation,cutout"
    ema_decay: float = 0.999
    seed: int = 0
    device: str = "auto"
    checkpoint_every: int = 0
    log_every: int = 20

    def __post_init__(self) -> None:
        self.betas = tuple(float(b) for b in self.betas)
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"architecture={self.architecture!r} is unknown; choose from {sorted(ARCHITECTURES)}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss={self.loss!r} is unknown; choose from {sorted(LOSSES)}")
        for name in ("z_dim", "base_channels", "steps", "batch_size", "discriminator_steps", "log_every"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(self.checkpoint_every, int) or self.checkpoint_every < 0:
            raise ValueError(f"checkpoint_every must be an integer >= 0 (0 disables), got {self.checkpoint_every!r}")
        for name in ("generator_lr", "discriminator_lr"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas!r}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), got {self.ema_decay!r}")
        parse_policy(self.diffaugment)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "betas": list(self.betas)}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "ImageGANConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"image GAN config has unknown field(s) {unknown}; known fields: {sorted(known)}")
        return cls(**dict(values))


# --------------------------------------------------------------------------- data preparation


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


def _validated_training_data(
    images: np.ndarray, labels: np.ndarray, n_classes: int | None
) -> tuple[np.ndarray, np.ndarray, int]:
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


class BalancedBatchSampler:
    """Draws batches with equal numbers of each class (with replacement within a class).

    Indices are kept grouped by class, so one batch is a few tensor ops however many images there are.
    When the batch size is not a multiple of the class count, the classes that get one extra image
    rotate at random from batch to batch.
    """

    def __init__(self, labels: np.ndarray, n_classes: int):
        labels_tensor = torch.from_numpy(labels)
        self.n_classes = n_classes
        self.grouped_indices = torch.argsort(labels_tensor, stable=True)
        self.counts = torch.bincount(labels_tensor, minlength=n_classes)
        self.starts = torch.cumsum(self.counts, 0) - self.counts

    def batch_labels(self, batch_size: int, generator: torch.Generator) -> torch.Tensor:
        offset = torch.randint(0, self.n_classes, (1,), generator=generator)
        return (torch.arange(batch_size) + offset) % self.n_classes

    def sample(self, batch_size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(image_indices, labels)`` for one balanced batch (CPU int64 tensors)."""
        labels = self.batch_labels(batch_size, generator)
        within_class = (torch.rand(batch_size, generator=generator) * self.counts[labels]).long()
        within_class = torch.minimum(within_class, self.counts[labels] - 1)
        return self.grouped_indices[self.starts[labels] + within_class], labels


def _empty_loss_sums(device: torch.device) -> dict:
    """Running sums of losses since the last record, kept on the device to avoid a sync per step."""
    zero = torch.zeros((), device=device)
    return {"generator_loss": zero.clone(), "discriminator_loss": zero.clone(), "count": 0}


def to_model_range(images_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 ``(N, H, W, C)`` → float ``(N, C, H, W)`` in [-1, 1]."""
    return images_uint8.permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def to_uint8_nhwc(images: torch.Tensor) -> np.ndarray:
    """float ``(N, C, H, W)`` in [-1, 1] → uint8 ``(N, H, W, C)`` numpy array."""
    scaled = images.float().add(1.0).mul(127.5).round().clamp(0, 255).to(torch.uint8)
    return scaled.permute(0, 2, 3, 1).contiguous().cpu().numpy()


# --------------------------------------------------------------------------- the model


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
        is called every ``config.log_every`` steps.
        """
        images, labels, n_classes = _validated_training_data(images, labels, n_classes)
        return self._fit(images, labels, list(range(n_classes)), progress, checkpoint_dir)

    def _fit(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        classes: list[int],
        progress: Progress | None,
        checkpoint_dir: Path | None,
    ) -> "ImageGAN":
        config = self.config
        self.device = select_device(config.device)
        rng = seed_everything(config.seed)
        self.image_size, self.channels = images.shape[1], images.shape[3]
        self.n_classes, self.classes = len(classes), [int(c) for c in classes]
        self._build_networks()
        self.loss_history, self.steps_done = [], 0
        optimizers = self._make_optimizers()
        pending = _empty_loss_sums(self.device)

        fingerprint = checkpoint = None
        if checkpoint_dir is not None:
            fingerprint = _training_data_fingerprint(images, labels, self.classes)
            checkpoint = load_checkpoint(Path(checkpoint_dir), CHECKPOINT_KIND)
        if checkpoint is not None:
            pending = self._restore(checkpoint, optimizers, rng, Path(checkpoint_dir), fingerprint)

        real_images = torch.from_numpy(images).to(self.device)  # uint8 stays uint8 on the device
        sampler = BalancedBatchSampler(labels, self.n_classes)
        loss = get_loss(config.loss)
        started = time.perf_counter()

        while self.steps_done < config.steps:
            for _ in range(config.discriminator_steps):
                d_loss = self._discriminator_step(real_images, sampler, loss, optimizers["discriminator"], rng)
                pending["discriminator_loss"] += d_loss / config.discriminator_steps
            pending["generator_loss"] += self._generator_step(sampler, loss, optimizers["generator"], rng)
            pending["count"] += 1
            self._update_ema()
            self.steps_done += 1

            record = None
            if self.steps_done % config.log_every == 0 or self.steps_done == config.steps:
                record = self._record_losses(pending)
                pending = _empty_loss_sums(self.device)
            if self._checkpoint_due(checkpoint_dir):
                self._save_checkpoint(checkpoint_dir, optimizers, rng, pending, fingerprint)
            if record is not None and progress is not None:
                progress(self.steps_done, config.steps, record)

        self.train_seconds += time.perf_counter() - started
        if checkpoint_dir is not None and config.checkpoint_every > 0:
            self._save_checkpoint(checkpoint_dir, optimizers, rng, pending, fingerprint)
        return self

    def _build_networks(self) -> None:
        config = self.config
        generator, discriminator = build_architecture(
            config.architecture, self.image_size, self.channels, self.n_classes, config.z_dim, config.base_channels
        )
        self.generator = generator.to(self.device)
        self.discriminator = discriminator.to(self.device)
        self.generator_ema = copy.deepcopy(self.generator).eval().requires_grad_(False)

    def _make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        config = self.config
        return {
            "generator": torch.optim.Adam(self.generator.parameters(), lr=config.generator_lr, betas=config.betas),
            "discriminator": torch.optim.Adam(
                self.discriminator.parameters(), lr=config.discriminator_lr, betas=config.betas
            ),
        }

    def _random_latents(self, labels: torch.Tensor, rng: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        z = torch.randn(labels.shape[0], self.config.z_dim, generator=rng)
        return z.to(self.device), labels.to(self.device)

    def _discriminator_step(self, real_images, sampler, loss, optimizer, rng) -> torch.Tensor:
        indices, labels = sampler.sample(self.config.batch_size, rng)
        real = to_model_range(real_images[indices.to(self.device)])
        z, labels = self._random_latents(labels, rng)
        policy = self.config.diffaugment
        with autocast(self.device):
            with torch.no_grad():
                fake = self.generator(z, labels)
            real_augmented = diff_augment(real, policy, rng)
            fake_augmented = diff_augment(fake, policy, rng)
            # One pass over real and fake together: half the spectral-norm power iterations, bigger GEMMs.
            scores = self.discriminator(torch.cat([real_augmented, fake_augmented]), torch.cat([labels, labels]))
            d_real, d_fake = scores.split(labels.shape[0])
            d_loss = loss.discriminator_loss(d_real, d_fake)
            if loss.penalty is not None:
                d_loss = d_loss + loss.penalty(self.discriminator, real_augmented, fake_augmented, labels, rng)
        optimizer.zero_grad(set_to_none=True)
        d_loss.backward()
        optimizer.step()
        return d_loss.detach()

    def _generator_step(self, sampler, loss, optimizer, rng) -> torch.Tensor:
        z, labels = self._random_latents(sampler.batch_labels(self.config.batch_size, rng), rng)
        self.discriminator.requires_grad_(False)  # gradients flow through D to G, but D's own are not needed
        try:
            with autocast(self.device):
                fake = self.generator(z, labels)
                d_fake = self.discriminator(diff_augment(fake, self.config.diffaugment, rng), labels)
                g_loss = loss.generator_loss(d_fake)
            optimizer.zero_grad(set_to_none=True)
            g_loss.backward()
            optimizer.step()
        finally:
            self.discriminator.requires_grad_(True)
        return g_loss.detach()

    @torch.no_grad()
    def _update_ema(self) -> None:
        # Warm-up: early on the average follows G closely, so it is not anchored to random init.
        decay = min(self.config.ema_decay, (1.0 + self.steps_done) / (10.0 + self.steps_done))
        for ema_param, param in zip(self.generator_ema.parameters(), self.generator.parameters()):
            ema_param.lerp_(param, 1.0 - decay)
        for ema_buffer, buffer in zip(self.generator_ema.buffers(), self.generator.buffers()):
            ema_buffer.copy_(buffer)

    def _record_losses(self, loss_sums: dict) -> dict:
        """Append the mean losses since the last record to ``loss_history`` (one device sync)."""
        count = max(1, loss_sums["count"])
        record = {
            "step": self.steps_done,
            "generator_loss": float(loss_sums["generator_loss"]) / count,
            "discriminator_loss": float(loss_sums["discriminator_loss"]) / count,
        }
        self.loss_history.append(record)
        return record

    # ----------------------------------------------------------------------- checkpoints

    def _checkpoint_due(self, checkpoint_dir: Path | None) -> bool:
        every = self.config.checkpoint_every
        return checkpoint_dir is not None and every > 0 and self.steps_done % every == 0

    def _save_checkpoint(
        self, checkpoint_dir: Path, optimizers: dict, rng: torch.Generator, loss_sums: dict, fingerprint: str
    ) -> None:
        save_checkpoint(
            Path(checkpoint_dir),
            {
                "kind": CHECKPOINT_KIND,
                "data_fingerprint": fingerprint,
                "config": self.config.to_dict(),
                "meta": {"image_size": self.image_size, "channels": self.channels, "classes": self.classes},
                "step": self.steps_done,
                "generator": self.generator.state_dict(),
                "discriminator": self.discriminator.state_dict(),
                "generator_ema": self.generator_ema.state_dict(),
                "generator_optimizer": optimizers["generator"].state_dict(),
                "discriminator_optimizer": optimizers["discriminator"].state_dict(),
                "rng_state": rng.get_state(),
                "loss_history": list(self.loss_history),
                "pending_losses": {name: float(value) for name, value in loss_sums.items()},
                "train_seconds": self.train_seconds,
            },
        )

    def _restore(
        self, checkpoint: dict, optimizers: dict, rng: torch.Generator, directory: Path, fingerprint: str
    ) -> dict:
        saved_config = checkpoint["config"]
        current_config = self.config.to_dict()
        changed = sorted(
            name for name in current_config
            if name not in RESUMABLE_CHANGES and saved_config.get(name) != current_config[name]
        )
        if changed:
            raise checkpoint_mismatch(directory, f"with a different config ({changed} differ)")
        expected = {"image_size": self.image_size, "channels": self.channels, "classes": self.classes}
        if checkpoint["meta"] != expected:
            raise checkpoint_mismatch(directory, f"for data shaped {checkpoint['meta']}, but this data is {expected}")
        check_same_data(checkpoint, fingerprint, directory)
        self.generator.load_state_dict(checkpoint["generator"])
        self.discriminator.load_state_dict(checkpoint["discriminator"])
        self.generator_ema.load_state_dict(checkpoint["generator_ema"])
        optimizers["generator"].load_state_dict(checkpoint["generator_optimizer"])
        optimizers["discriminator"].load_state_dict(checkpoint["discriminator_optimizer"])
        rng.set_state(checkpoint["rng_state"])
        self.steps_done = int(checkpoint["step"])
        self.loss_history = list(checkpoint["loss_history"])
        self.train_seconds = float(checkpoint["train_seconds"])
        pending = checkpoint["pending_losses"]
        return {
            "generator_loss": torch.tensor(pending["generator_loss"], device=self.device),
            "discriminator_loss": torch.tensor(pending["discriminator_loss"], device=self.device),
            "count": int(pending["count"]),
        }

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
        counts = _validated_class_counts(class_counts, self.classes, chunk_size)
        return self._generate(counts, chunk_size, self.config.seed if seed is None else seed)

    def _generate(self, counts: dict[int, int], chunk_size: int, seed: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        ordered = sorted(counts)
        real_labels = np.asarray(ordered, dtype=np.int64)
        internal_labels = torch.tensor([self.classes.index(c) for c in ordered], dtype=torch.int64)
        boundaries = np.cumsum([counts[c] for c in ordered])
        total = int(boundaries[-1]) if len(boundaries) else 0
        rng = torch.Generator().manual_seed(int(seed))
        for start in range(0, total, chunk_size):
            positions = np.arange(start, min(start + chunk_size, total))
            class_slots = np.searchsorted(boundaries, positions, side="right")
            labels = internal_labels[torch.from_numpy(class_slots)].to(self.device)
            z = torch.randn(positions.shape[0], self.config.z_dim, generator=rng).to(self.device)
            with torch.no_grad(), autocast(self.device):
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
            "train_seconds": self.train_seconds,
            "device": str(self.device),
            "loss_history": self.loss_history,
        }

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
        model.loss_history = meta["loss_history"]
        model._build_networks()
        for name, network in (
            ("generator_ema", model.generator_ema),
            ("generator", model.generator),
            ("discriminator", model.discriminator),
        ):
            load_saved_weights(directory, "ImageGAN", f"{name}.pt", network, model.device)
        return model


def _training_data_fingerprint(images: np.ndarray, labels: np.ndarray, classes: Sequence[int]) -> str:
    """Content fingerprint of the images, their labels and the classes the labels stand for (a checkpoint
    resumes only the same)."""
    layout = repr((images.shape, str(images.dtype), labels.shape, str(labels.dtype), list(classes)))
    contents = [memoryview(np.ascontiguousarray(array)) for array in (images, labels)]
    return data_fingerprint([layout, *contents])


def _validated_class_counts(class_counts: Mapping[int, int], classes: Sequence[int], chunk_size: int) -> dict[int, int]:
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


# --------------------------------------------------------------------------- one generator per class


def train_single_class(
    images: np.ndarray,
    label: int,
    config: ImageGANConfig | None = None,
    progress: Progress | None = None,
    checkpoint_dir: Path | None = None,
) -> ImageGAN:
    """Train an independent generator on the images of one class (``n_classes=1`` inside).

    The model remembers ``label``, so ``sample({label: n})`` yields images labelled ``label``.
    """
    images = as_nhwc(images)
    if images.shape[0] == 0:
        raise ValueError(f"class {label!r} has no images to train on")
    internal_labels = np.zeros(images.shape[0], dtype=np.int64)
    images, internal_labels, _ = _validated_training_data(images, internal_labels, 1)
    return ImageGAN(config)._fit(images, internal_labels, [int(label)], progress, checkpoint_dir)


class PerClassImageGAN:
    """Independent single-class generators combined behind ImageGAN's ``sample``/``save``/``load``."""

    modality: ClassVar[str] = "image"
    artifact_key: ClassVar[str] = "per_class_image_gan"  # names the type in stored artefacts: never change it

    def __init__(self, models: Mapping[int, ImageGAN]):
        if not models:
            raise ValueError("models is empty: give one trained single-class ImageGAN per class")
        for label, model in models.items():
            model._require_fitted()
            if model.classes != [int(label)]:
                raise ValueError(
                    f"models[{label!r}] was trained for classes {model.classes}; each entry must be a single-class "
                    "model for its own label (see train_single_class)"
                )
        shapes = {(m.image_size, m.channels) for m in models.values()}
        if len(shapes) != 1:
            raise ValueError(f"the per-class models disagree on (image_size, channels): {sorted(shapes)}")
        self.models = {int(label): models[label] for label in sorted(models)}
        self.image_size, self.channels = shapes.pop()
        self.classes = list(self.models)
        self.n_classes = len(self.classes)

    def sample(
        self, class_counts: Mapping[int, int], chunk_size: int = 512, seed: int | None = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield chunks class by class from each class's own generator (same contract as ImageGAN.sample).

        With ``seed``, class ``c`` is sampled with seed ``seed + c`` so classes draw distinct noise.
        """
        counts = _validated_class_counts(class_counts, self.classes, chunk_size)
        return self._generate(counts, chunk_size, seed)

    def _generate(
        self, counts: dict[int, int], chunk_size: int, seed: int | None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for label in sorted(counts):
            class_seed = None if seed is None else seed + label
            yield from self.models[label].sample({label: counts[label]}, chunk_size, class_seed)

    def metadata(self) -> dict[str, Any]:
        return {
            "kind": "per_class_image_gan",
            "image_size": self.image_size,
            "channels": self.channels,
            "classes": self.classes,
            "per_class": {str(label): model.metadata() for label, model in self.models.items()},
        }

    def save(self, directory: Path) -> Path:
        """Save each class's model under ``class_<label>/`` plus a ``meta.json`` listing them."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for label, model in self.models.items():
            model.save(directory / f"class_{label}")
        meta = {key: value for key, value in self.metadata().items() if key != "per_class"}
        (directory / "meta.json").write_text(json.dumps(meta, indent=2))
        return directory

    @classmethod
    def load(cls, directory: Path, device: str | None = None) -> "PerClassImageGAN":
        directory = Path(directory)
        meta_path = directory / "meta.json"
        meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
        if meta.get("kind") != "per_class_image_gan":
            raise ValueError(f"{directory} is not a saved PerClassImageGAN (meta.json missing or of another kind)")
        return cls({label: ImageGAN.load(directory / f"class_{label}", device) for label in meta["classes"]})


def load_image_gan(directory: Path, device: str | None = None) -> ImageGAN | PerClassImageGAN:
    """Load whichever image GAN kind (joint or per-class) was saved in ``directory``."""
    meta_path = Path(directory) / "meta.json"
    if not meta_path.is_file():
        raise ValueError(f"{directory} holds no saved image GAN (meta.json is missing)")
    kind = json.loads(meta_path.read_text()).get("kind")
    if kind == "per_class_image_gan":
        return PerClassImageGAN.load(directory, device)
    return ImageGAN.load(directory, device)


# --------------------------------------------------------------------------- preview grid


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
