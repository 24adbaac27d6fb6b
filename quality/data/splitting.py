"""Stratified train / validation / holdout index splits, shared by every modality.

- ``train``: the only rows a GAN, an encoder, a scaler or a quality threshold ever sees.
- ``validation``: real rows kept from training; they decide publication (lift gate, privacy baseline).
- ``holdout``: real rows used for nothing but the final reported figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Hashable, Mapping, Optional, Sequence

import numpy as np

# The default shares of real rows that decide publication (validation) and only report (holdout).
VALIDATION_FRACTION = 0.2
HOLDOUT_FRACTION = 0.2


@dataclass(frozen=True)
class SplitIndices:
    train: np.ndarray
    validation: np.ndarray
    holdout: np.ndarray


def stratified_split_indices(
    labels: Sequence[Hashable],
    seed: int,
    validation_fraction: float = VALIDATION_FRACTION,
    holdout_fraction: float = HOLDOUT_FRACTION,
    min_rows_per_split: int = 2,
    where: str = "the dataset",
) -> SplitIndices:
    """Split row positions per class so every split keeps each class's share.

    Raises ``ValueError`` naming the class when a class has too few rows for every split to get
    ``min_rows_per_split`` of it (train) or at least one (validation, holdout).
    """
    labels = np.asarray(labels)
    if not 0 < validation_fraction < 1 or not 0 < holdout_fraction < 1:
        raise ValueError("validation_fraction and holdout_fraction must each lie in (0, 1)")
    if validation_fraction + holdout_fraction >= 0.9:
        raise ValueError("validation_fraction + holdout_fraction must leave at least 10% for training")
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {"train": [], "validation": [], "holdout": []}
    for cls in sorted_classes(labels):
        rows = np.flatnonzero(labels == cls)
        n_val = max(1, int(round(validation_fraction * len(rows))))
        n_hold = max(1, int(round(holdout_fraction * len(rows))))
        n_train = len(rows) - n_val - n_hold
        if n_train < min_rows_per_split:
            needed = min_rows_per_split + 2
            raise ValueError(
                f"class {cls!r} in {where} has {len(rows)} row(s); the split needs at least {needed} "
                f"({min_rows_per_split} to train on, 1 for validation, 1 held out). Add rows of class {cls!r} "
                "or remove it."
            )
        rows = rng.permutation(rows)
        parts["holdout"].append(rows[:n_hold])
        parts["validation"].append(rows[n_hold:n_hold + n_val])
        parts["train"].append(rows[n_hold + n_val:])
    return SplitIndices(**{name: np.sort(np.concatenate(chunks)) for name, chunks in parts.items()})


def cap_class_rows(
    indices: np.ndarray,
    labels: Sequence[Hashable],
    caps: Mapping[Hashable, int],
    seed: int,
) -> np.ndarray:
    """Keep at most ``caps[cls]`` of the given row positions per class (to simulate scarcity)."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    kept = []
    for cls in sorted_classes(labels[indices]):
        rows = indices[labels[indices] == cls]
        cap: Optional[int] = caps.get(cls)
        if cap is not None and len(rows) > cap:
            rows = rng.choice(rows, size=cap, replace=False)
        kept.append(rows)
    return np.sort(np.concatenate(kept))


def stratified_sample(labels: Sequence[Hashable], fraction: float, rng: np.random.Generator,
                      min_rows: int = 1) -> np.ndarray:
    """Sorted positions of ``fraction`` of each class's rows, drawn without replacement: at least ``min_rows`` of a
    class (every row of a class that has fewer). Classes in :func:`sorted_classes` order, each drawn once from
    ``rng``."""
    labels = np.asarray(labels)
    keep = []
    for cls in sorted(dict.fromkeys(labels.tolist()), key=lambda c: (str(type(c)), c)):
        positions = np.flatnonzero(labels == cls)
        size = min(len(positions), max(min_rows, int(round(fraction * len(positions)))))
        keep.append(rng.choice(positions, size=size, replace=False))
    return np.sort(np.concatenate(keep)) if keep else np.zeros(0, dtype=int)


def sorted_classes(labels: np.ndarray) -> list:
    return sorted(np.unique(labels).tolist(), key=lambda c: (str(type(c)), c))
