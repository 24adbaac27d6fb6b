"""Atomic save and load of a training checkpoint, and the reading of a saved model's JSON files, shared
by every GAN trainer.

The checkpoint is one ``state`` dict (network and optimiser ``state_dict``s, RNG states, step counter,
loss history: tensors, numbers, strings, lists and dicts only) written with ``torch.save`` to
``<directory>/checkpoint.pt``. It is written to a temporary file in the same directory and moved into
place with ``os.replace``, so a run killed mid-write leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Sequence

import torch

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


def load_checkpoint(directory: Path) -> dict | None:
    """Return the checkpoint saved in ``directory``, or ``None`` when there is none.

    Loaded with ``weights_only=True``: a checkpoint holds tensors and plain containers, never pickled
    modules or classes.
    """
    path = Path(directory) / CHECKPOINT_FILENAME
    if not path.is_file():
        return None
    return torch.load(path, map_location="cpu", weights_only=True)


def read_saved_model(directory: Path, kind: str, required_files: Sequence[str]) -> tuple[dict, dict]:
    """The ``config.json`` and ``meta.json`` of a model saved to ``directory``, after checking that every
    one of ``required_files`` is there (the error names ``kind`` and the missing files)."""
    directory = Path(directory)
    missing = [name for name in required_files if not (directory / name).is_file()]
    if missing:
        raise ValueError(f"{directory} is not a saved {kind}: it lacks {missing}")
    return (json.loads((directory / "config.json").read_text()), json.loads((directory / "meta.json").read_text()))
