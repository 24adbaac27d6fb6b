"""Conditional vectors and matching real rows for the tabular GAN, fully vectorised.

The condition of a row is ``[one-hot class label | one-hot of one category of one discrete column]``:
the class the row must belong to, plus CTGAN's training-by-sampling condition (Xu et al. 2019): pick a
discrete column uniformly, pick one of its categories by log-frequency, and ask for it. Here the
category is picked by its log-frequency *within the row's class*, so the real row drawn to match the
condition always exists.

- Training: classes are drawn balanced (each class fills an equal share of the batch, rows drawn with
  replacement) so minority classes are learned as often as the majority; the real rows of a batch are
  drawn from the rows that match each sampled (class, column, category).
- Generation: the class is the one requested; the category is drawn from the class's empirical
  category frequencies, so no rejection loop is needed.

Rows are grouped once, up front, into one flat index array sorted by (column, class, category), with a
start offset and a count per group; drawing a matching row is then one gather per batch.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np
import torch


class ConditionBatch(NamedTuple):
    """Conditions for one batch; ``columns``/``categories`` are empty-width when there is no discrete column."""

    condition: torch.Tensor  # (batch, width) float one-hots
    classes: torch.Tensor  # (batch,) class codes
    columns: torch.Tensor  # (batch,) index of the conditioned discrete column
    categories: torch.Tensor  # (batch,) category code within that column


class ConditionSpace:
    """Layout of the condition vector and the class-conditional category counts behind it.

    ``counts[c, d, k]`` is the number of training rows of class ``c`` whose discrete column ``d``
    holds category ``k`` (zero-padded past that column's categories).
    """

    def __init__(self, n_classes: int, category_counts: Sequence[int], counts: np.ndarray) -> None:
        self.n_classes = int(n_classes)
        self.category_counts = [int(n) for n in category_counts]
        self.counts = np.asarray(counts, dtype=np.int64).reshape(
            self.n_classes, len(self.category_counts), max(self.category_counts, default=0)
        )
        self.column_offsets = self.n_classes + np.concatenate(
            [[0], np.cumsum(self.category_counts)[:-1]]
        ).astype(np.int64) if self.category_counts else np.zeros(0, dtype=np.int64)
        self.width = self.n_classes + sum(self.category_counts)
        self._tensors: dict[torch.device, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}

    @classmethod
    def from_codes(
        cls, label_codes: np.ndarray, category_codes: np.ndarray, n_classes: int, category_counts: Sequence[int]
    ) -> "ConditionSpace":
        """Count categories per class from the training rows' codes (``category_codes``: rows x columns)."""
        n_columns, widest = len(category_counts), max(category_counts, default=0)
        keys = (label_codes[:, None] * n_columns + np.arange(n_columns)) * widest + category_codes
        counts = np.bincount(keys.reshape(-1), minlength=n_classes * n_columns * widest)
        return cls(n_classes, category_counts, counts)

    @property
    def n_discrete(self) -> int:
        return len(self.category_counts)

    def to_state(self) -> dict:
        """Plain JSON-ready state (what generation needs after loading a saved model)."""
        return {
            "n_classes": self.n_classes,
            "category_counts": self.category_counts,
            "counts": self.counts.tolist(),
        }

    @classmethod
    def from_state(cls, state: dict) -> "ConditionSpace":
        return cls(state["n_classes"], state["category_counts"], np.asarray(state["counts"]))

    def category_probabilities(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """(training log-frequency, generation frequency) probabilities, each (classes, columns, widest)."""
        training, generation, _ = self._device_tables(device)
        return training, generation

    def encode(self, classes: torch.Tensor, columns: torch.Tensor, categories: torch.Tensor) -> torch.Tensor:
        """The condition one-hots for given class codes and (column, category) choices."""
        condition = torch.zeros(len(classes), self.width, device=classes.device)
        rows = torch.arange(len(classes), device=classes.device)
        condition[rows, classes] = 1.0
        if self.n_discrete:
            offsets = self._device_tables(classes.device)[2]
            condition[rows, offsets[columns] + categories] = 1.0
        return condition

    def _device_tables(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        # Built once per device. A (class, column) pair with no observed category cannot occur for a
        # class that has rows; it gets a uniform row anyway so ``multinomial`` never sees all zeros.
        device = torch.device(device)
        if device not in self._tensors:
            counts = torch.as_tensor(self.counts, dtype=torch.float64)
            log_frequency = torch.where(counts > 0, torch.log1p(counts), torch.zeros_like(counts))
            self._tensors[device] = (
                _normalised(log_frequency).float().to(device),
                _normalised(counts).float().to(device),
                torch.as_tensor(self.column_offsets, device=device),
            )
        return self._tensors[device]

    def draw(
        self, classes: torch.Tensor, for_training: bool, generator: torch.Generator | None = None
    ) -> ConditionBatch:
        """Draw a discrete-column condition for each class code (uniform column, weighted category).

        ``for_training`` weights categories by log-frequency within the class (CTGAN's training by
        sampling); otherwise by their plain frequency within the class, as the real rows have them.
        """
        device = classes.device
        if not self.n_discrete:
            empty = torch.zeros(len(classes), dtype=torch.long, device=device)
            return ConditionBatch(self.encode(classes, empty, empty), classes, empty, empty)
        training, generation = self.category_probabilities(device)
        probabilities = training if for_training else generation
        columns = torch.randint(self.n_discrete, (len(classes),), device=device, generator=generator)
        categories = torch.multinomial(probabilities[classes, columns], 1, generator=generator).squeeze(1)
        return ConditionBatch(self.encode(classes, columns, categories), classes, columns, categories)

    def for_classes(self, classes: torch.Tensor, generator: torch.Generator | None = None) -> ConditionBatch:
        """Generation-time conditions for the requested class codes (no rejection needed)."""
        return self.draw(classes, for_training=False, generator=generator)


class TrainingSampler:
    """Class-balanced conditions plus real rows that match them, for one training table."""

    def __init__(
        self, space: ConditionSpace, label_codes: np.ndarray, category_codes: np.ndarray, device: torch.device
    ) -> None:
        self.space = space
        self.device = torch.device(device)
        n_rows = len(label_codes)
        if space.n_discrete:
            widest = max(space.category_counts)
            keys = (label_codes[:, None] * space.n_discrete + np.arange(space.n_discrete)) * widest
            keys = (keys + category_codes).reshape(-1)
            rows = np.repeat(np.arange(n_rows), space.n_discrete)
            n_groups = space.n_classes * space.n_discrete * widest
        else:
            keys, rows, n_groups = label_codes, np.arange(n_rows), space.n_classes
        order = np.argsort(keys, kind="stable")
        group_sizes = np.bincount(keys, minlength=n_groups)
        self._sorted_rows = torch.as_tensor(rows[order], device=self.device)
        self._group_sizes = torch.as_tensor(group_sizes, device=self.device)
        self._group_starts = torch.as_tensor(np.cumsum(group_sizes) - group_sizes, device=self.device)
        present = np.flatnonzero(np.bincount(label_codes, minlength=space.n_classes))
        self._classes_present = torch.as_tensor(present, device=self.device)

    def sample(self, batch_size: int, pack_size: int = 1) -> tuple[ConditionBatch, torch.Tensor]:
        """A class-balanced batch of conditions and the indices of real rows that satisfy them."""
        classes = self.balanced_classes(batch_size, pack_size)
        batch = self.space.draw(classes, for_training=True)
        return batch, self.matching_rows(batch)

    def balanced_classes(self, batch_size: int, pack_size: int = 1) -> torch.Tensor:
        """Class codes, each class as equal a share as the batch allows, in random order.

        Consecutive runs of ``pack_size`` rows share one class, so each pack a PacGAN critic sees is
        all of one class, which makes the class/row consistency far easier for it to judge.
        """
        if batch_size % pack_size:
            raise ValueError(f"batch_size {batch_size} is not a multiple of pack_size {pack_size}")
        n_packs, n_present = batch_size // pack_size, len(self._classes_present)
        shares = torch.arange(n_packs, device=self.device) % n_present
        shares = shares[torch.randperm(n_packs, device=self.device)]
        # The remainder (packs % classes) would always favour the first classes: rotate it.
        rotation = torch.randint(n_present, (1,), device=self.device)
        pack_classes = self._classes_present[(shares + rotation) % n_present]
        return pack_classes.repeat_interleave(pack_size)

    def matching_rows(self, batch: ConditionBatch) -> torch.Tensor:
        """For each condition, a uniformly drawn real row of that class holding the asked category."""
        space = self.space
        if space.n_discrete:
            widest = max(space.category_counts)
            groups = (batch.classes * space.n_discrete + batch.columns) * widest + batch.categories
        else:
            groups = batch.classes
        sizes = self._group_sizes[groups]
        offsets = (torch.rand(len(groups), device=self.device) * sizes).long().clamp_max(sizes - 1)
        return self._sorted_rows[self._group_starts[groups] + offsets]


def _normalised(weights: torch.Tensor) -> torch.Tensor:
    totals = weights.sum(dim=-1, keepdim=True)
    uniform = torch.ones_like(weights) / max(weights.shape[-1], 1)
    return torch.where(totals > 0, weights / totals.clamp_min(1e-12), uniform)
