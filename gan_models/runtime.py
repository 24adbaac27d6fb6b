"""Device choice, seeding and mixed precision: written once for every model."""

from __future__ import annotations

import contextlib
import random
from typing import Iterator

import numpy as np
import torch


def select_device(preference: str = "auto") -> torch.device:
    """Return the torch device to train on.

    ``"auto"`` picks CUDA when it is available and the CPU otherwise; ``"cpu"``
    and ``"cuda"``/``"cuda:N"`` force a device (asking for CUDA where there is
    none is an error, not a silent fallback).
    """
    if preference == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(preference)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {preference!r} was asked for but CUDA is not available here; use 'auto' or 'cpu'")
    return device


def device_for_loading(saved: str, requested: str | None = None) -> torch.device:
    """The device to load a saved model on: ``requested`` when given (it must exist here, as for training);
    otherwise the ``saved`` preference when this machine has that device, and the CPU when it does not, so a
    model trained on a GPU loads on a CPU-only machine."""
    if requested is not None:
        return select_device(requested)
    if saved == "auto":
        return select_device("auto")
    device = torch.device(saved)
    if device.type == "cuda" and not _has_cuda_device(device):
        return torch.device("cpu")
    return device


def _has_cuda_device(device: torch.device) -> bool:
    if not torch.cuda.is_available():
        return False
    return device.index is None or device.index < torch.cuda.device_count()


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch, and return a torch generator on the CPU.

    CPU kernels are deterministic, so seeded CPU runs repeat exactly. ``torch.use_deterministic_algorithms``
    is not called: it costs seconds of import time per process and only matters on CUDA, where exact
    repeats are not promised.
    """
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


def uses_mixed_precision(device: torch.device) -> bool:
    """Mixed precision is used on CUDA only; CPU runs stay in float32 for exact repeats."""
    return device.type == "cuda"


@contextlib.contextmanager
def autocast(device: torch.device) -> Iterator[None]:
    """bfloat16 autocast on CUDA (no loss scaling needed), a no-op on the CPU."""
    if uses_mixed_precision(device):
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16):
            yield
    else:
        yield


def state_fingerprint(state_dict: dict[str, torch.Tensor], context: str = "") -> str:
    """A short content hash of a model's weights and ``context`` (e.g. its data encoding, which maps outputs
    to columns and classes): the ``model_version`` stamped on its samples."""
    import hashlib

    digest = hashlib.sha256(context.encode())
    for name in sorted(state_dict):
        digest.update(name.encode())
        digest.update(state_dict[name].detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:12]


# torch's intra-op threads when this module was imported (its default: the cores, or OMP_NUM_THREADS), kept
# because set_num_threads changes them for the whole process.
DEFAULT_CPU_THREADS = torch.get_num_threads()


@contextlib.contextmanager
def cpu_threads(threads: int) -> Iterator[None]:
    """Meanwhile, use ``threads`` intra-op CPU threads (0: torch's default, ``DEFAULT_CPU_THREADS``); then the
    threads from before, so the later steps of an in-process run keep every core."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads if threads > 0 else DEFAULT_CPU_THREADS)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def training_threads(requested: int | None, parts_in_run: int) -> int:
    """CPU threads for one training part: ``requested`` when given (0: torch's default); otherwise every core
    when the run trains a single part, and one when it trains several, which may run side by side (each in
    its own process under the multiprocess executor). On 2 cores, two threads train a 28 px image GAN step
    1.5x and a 54,000-row table's 500-row batches 1.3x faster than one (BENCHMARKS.md); two parts on one
    thread each use both cores."""
    if requested is not None:
        return requested
    return 0 if parts_in_run == 1 else 1
