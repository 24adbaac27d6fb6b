"""Class-balanced batches of training images."""

from __future__ import annotations

import numpy as np
import torch


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
