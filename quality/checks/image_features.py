"""One small CNN, written once: the feature space of the image checks and the downstream lift classifier.

Nothing is downloaded: the feature extractor is the same CNN trained as a classifier on the REAL TRAIN
split only, and its pooled activations are the embedding for FID, precision/recall, density/coverage,
C2ST, diversity and privacy distances.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import torch
from torch import nn

from gan_models.runtime import autocast, seed_everything, select_device

# Augmentation hook: the epoch's uint8 images (N, H, W, C) in, augmented uint8 images of the same shape out.
BatchAugment = Callable[[np.ndarray], np.ndarray]

STAGE_WIDTHS = (32, 64, 128)


class SmallCNN(nn.Module):
    """Three conv-BN-ReLU stages (pooling between them), global average pooling and a linear head.

    Images larger than 32 px are average-pooled first so the cost stays that of a ~32 px input.
    """

    def __init__(self, channels: int, n_classes: int, image_size: int) -> None:
        super().__init__()
        stem_pool = max(1, image_size // 32)
        layers: list[nn.Module] = [nn.AvgPool2d(stem_pool)] if stem_pool > 1 else []
        width_in = channels
        for stage, width in enumerate(STAGE_WIDTHS):
            layers += [nn.Conv2d(width_in, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
            if stage < len(STAGE_WIDTHS) - 1:
                layers.append(nn.MaxPool2d(2))
            width_in = width
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(width_in, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def build_small_cnn(channels: int, n_classes: int, image_size: int) -> SmallCNN:
    """The project's small image CNN for ``channels``-channel ``image_size`` px images and ``n_classes``."""
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    if n_classes < 2:
        raise ValueError(f"n_classes must be at least 2, got {n_classes}")
    if image_size < 8:
        raise ValueError(f"image_size must be at least 8 px, got {image_size}")
    return SmallCNN(channels, n_classes, image_size)


def images_to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 ``(N, H, W, C)`` to float ``(N, C, H, W)`` in [-1, 1]."""
    _check_images(images, "images")
    return _normalise(_channels_first(images))


def _channels_first(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2)


def _normalise(uint8_batch: torch.Tensor) -> torch.Tensor:
    return uint8_batch.float().div(127.5).sub(1.0)


def train_classifier(
    images: np.ndarray,
    labels: np.ndarray,
    seed: int,
    epochs: int = 15,
    batch_size: int = 64,
    augment: Optional[BatchAugment] = None,
    device: str = "auto",
    n_classes: Optional[int] = None,
    learning_rate: float = 1e-3,
) -> SmallCNN:
    """Train :func:`build_small_cnn` with Adam, cross-entropy and a cosine learning-rate decay; returns the
    model in eval mode.

    ``augment`` (if given) is applied to the whole training set once per epoch, on the fly. Seeded CPU runs
    repeat exactly. ``n_classes`` defaults to ``max(labels) + 1``.
    """
    _check_images(images, "images")
    labels = _check_labels(labels, len(images), n_classes)
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be positive, got epochs={epochs}, batch_size={batch_size}")
    n_classes = int(n_classes if n_classes is not None else labels.max() + 1)
    torch_device = select_device(device)
    generator = seed_everything(seed)
    model = build_small_cnn(images.shape[-1], n_classes, min(images.shape[1:3])).to(torch_device)
    optimiser = torch.optim.Adam(model.parameters(), lr=learning_rate, weight_decay=1e-4)
    # Cosine decay to zero: the final weights (the ones used) settle instead of being a random point of a
    # noisy trajectory, which keeps seed-to-seed spread of the downstream scores small.
    steps_per_epoch = -(-len(images) // batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=epochs * steps_per_epoch)
    loss_fn = nn.CrossEntropyLoss()
    targets = torch.from_numpy(labels).to(torch_device)
    # Kept as uint8 on the device and normalised per batch, so memory stays a quarter of float32.
    fixed_inputs = None if augment is not None else _channels_first(images).to(torch_device)

    model.train()
    for _ in range(epochs):
        inputs = fixed_inputs if fixed_inputs is not None else _channels_first(_augmented(augment, images))
        inputs = inputs.to(torch_device)
        order = torch.randperm(len(images), generator=generator).to(torch_device)
        for start in range(0, len(order), batch_size):
            batch = order[start:start + batch_size]
            if len(batch) < 2:  # BatchNorm cannot normalise a batch of one
                continue
            with autocast(torch_device):
                loss = loss_fn(model(_normalise(inputs[batch])), targets[batch])
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
    return model.eval()


@torch.no_grad()
def predict_proba(model: nn.Module, images: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Class probabilities ``(N, n_classes)`` (float64) of a trained classifier."""
    model.eval()
    device = next(model.parameters()).device
    outputs = [
        torch.softmax(_run_batched(model, images[start:start + batch_size], device).float(), dim=1)
        for start in range(0, len(images), batch_size)
    ]
    return torch.cat(outputs).cpu().double().numpy() if outputs else np.zeros((0, _n_outputs(model)))


@dataclass
class FeatureExtractor:
    """A small CNN trained on real train images; :meth:`embed` maps images to its pooled features."""

    model: SmallCNN
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.config["height"], self.config["width"], self.config["channels"])

    @torch.no_grad()
    def embed(self, images: np.ndarray, batch_size: int = 512) -> np.ndarray:
        """Feature vectors ``(N, d)`` (float64) of uint8 images shaped like the training images."""
        if tuple(np.shape(images)[1:]) != self.image_shape:
            raise ValueError(
                f"images have shape {np.shape(images)}; this feature extractor was trained on images of "
                f"shape (N, {', '.join(map(str, self.image_shape))})"
            )
        self.model.eval()
        device = next(self.model.parameters()).device
        chunks = [
            _run_batched(self.model.features, images[start:start + batch_size], device).float()
            for start in range(0, len(images), batch_size)
        ]
        width = self.model.head[-1].in_features
        return torch.cat(chunks).cpu().double().numpy() if chunks else np.zeros((0, width))

    def save(self, directory: str | Path) -> Path:
        """Write ``feature_extractor.pt`` (state_dict only) and ``feature_extractor.json`` (config)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        state = {name: tensor.detach().cpu() for name, tensor in self.model.state_dict().items()}
        torch.save(state, directory / "feature_extractor.pt")
        (directory / "feature_extractor.json").write_text(json.dumps(self.config, indent=2))
        return directory

    @classmethod
    def load(cls, directory: str | Path, device: str = "auto") -> "FeatureExtractor":
        """Rebuild an extractor written by :meth:`save` (weights loaded with ``weights_only=True``)."""
        directory = Path(directory)
        for name in ("feature_extractor.pt", "feature_extractor.json"):
            if not (directory / name).is_file():
                raise ValueError(f"{directory / name} does not exist; was the extractor saved with .save()?")
        config = json.loads((directory / "feature_extractor.json").read_text())
        model = build_small_cnn(config["channels"], config["n_classes"], min(config["height"], config["width"]))
        state = torch.load(directory / "feature_extractor.pt", map_location="cpu", weights_only=True)
        model.load_state_dict(state)
        return cls(model.to(select_device(device)).eval(), config)


def train_feature_extractor(
    images: np.ndarray,
    labels: np.ndarray,
    seed: int = 0,
    epochs: int = 20,
    batch_size: int = 64,
    device: str = "auto",
    n_classes: Optional[int] = None,
) -> FeatureExtractor:
    """Train the feature CNN as a classifier on REAL TRAIN images only (never validation or holdout)."""
    model = train_classifier(images, labels, seed=seed, epochs=epochs, batch_size=batch_size,
                             device=device, n_classes=n_classes)
    config = {
        "channels": int(images.shape[-1]),
        "height": int(images.shape[1]),
        "width": int(images.shape[2]),
        "n_classes": int(model.head[-1].out_features),
        "seed": int(seed),
        "epochs": int(epochs),
        "n_train_images": int(len(images)),
        "feature_dim": int(model.head[-1].in_features),
    }
    return FeatureExtractor(model, config)


def _augmented(augment: BatchAugment, images: np.ndarray) -> np.ndarray:
    augmented = augment(images)
    if not isinstance(augmented, np.ndarray) or augmented.shape != images.shape or augmented.dtype != np.uint8:
        raise ValueError(
            f"augment returned {getattr(augmented, 'shape', None)} {getattr(augmented, 'dtype', None)}; "
            f"it must return uint8 images of the shape it was given, {images.shape}"
        )
    return augmented


def _run_batched(module: nn.Module, images: np.ndarray, device: torch.device) -> torch.Tensor:
    with autocast(device):
        return module(images_to_tensor(images).to(device))


def _n_outputs(model: nn.Module) -> int:
    return int(model.head[-1].out_features) if isinstance(model, SmallCNN) else 0


def _check_images(images: np.ndarray, name: str) -> None:
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 4 \
            or images.shape[-1] not in (1, 3):
        shape = getattr(images, "shape", None)
        dtype = getattr(images, "dtype", type(images).__name__)
        raise ValueError(f"{name} must be a uint8 array (N, H, W, 1|3); got shape {shape} and dtype {dtype}")


def _check_labels(labels: np.ndarray, n_images: int, n_classes: Optional[int]) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.shape != (n_images,):
        raise ValueError(f"labels have shape {labels.shape}; expected ({n_images},), one per image")
    if n_images < 2:
        raise ValueError(f"a classifier needs at least 2 training images, got {n_images}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels have dtype {labels.dtype}; expected integer class indices")
    upper = n_classes if n_classes is not None else labels.max() + 1
    if labels.min() < 0 or labels.max() >= upper:
        raise ValueError(f"labels span {labels.min()}..{labels.max()}, outside the classes 0..{upper - 1}")
    return labels.astype(np.int64)
