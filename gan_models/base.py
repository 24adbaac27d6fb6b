"""The contract every synthlift generative model follows, whatever its modality.

A model samples exact class counts, saves itself to a folder of plain files (state_dicts and JSON, never
pickles) and loads back from one, and reports the facts of its training as ``training_info``. Models
trained by a ``fit`` of their own (``TabularGAN``, ``ImageGAN``) are ``TrainableModel``s; a model combined
from trained parts (``PerClassImageGAN``) is a ``GenerativeModel`` only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Iterator, Mapping, Protocol, runtime_checkable


@runtime_checkable
class GenerativeModel(Protocol):
    """What the pipeline and the artefact store use of a trained model."""

    modality: ClassVar[str]  # "tabular" or "image": picks the pipeline's implementation of each step
    artifact_key: ClassVar[str]  # names the type in stored artefacts: never change it

    @property
    def training_info(self) -> dict[str, Any]:
        """Facts of the training (device, steps, seconds, the step a resumed fit started from ...)."""
        ...

    def sample(self, class_counts: Mapping[Any, int], chunk_size: int = ..., seed: int | None = None) -> Iterator[Any]:
        """Chunks of generated samples, exactly ``class_counts[c]`` of each class ``c`` in total."""
        ...

    def save(self, directory: Path) -> Path | None:
        """Write the model to ``directory`` as files that ``load`` reads back."""
        ...

    @classmethod
    def load(cls, directory: Path, device: str | None = None) -> GenerativeModel:
        """The model ``save`` wrote to ``directory``, on ``device`` (or the saved one where it exists here)."""
        ...


@runtime_checkable
class TrainableModel(GenerativeModel, Protocol):
    """A model that trains itself: ``fit(data, labels, ..., progress=None, checkpoint_dir=None)``."""

    def fit(self, *args: Any, **kwargs: Any) -> TrainableModel:
        """Train on labelled data; ``progress(step, total, losses)`` is called as it goes, and with
        ``checkpoint_dir`` a checkpoint there is resumed from and new ones are written."""
        ...
