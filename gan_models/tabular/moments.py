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


class ClassMomentLoss(nn.Module):
    """Mean and covariance gaps per class between real and generated encoded rows.

    ``train_rows`` (the encoded training table) only fixes the standardisation of each decoded column.
    """

    def __init__(self, encoder: TabularEncoder, label_column: Hashable, train_rows: torch.Tensor) -> None:
        super().__init__()
        width = encoder.output_dimensions
        continuous = [encoder.column_state(c) for c in encoder.columns if encoder.column_state(c)["kind"] == "continuous"]
        spread = torch.zeros(width, len(continuous))  # 4 sigma of each mode, in its column
        centre = torch.zeros(width, len(continuous))  # mu of each mode, in its column
        alpha_positions = []
        for column, state in enumerate(continuous):
            spans = {span.role: span for span in encoder.spans(state["name"])}
            modes = spans["mode"]
            spread[modes.start:modes.end, column] = ALPHA_SCALE * torch.tensor(state["stds"])
            centre[modes.start:modes.end, column] = torch.tensor(state["means"])
            alpha_positions.append(spans["alpha"].start)
        one_hot_positions = [
            position
            for span in encoder.output_info
            if span.role in ("category", "missing") and span.column != label_column
            for position in range(span.start, span.end)
        ]
        device = train_rows.device
        self.register_buffer("mode_spread", spread.to(device), persistent=False)
        self.register_buffer("mode_centre", centre.to(device), persistent=False)
        self.register_buffer("alpha_positions", torch.tensor(alpha_positions, dtype=torch.long, device=device), persistent=False)
        self.register_buffer("one_hot_positions", torch.tensor(one_hot_positions, dtype=torch.long, device=device), persistent=False)
        self.register_buffer("offset", torch.zeros(0, device=device), persistent=False)
        self.register_buffer("scale", torch.ones(0, device=device), persistent=False)
        values = self._unscaled(train_rows.float())
        spread = values.std(dim=0) if values.shape[1] else values.new_ones(0)
        # A column constant in the training rows (a constant value, a category no row holds) keeps unit
        # scale, as scikit-learn's StandardScaler does: dividing by ~0 would let a generator's tiny slips
        # there swamp the loss.
        self.offset, self.scale = values.mean(dim=0), torch.where(spread > 1e-6, spread, torch.ones_like(spread))

    @property
    def width(self) -> int:
        """Number of decoded columns (0 for a table with nothing besides its label)."""
        return int(self.offset.numel())

    def decode(self, rows: torch.Tensor) -> torch.Tensor:
        """Standardised column values of encoded rows (soft or exact one-hots), differentiable."""
        return (self._unscaled(rows.float()) - self.offset) / self.scale

    def _unscaled(self, rows: torch.Tensor) -> torch.Tensor:
        alphas = rows.index_select(1, self.alpha_positions)
        continuous = alphas * (rows @ self.mode_spread) + rows @ self.mode_centre
        return torch.cat([continuous, rows.index_select(1, self.one_hot_positions)], dim=1)

    def forward(self, real_values: torch.Tensor, fake_rows: torch.Tensor, classes: torch.Tensor, n_classes: int) -> torch.Tensor:
        """Mean over the batch's classes of (mean gap² + covariance gap²), each averaged over entries.

        ``real_values`` are decoded real rows (``decode``) of the same classes, row for row, as ``fake_rows``.
        """
        fake_values = self.decode(fake_rows)
        membership = torch.nn.functional.one_hot(classes, n_classes).float()  # (rows, classes)
        counts = membership.sum(dim=0)
        present = counts >= 2  # a covariance needs two rows
        real_mean, real_cov = _class_moments(real_values, membership, counts)
        fake_mean, fake_cov = _class_moments(fake_values, membership, counts)
        gaps = ((fake_mean - real_mean) ** 2).mean(dim=1) + ((fake_cov - real_cov) ** 2).mean(dim=(1, 2))
        return gaps[present].mean()


def _class_moments(values: torch.Tensor, membership: torch.Tensor, counts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-class means (classes, features) and sample covariances (classes, features, features)."""
    means = membership.T @ values / counts.clamp_min(1).unsqueeze(1)
    centred = values - membership @ means  # each row minus its class mean
    weighted = membership.T.unsqueeze(2) * centred.unsqueeze(0)  # (classes, rows, features), zero off-class
    covariances = weighted.transpose(1, 2) @ centred / (counts - 1).clamp_min(1).view(-1, 1, 1)
    return means, covariances
