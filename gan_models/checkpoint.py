"""Atomic save and load of a training checkpoint, the checks that a checkpoint belongs to the run resuming
from it, and the reading of a saved model's files, shared by every GAN trainer.

The checkpoint is one ``state`` dict (network and optimiser ``state_dict``s, RNG states, step counter,
loss history: tensors, numbers, strings, lists and dicts only) written with ``torch.save`` to
``<directory>/checkpoint.pt``. It is written to a temporary file in the same directory and moved into
place with ``os.replace``, so a run killed mid-write leaves the previous checkpoint intact. Its ``kind``
names the model that wrote it and its ``data_fingerprint`` the training data, so a run never continues
another model's or another data set's training.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence, TypeVar

import torch

Config = TypeVar("Config")

CHECKPOINT_FILENAME = "checkpoint.pt"


def save_checkpoint(directory: Path, state: dict) -> None:
    """Write ``state`` to ``directory/checkpoint.pt`` atomically (the directory is created if needed)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=".checkpoint-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "wb") as stream:
            torch.save(state, stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp_name, directory / CHECKPOINT_FILENAME)
    except BaseException:
        if os.path.exists(temp_name):
            os.unlink(temp_name)
        raise


def load_checkpoint(directory: Path, kind: str | None = None) -> dict | None:
    """Return the checkpoint saved in ``directory``, or ``None`` when there is none.

    With ``kind``, a checkpoint written by another kind of model (or by a version that did not record
    its kind) is refused. Loaded with ``weights_only=True``: a checkpoint holds tensors and plain
    containers, never pickled modules or classes.
    """
    path = Path(directory) / CHECKPOINT_FILENAME
    if not path.is_file():
        return None
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    written_by = checkpoint.get("kind") if isinstance(checkpoint, dict) else None
    if kind is not None and written_by != kind:
        # Refused before any kind-specific key is read, so the error says what is wrong (not KeyError).
        writer = f"a model of kind {written_by!r}" if written_by else "an older version (no kind recorded)"
        raise checkpoint_mismatch(directory, f"by {writer}, but this run trains one of kind {kind!r}")
    return checkpoint


def checkpoint_mismatch(directory: Path, reason: str) -> ValueError:
    """The error for a checkpoint that this run must not resume from: ``reason`` says what it was written
    for (``"for another config"``)."""
    return ValueError(
        f"the checkpoint in {directory} was written {reason}; delete it or pass another checkpoint_dir"
    )


def data_fingerprint(parts: Iterable[bytes | memoryview | str]) -> str:
    """A sha256 hex digest of ``parts`` in order (each part's length is hashed too, so parts cannot run
    into each other): the content fingerprint of a run's training data."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else memoryview(part).cast("B")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def check_same_data(checkpoint: dict, fingerprint: str, directory: Path) -> None:
    """Refuse a checkpoint written for other training data: resuming would continue a model of the old
    data (or fail on a category the old encoding never saw)."""
    if "data_fingerprint" not in checkpoint:
        raise checkpoint_mismatch(directory, "by an older version that did not record its training data")
    if checkpoint["data_fingerprint"] != fingerprint:
        raise checkpoint_mismatch(directory, "for other training data (its content differs from this run's)")


# ---------------------------------------------------------------------------------- saved models
def read_saved_model(directory: Path, kind: str, required_files: Sequence[str]) -> tuple[dict, dict]:
    """The ``config.json`` and ``meta.json`` of a model saved to ``directory``, after checking that every
    one of ``required_files`` is there (the error names ``kind`` and the missing files)."""
    directory = Path(directory)
    missing = [name for name in required_files if not (directory / name).is_file()]
    if missing:
        raise ValueError(f"{directory} is not a saved {kind}: it lacks {missing}")
    return read_saved_json(directory, "config.json", kind), read_saved_json(directory, "meta.json", kind)


def invalid_saved_model(directory: Path, kind: str, problem: str) -> ValueError:
    """The error for a saved-model folder whose files are there but cannot be used."""
    return ValueError(f"{directory} is not a valid saved {kind}: {problem}")


def read_saved_json(directory: Path, filename: str, kind: str) -> dict:
    """One JSON object file of a model saved to ``directory``."""
    try:
        content = json.loads((Path(directory) / filename).read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise invalid_saved_model(directory, kind, f"{filename} is not JSON ({error})") from error
    if not isinstance(content, dict):
        raise invalid_saved_model(directory, kind, f"{filename} holds a {type(content).__name__}, not an object")
    return content


def parse_saved_config(
    directory: Path, kind: str, values: Mapping[str, Any], from_dict: Callable[[Mapping[str, Any]], Config]
) -> Config:
    """``from_dict(values)``, with an unknown field or a bad value reported as an invalid saved ``kind``."""
    try:
        return from_dict(values)
    except (TypeError, ValueError) as error:
        raise invalid_saved_model(directory, kind, f"config.json does not describe one ({error})") from error


def load_saved_weights(
    directory: Path, kind: str, filename: str, network: torch.nn.Module, device: torch.device
) -> None:
    """Load the ``state_dict`` saved as ``directory/filename`` into ``network``.

    Read with ``weights_only=True``; a file that is not a readable ``state_dict``, or whose tensors do not
    fit ``network``, is reported as an invalid saved ``kind`` (never as advice to load it unsafely).
    """
    try:
        weights = torch.load(Path(directory) / filename, map_location=device, weights_only=True)
    except (pickle.UnpicklingError, EOFError, RuntimeError) as error:
        raise invalid_saved_model(
            directory, kind, f"{filename} is not a readable torch state_dict ({type(error).__name__})"
        ) from error
    if not isinstance(weights, dict):
        raise invalid_saved_model(directory, kind, f"{filename} holds a {type(weights).__name__}, not a state_dict")
    try:
        network.load_state_dict(weights)
    except RuntimeError as error:
        raise invalid_saved_model(
            directory, kind, f"the weights in {filename} do not fit the network its config.json describes ({error})"
        ) from error
