"""Per-class moment matching between generated and real rows, in the table's own units.

A generator loss term (CTAB-GAN's information loss, Zhao et al. 2021, and feature matching, Salimans et
al. 2016, here per class and in data space): for each class in the batch, the squared gaps between the
means and between the covariance matrices of generated and real rows, after decoding both to
standardised column values.

Why: with a class of 20 rows, the critic and the auxiliary classifier alone let the generator put its
rows of that class near the middle of the class, away from the rows the class shares a border with; a
linear model trained on them then hardly moves its boundary. Matching each class's spread and
correlations brings the generated rows back to the real class's extent (chosen on the validation split
of the benchmark tables; see BENCHMARKS.md).

Decoding is differentiable and vectorised: a continuous column's value is
``sum_k p_k (alpha * 4 sigma_k + mu_k)`` over its (soft) mode one-hot ``p``, which is two matrix products
for all columns at once; one-hots of the other discrete columns (and missing flags) enter as they are.
The label's one-hot is left out: the loss compares rows of the same class.
"""

from __future__ import annotations

from typing import Hashable

import torch
from torch import nn

from gan_models.tabular.encoder import ALPHA_SCALE, TabularEncoder


# Moments of fewer rows than this say little beyond the rows themselves: matching them would pull
# generated rows onto those few real ones (towards copies, which the privacy check forbids).
MIN_CLASS_ROWS = 5
# One-hots of wider discrete columns enter the means only: their covariance block would cost
# O(width²) per class and step and drown the other columns in the average.
MAX_CATEGORIES_IN_COVARIANCE = 16


class ClassMomentLoss(nn.Module):
    """Mean and covariance gaps per class between real and generated encoded rows.

    ``train_rows`` (the encoded training table) fixes the standardisation of each decoded column and which
    classes have rows enough to be matched, and is kept decoded: ``forward`` picks a batch's real rows from it
    by index.
    """

    def __init__(self, encoder: TabularEncoder, label_column: Hashable, train_rows: torch.Tensor) -> None:
        super().__init__()
        width = encoder.output_dimensions
        continuous = [encoder.column_state(c) for c in encoder.columns if encoder.column_state(c)["kind"] == "continuous"]
        spread = torch.zeros(width, len(continuous), dtype=torch.float64)  # 4 sigma of each mode, in its column
        centre = torch.zeros(width, len(continuous), dtype=torch.float64)  # mu of each mode, in its column
        alpha_positions, constant = [], []
        for column, state in enumerate(continuous):
            spans = {span.role: span for span in encoder.spans(state["name"])}
            modes = spans["mode"]
            spread[modes.start:modes.end, column] = ALPHA_SCALE * torch.tensor(state["stds"], dtype=torch.float64)
            centre[modes.start:modes.end, column] = torch.tensor(state["means"], dtype=torch.float64)
            alpha_positions.append(spans["alpha"].start)
            constant.append(state["min"] == state["max"])
        one_hot_spans = [
            span for span in encoder.output_info if span.role in ("category", "missing") and span.column != label_column
        ]
        one_hot_positions = [p for span in one_hot_spans for p in range(span.start, span.end)]
        in_covariance = [True] * len(continuous) + [
            span.end - span.start <= MAX_CATEGORIES_IN_COVARIANCE for span in one_hot_spans for _ in range(span.start, span.end)
        ]
        alpha_positions = torch.tensor(alpha_positions, dtype=torch.long)
        one_hot_positions = torch.tensor(one_hot_positions, dtype=torch.long)

        # Standardise in float64 and fold the offset and scale into the decoding matrices, so that the
        # float32 arithmetic of training stays of order one even for columns like timestamps (1.7e9 ± 30).
        rows = train_rows.detach().cpu().double()
        values = torch.cat([_continuous_values(rows, alpha_positions, spread, centre),
                            rows.index_select(1, one_hot_positions)], dim=1)
        offset = values.mean(dim=0)
        deviation = values.std(dim=0) if values.shape[1] and len(values) > 1 else torch.zeros_like(offset)
        # A constant column keeps unit scale: dividing by ~0 would let a generator's tiny slips there swamp
        # the loss. Continuous columns are constant when their training min equals their max.
        constant = torch.tensor(constant + [False] * len(one_hot_positions), dtype=torch.bool) | (deviation == 0)
        scale = torch.where(constant, torch.ones_like(deviation), deviation)
        n_continuous = len(continuous)
        spread = spread / scale[:n_continuous]
        # Offset subtracted on each column's own mode rows (where its spread is, every sigma being > 0):
        # its mode one-hot sums to 1.
        centre = (centre - offset[:n_continuous] * (spread != 0)) / scale[:n_continuous]

        label = encoder.spans(label_column)[0]
        self.n_classes = label.end - label.start
        class_rows = rows[:, label.start:label.end].sum(dim=0)
        device = train_rows.device
        buffers = {
            "mode_spread": spread.float(),
            "mode_centre": centre.float(),
            "alpha_positions": alpha_positions,
            "one_hot_positions": one_hot_positions,
            "one_hot_offset": offset[n_continuous:].float(),
            "one_hot_scale": scale[n_continuous:].float(),
            "covariance_columns": torch.nonzero(torch.tensor(in_covariance, dtype=torch.bool)).squeeze(1),
            "matched_classes": class_rows >= MIN_CLASS_ROWS,
        }
        for name, value in buffers.items():
            self.register_buffer(name, value.to(device), persistent=False)
        self.register_buffer("train_values", self.decode(train_rows), persistent=False)

    @property
    def width(self) -> int:
        """Number of decoded columns (0 for a table with nothing besides its label)."""
        return self.mode_spread.shape[1] + len(self.one_hot_positions)

    def decode(self, rows: torch.Tensor) -> torch.Tensor:
        """Standardised column values of encoded rows (soft or exact one-hots), differentiable."""
        rows = rows.float()
        continuous = _continuous_values(rows, self.alpha_positions, self.mode_spread, self.mode_centre)
        one_hots = (rows.index_select(1, self.one_hot_positions) - self.one_hot_offset) / self.one_hot_scale
        return torch.cat([continuous, one_hots], dim=1)

    def forward(self, real_indices: torch.Tensor, fake_rows: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        """Mean over the batch's matched classes of (mean gap² + covariance gap²), each averaged over entries.

        ``real_indices`` pick training rows of the same classes, row for row, as ``fake_rows``. A class is
        matched when it has ``MIN_CLASS_ROWS`` training rows and two rows in the batch.
        """
        real_values = self.train_values[real_indices]
        fake_values = self.decode(fake_rows)
        membership = torch.nn.functional.one_hot(classes, self.n_classes).float()  # (rows, classes)
        counts = membership.sum(dim=0)
        matched = ((counts >= 2) & self.matched_classes).float()  # a covariance needs two rows
        real_mean, real_cov = _class_moments(real_values, membership, counts, self.covariance_columns)
        fake_mean, fake_cov = _class_moments(fake_values, membership, counts, self.covariance_columns)
        gaps = ((fake_mean - real_mean) ** 2).mean(dim=1) + ((fake_cov - real_cov) ** 2).mean(dim=(1, 2))
        return (gaps * matched).sum() / matched.sum().clamp_min(1)  # no boolean indexing: no device sync


def _continuous_values(
    rows: torch.Tensor, alpha_positions: torch.Tensor, mode_spread: torch.Tensor, mode_centre: torch.Tensor
) -> torch.Tensor:
    """``alpha * sum_k p_k spread_k + sum_k p_k centre_k`` for every continuous column at once."""
    return rows.index_select(1, alpha_positions) * (rows @ mode_spread) + rows @ mode_centre


def _class_moments(
    values: torch.Tensor, membership: torch.Tensor, counts: torch.Tensor, covariance_columns: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-class means (classes, features) and sample covariances of the chosen columns
    (classes, chosen, chosen)."""
    means = membership.T @ values / counts.clamp_min(1).unsqueeze(1)
    centred = (values - membership @ means).index_select(1, covariance_columns)  # each row minus its class mean
    weighted = membership.T.unsqueeze(2) * centred.unsqueeze(0)  # (classes, rows, chosen), zero off-class
    covariances = weighted.transpose(1, 2) @ centred / (counts - 1).clamp_min(1).view(-1, 1, 1)
    return means, covariances
