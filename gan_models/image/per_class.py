"""One independent image GAN per class: ``train_single_class`` trains one (one Dagster step per class, on
as many workers or GPUs), ``PerClassImageGAN`` combines them behind ``ImageGAN``'s ``sample``/``save``/``load``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar, Iterator, Mapping

import numpy as np

from gan_models.image.config import ImageGANConfig
from gan_models.image.data import as_nhwc, validated_class_counts, validated_training_data
from gan_models.image.trainer import ImageGAN, Progress


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
    images, internal_labels, _ = validated_training_data(images, internal_labels, 1)
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
        counts = validated_class_counts(class_counts, self.classes, chunk_size)
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

    @property
    def training_info(self) -> dict[str, Any]:
        """The training facts of each class's model (``ImageGAN.training_info``), by label."""
        return {
            "image_size": self.image_size,
            "channels": self.channels,
            "classes": self.classes,
            "per_class": {str(label): model.training_info for label, model in self.models.items()},
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
