"""Generator, discriminator and per-span output activation of the tabular GAN (CTGAN-style).

- Generator: residual blocks ``cat([ReLU(BN(Linear(x))), x])`` (Xu et al. 2019), then a linear layer
  to the encoded width.
- Discriminator: PacGAN (Lin et al. 2018): ``pac`` consecutive rows are packed into one input, which
  lets the critic see a whole group at once and penalises mode collapse; Linear + LeakyReLU(0.2) +
  Dropout layers, one unbounded score per pack (a WGAN critic).
- OutputActivation: tanh on the alpha scalars and Gumbel-softmax (tau 0.2) on every one-hot span,
  computed for spans of similar width at once through a padded (width x spans) index, not span by span.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from gan_models.tabular.encoder import SpanInfo

GUMBEL_TAU = 0.2


class Residual(nn.Module):
    """Linear + BatchNorm + ReLU whose output is concatenated with its input."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)
        self.norm = nn.BatchNorm1d(out_features)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return torch.cat([F.relu(self.norm(self.linear(inputs))), inputs], dim=1)


class Generator(nn.Module):
    """Maps (noise, condition) to raw, pre-activation encoded rows."""

    def __init__(self, embedding_dim: int, condition_dim: int, hidden_dims: Sequence[int], data_dim: int) -> None:
        super().__init__()
        width = embedding_dim + condition_dim
        blocks: list[nn.Module] = []
        for hidden in hidden_dims:
            blocks.append(Residual(width, hidden))
            width += hidden
        blocks.append(nn.Linear(width, data_dim))
        self.body = nn.Sequential(*blocks)

    def forward(self, noise: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        return self.body(torch.cat([noise, condition], dim=1))


class Dropout(nn.Module):
    """Inverted dropout whose mask comes from ``torch.rand``.

    Same maths as ``nn.Dropout``; on the CPU, ``nn.Dropout``'s ``bernoulli_`` took about 5x longer on the
    critic's small activations, and the critic runs dropout six times per training step.
    """

    def __init__(self, p: float) -> None:
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p = p

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        keep = self.keep_mask(inputs)
        return inputs if keep is None else inputs * keep

    def keep_mask(self, inputs: torch.Tensor) -> torch.Tensor | None:
        """Draw the mask ``forward`` would apply to ``inputs`` (0 or ``1 / (1 - p)``); None when dropout is off."""
        if not self.training or self.p == 0:
            return None
        return torch.rand_like(inputs).ge_(self.p).mul_(1 / (1 - self.p))


class Discriminator(nn.Module):
    """WGAN critic over packs of ``pac`` rows (each row: encoded data concatenated with its condition)."""

    def __init__(self, input_dim: int, hidden_dims: Sequence[int], pac: int, dropout: float = 0.5) -> None:
        super().__init__()
        self.input_dim = input_dim
        self.pac = pac
        blocks: list[tuple[nn.Linear, nn.LeakyReLU, Dropout]] = []
        width = input_dim * pac
        for hidden in hidden_dims:
            blocks.append((nn.Linear(width, hidden), nn.LeakyReLU(0.2), Dropout(dropout)))
            width = hidden
        self.body = nn.Sequential(*[layer for block in blocks for layer in block], nn.Linear(width, 1))
        # The same layers, grouped per block for input_gradient (a plain tuple: not registered twice).
        self._hidden_blocks = tuple(blocks)

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        return self.body(self._packed(rows))

    def input_gradient(self, rows: torch.Tensor) -> torch.Tensor:
        """Gradient of each pack's score with respect to the packed input: (packs, pac * input_dim).

        The result is differentiable with respect to the weights (not the rows), for the WGAN-GP penalty.
        For this MLP the gradient is ``w_out diag(s_n) W_n ... diag(s_1) W_1``, where ``s_k`` is the
        LeakyReLU slope (1 or the negative slope) at layer ``k``'s pre-activation times its dropout keep
        mask. The slopes are piecewise constant in the weights (autograd's double backward treats them
        so too), so a forward pass without a graph finds them, and the penalty then needs one ordinary
        backward instead of ``autograd.grad(create_graph=True)`` and a double backward: fewer eager ops
        and matrix products per step (no zero gradients pushed back through the forward pass), same
        maths. Dropout masks are drawn as ``forward`` draws them, in the same RNG order. Returned in
        float32 whatever the autocast dtype of the products.
        """
        slopes: list[torch.Tensor] = []
        with torch.no_grad():
            hidden = self._packed(rows)
            for linear, activation, dropout in self._hidden_blocks:
                pre = linear(hidden)
                slope = torch.where(pre > 0, 1.0, activation.negative_slope).to(pre.dtype)
                keep = dropout.keep_mask(pre)
                hidden = activation(pre)
                if keep is not None:
                    slope.mul_(keep)
                    hidden = hidden * keep
                slopes.append(slope)
        gradient = self.body[-1].weight  # (1, width)
        for (linear, _, _), slope in zip(reversed(self._hidden_blocks), reversed(slopes)):
            gradient = (gradient * slope) @ linear.weight
        return gradient.float().expand(len(rows) // self.pac, -1)  # expand: a no-op unless no hidden layer

    def _packed(self, rows: torch.Tensor) -> torch.Tensor:
        if rows.shape[0] % self.pac:
            raise ValueError(f"batch of {rows.shape[0]} rows is not a multiple of pac={self.pac}")
        return rows.reshape(-1, self.pac * self.input_dim)


class LabelClassifier(nn.Module):
    """Predicts the class of encoded rows whose class one-hot has been left out.

    Trained on real rows, it scores generated rows for the generator's auxiliary classification loss
    (AC-GAN, Odena et al. 2017; CTAB-GAN's classifier loss, Zhao et al. 2021): the critic alone
    learns the class condition slowly when a class has a few dozen rows.
    """

    def __init__(self, input_dim: int, hidden_dim: int, n_classes: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(input_dim, hidden_dim), nn.LeakyReLU(0.2), nn.Linear(hidden_dim, n_classes))

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        return self.body(rows)


class OutputActivation(nn.Module):
    """Applies each span's activation to raw generator output, vectorised over spans.

    One-hot spans are grouped by width (rounded up to a power of two), and each group is gathered into a
    padded (rows, group width, spans) block so one softmax over dim 1 covers the group. That layout
    matters on CPU: softmax over a short last dimension is several times slower than over dim 1. Grouping
    keeps the padding under 2x: one 64-category column beside 8-mode spans would otherwise pad them all
    to 64 (5x the real width on the 54,000-row benchmark table). Gathers use ``index_select``, whose
    backward is a cheap ``index_add`` rather than the accumulate-``index_put`` of advanced indexing.
    """

    def __init__(self, output_info: Sequence[SpanInfo]) -> None:
        super().__init__()
        tanh_positions = torch.tensor([span.start for span in output_info if span.activation == "tanh"],
                                      dtype=torch.long)
        groups: dict[int, list[SpanInfo]] = {}
        for span in output_info:
            if span.activation == "softmax":
                groups.setdefault(_padded_width(span.end - span.start), []).append(span)
        indices, masks, self.group_shapes = [], [], []
        for width, spans in sorted(groups.items()):  # once, at construction: a loop over spans
            index = torch.zeros(width, len(spans), dtype=torch.long)
            mask = torch.zeros(width, len(spans), dtype=torch.bool)
            for column, span in enumerate(spans):
                index[: span.end - span.start, column] = torch.arange(span.start, span.end)
                mask[: span.end - span.start, column] = True
            indices.append(index.flatten())
            masks.append(mask.flatten())
            self.group_shapes.append((width, len(spans)))
        index = torch.cat(indices) if indices else torch.zeros(0, dtype=torch.long)
        mask = torch.cat(masks) if masks else torch.zeros(0, dtype=torch.bool)
        self.register_buffer("tanh_positions", tanh_positions, persistent=False)
        self.register_buffer("softmax_index", index, persistent=False)
        self.register_buffer("padding", ~mask, persistent=False)
        self.register_buffer("used_slots", mask.nonzero().squeeze(1), persistent=False)
        self.register_buffer("restore_order", torch.argsort(torch.cat([tanh_positions, index[mask]])),
                             persistent=False)

    def forward(
        self, raw: torch.Tensor, tau: float = GUMBEL_TAU, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Training-time activation: tanh scalars and soft Gumbel-softmax one-hots (differentiable)."""
        raw = raw.float()
        scalars = torch.tanh(raw.index_select(1, self.tanh_positions))
        blocks = self._noisy_logits(raw, generator)
        one_hots = torch.cat([(block / tau).softmax(dim=1).flatten(1) for block in blocks], dim=1)
        activated = torch.cat([scalars, one_hots.index_select(1, self.used_slots)], dim=1)
        return activated.index_select(1, self.restore_order)

    @torch.no_grad()
    def hard(self, raw: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Sampling-time activation: exact one-hots drawn by the Gumbel-max trick (no softmax needed)."""
        raw = raw.float()
        blocks = self._noisy_logits(raw, generator)
        indices = self.softmax_index.split([width * spans for width, spans in self.group_shapes])
        chosen = [index.view(block.shape[1:])[block.argmax(dim=1), torch.arange(block.shape[2], device=raw.device)]
                  for block, index in zip(blocks, indices)]  # each (rows, spans of the group)
        rows = torch.zeros_like(raw)
        rows[:, self.tanh_positions] = torch.tanh(raw[:, self.tanh_positions])
        return rows.scatter_(1, torch.cat(chosen, dim=1), 1.0) if chosen else rows

    def _noisy_logits(self, raw: torch.Tensor, generator: torch.Generator | None) -> list[torch.Tensor]:
        """Logits plus Gumbel noise, one (rows, group width, spans) block per group, padded with -inf."""
        # Noise is drawn once per output position (not per padded slot): -log(-log(U)), U > 0.
        uniform = torch.rand(raw.shape, device=raw.device, generator=generator).clamp_min_(1e-20)
        noisy = raw - torch.log(-torch.log(uniform))
        gathered = noisy.index_select(1, self.softmax_index).masked_fill_(self.padding, float("-inf"))
        pieces = gathered.split([width * spans for width, spans in self.group_shapes], dim=1)
        return [piece.view(-1, width, spans) for piece, (width, spans) in zip(pieces, self.group_shapes)]


def _padded_width(width: int) -> int:
    """The group a one-hot span of ``width`` joins: the next power of two."""
    return 1 << max(width - 1, 0).bit_length()
