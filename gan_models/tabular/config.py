"""The tabular GAN's hyper-parameters (the one home of their defaults) and the batch/step plan they give a table.

Epochs and batches follow CTGAN so "equal epochs" comparisons are fair: one epoch is
``max(1, n_rows // batch_size)`` steps, each step ``discriminator_steps`` critic updates and one
generator update on ``batch_size`` rows drawn with replacement. The batch size is rounded down to a
multiple of ``pac`` and capped at the table's row count (a batch larger than the table would only
repeat rows), and is never less than one pack (and never less than 2 rows, for batch norm).

The step budget ``max_steps`` caps the total (0: no cap), so a fit's cost stops growing with the row count
once ``epochs * n_rows / batch_size`` passes it: 300 epochs of 500-row batches reach the default cap at
about 6,700 rows, so smaller tables (every scarce table, the embedded demos) train exactly their 300 epochs,
and a 54,000-row table trains 4,000 steps instead of 19,200 (about 37 epochs; BENCHMARKS.md, "Scale", has
the lift and fidelity measured against the step count).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping, NamedTuple


# Rows generated at a time: memory stays flat however many rows are asked for.
SAMPLE_CHUNK_ROWS = 100_000


@dataclass
class TabularGANConfig:
    """Hyper-parameters of the tabular GAN: CTGAN's defaults (see the module docstring for epochs) except
    the 128-wide networks, the auxiliary classifier and the per-class moment loss (``classifier_weight``
    and ``moment_weight`` 0 turn them off)."""

    epochs: int = 300
    max_steps: int = 4000
    batch_size: int = 500
    pac: int = 10
    embedding_dim: int = 128
    generator_dims: tuple = (128, 128)
    discriminator_dims: tuple = (128, 128)
    generator_lr: float = 2e-4
    discriminator_lr: float = 2e-4
    weight_decay: float = 1e-6
    discriminator_steps: int = 1
    gp_weight: float = 10.0
    classifier_weight: float = 1.0
    classifier_dim: int = 64
    moment_weight: float = 5.0
    max_modes: int = 10
    seed: int = 0
    device: str = "auto"
    checkpoint_every: int = 0

    def __post_init__(self) -> None:
        self.generator_dims = tuple(int(d) for d in self.generator_dims)
        self.discriminator_dims = tuple(int(d) for d in self.discriminator_dims)
        for name in ("epochs", "batch_size", "pac", "embedding_dim", "discriminator_steps", "max_modes", "classifier_dim"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"TabularGANConfig.{name} must be at least 1, got {getattr(self, name)}")
        for name in ("generator_lr", "discriminator_lr"):
            if not float(getattr(self, name)) > 0:
                raise ValueError(f"TabularGANConfig.{name} must be positive, got {getattr(self, name)}")
        for name in ("weight_decay", "gp_weight", "classifier_weight", "moment_weight", "checkpoint_every",
                     "max_steps"):
            if float(getattr(self, name)) < 0:
                raise ValueError(f"TabularGANConfig.{name} must not be negative, got {getattr(self, name)}")

    def to_dict(self) -> dict:
        """JSON-ready dict (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "TabularGANConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known, key=str)
        if unknown:
            raise ValueError(f"tabular GAN config has unknown field(s) {unknown}; known fields: {sorted(known)}")
        return cls(**dict(values))


class TrainingPlan(NamedTuple):
    """Effective batch size and step counts for a table of ``n_rows`` rows."""

    batch_size: int
    steps_per_epoch: int
    total_steps: int


def training_plan(n_rows: int, config: TabularGANConfig) -> TrainingPlan:
    """Round the batch to a multiple of ``pac``, cap it at the table size, and count steps like CTGAN, at most
    ``config.max_steps`` of them (when set)."""
    pac = config.pac
    capped = min(config.batch_size, n_rows)
    batch_size = max(pac, capped // pac * pac)
    if batch_size < 2:  # batch norm needs two rows
        batch_size = 2 * pac
    steps_per_epoch = max(1, n_rows // batch_size)
    total_steps = steps_per_epoch * config.epochs
    if config.max_steps:
        total_steps = min(total_steps, int(config.max_steps))
    return TrainingPlan(batch_size, steps_per_epoch, total_steps)
