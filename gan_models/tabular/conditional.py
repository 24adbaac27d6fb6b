"""The tabular generator together with the layout of its rows: where the class one-hot sits, which spans
are conditioned categories, and how raw output becomes activated rows for training and for sampling.

The class one-hot of every generated row is copied from its condition (never generated), so a row is
always of the class it was asked for and sampling a class needs no rejection.
"""

from __future__ import annotations

from typing import Hashable

import numpy as np
import torch
from torch.nn import functional as F

from gan_models.runtime import autocast
from gan_models.tabular.config import TabularGANConfig
from gan_models.tabular.encoder import TabularEncoder
from gan_models.tabular.networks import Generator, OutputActivation
from gan_models.tabular.sampler import ConditionBatch, ConditionSpace


class ConditionalGenerator:
    """The generator network of one encoded table, with what turns its raw output into rows of a class."""

    def __init__(
        self,
        encoder: TabularEncoder,
        label_column: Hashable,
        space: ConditionSpace,
        config: TabularGANConfig,
        device: torch.device,
    ) -> None:
        self.space = space
        self.embedding_dim = config.embedding_dim
        self.device = device
        network = Generator(config.embedding_dim, space.width, config.generator_dims, encoder.output_dimensions)
        self.network = network.to(device)
        self.activation = OutputActivation(encoder.output_info).to(device)
        label_span = encoder.spans(label_column)[0]
        self.label_span = (label_span.start, label_span.end)
        category_spans = [
            span for span in encoder.output_info if span.kind == "discrete" and span.column != label_column
        ]
        widest = max((span.end - span.start for span in category_spans), default=0)
        index = torch.zeros(len(category_spans), widest, dtype=torch.long)
        mask = torch.zeros(len(category_spans), widest, dtype=torch.bool)
        for row, span in enumerate(category_spans):  # once per column, not per row
            index[row, : span.end - span.start] = torch.arange(span.start, span.end)
            mask[row, : span.end - span.start] = True
        self.category_index, self.category_mask = index.to(device), mask.to(device)

    @property
    def label_width(self) -> int:
        return self.label_span[1] - self.label_span[0]

    def generate(self, batch: ConditionBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw generator output and its soft (training-time) activation for a batch of conditions."""
        noise = torch.randn(len(batch.classes), self.embedding_dim, device=self.device)
        with autocast(self.device):
            raw = self.network(noise, batch.condition)
            return raw, self.activated(raw, batch.condition, hard=False)

    def sample_rows(self, codes: np.ndarray, random: torch.Generator) -> torch.Tensor:
        """Encoded rows with exact one-hots, one per class code, drawn from ``random`` alone."""
        classes = torch.as_tensor(codes, device=self.device)
        batch = self.space.for_classes(classes, generator=random)
        noise = torch.randn(len(codes), self.embedding_dim, device=self.device, generator=random)
        with torch.no_grad(), autocast(self.device):
            return self.activated(self.network(noise, batch.condition), batch.condition, True, random)

    def activated(
        self, raw: torch.Tensor, condition: torch.Tensor, hard: bool, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Activated rows (soft one-hots for training, exact ones when ``hard``) carrying the class
        one-hot asked for in the condition."""
        activated = self.activation.hard(raw, generator) if hard else self.activation(raw, generator=generator)
        start, end = self.label_span
        return torch.cat([activated[:, :start], condition[:, : end - start], activated[:, end:]], dim=1)

    def without_label(self, rows: torch.Tensor) -> torch.Tensor:
        start, end = self.label_span
        return torch.cat([rows[:, :start], rows[:, end:]], dim=1)

    def condition_cross_entropy(self, raw: torch.Tensor, batch: ConditionBatch) -> torch.Tensor:
        """CTGAN's penalty for not producing the conditioned category of the conditioned column."""
        if not self.space.n_discrete:
            return raw.new_zeros((), dtype=torch.float32)
        positions = self.category_index[batch.columns]
        logits = raw.float().gather(1, positions).masked_fill(~self.category_mask[batch.columns], float("-inf"))
        return F.cross_entropy(logits, batch.categories)
