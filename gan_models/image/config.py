"""The image GAN's hyper-parameters: the one home of their defaults."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

from gan_models.image.architectures import ARCHITECTURES
from gan_models.image.diffaugment import parse_policy
from gan_models.image.losses import LOSSES, REGULARISERS

PRECISIONS = ("auto", "float32", "bfloat16")


@dataclass
class ImageGANConfig:
    """Hyper-parameters of one image GAN run (saved as ``config.json`` next to the weights).

    Defaults are sized for scarce 28-64 px data on a CPU. ``base_channels=32``: at 16 the projection
    discriminator could barely tell real from an *untrained* generator under DiffAugment. Batch 32
    and one discriminator step per generator step make a step several times cheaper than 64 and 2.
    ``ema_decay`` is approached with a warm-up, ``min(decay, (1+t)/(10+t))``, so a 2000-step run
    averages over roughly the last few hundred steps rather than reaching back to the random init.
    ``log_every`` sets how often losses are recorded and ``progress`` is called.

    ``precision``: ``"auto"`` (the default) trains under bfloat16 autocast on CUDA and on CPUs with AMX bf16 tiles (about
    1.9x the float32 throughput there), in float32 elsewhere; ``"float32"`` or ``"bfloat16"`` force one.
    ``regulariser``: an extra term from :data:`~gan_models.image.losses.REGULARISERS` (``"lecam"``: LeCam
    regularisation of the discriminator; ``"mode_seeking"``: MSGAN's diversity term for the generator;
    ``"r1"``: the R1 penalty on the discriminator's gradient at real images).
    ``budget_minutes``: a wall-clock budget for the training loop of one ``fit`` (0: none); training stops
    after the step that spends it, or at ``steps``, whichever comes first, and ``steps_done`` says which.
    """

    architecture: str = "sngan"
    loss: str = "hinge"
    regulariser: str = "none"
    z_dim: int = 128
    base_channels: int = 32
    steps: int = 2000
    batch_size: int = 32
    generator_lr: float = 2e-4
    discriminator_lr: float = 2e-4
    betas: tuple = (0.0, 0.999)
    discriminator_steps: int = 1
    diffaugment: str = "color,translation,cutout"
    ema_decay: float = 0.999
    seed: int = 0
    device: str = "auto"
    checkpoint_every: int = 0
    log_every: int = 20
    precision: str = "auto"
    budget_minutes: float = 0.0

    def __post_init__(self) -> None:
        self.betas = tuple(float(b) for b in self.betas)
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"architecture={self.architecture!r} is unknown; choose from {sorted(ARCHITECTURES)}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss={self.loss!r} is unknown; choose from {sorted(LOSSES)}")
        if self.regulariser not in REGULARISERS:
            raise ValueError(f"regulariser={self.regulariser!r} is unknown; choose from {list(REGULARISERS)}")
        for name in ("z_dim", "base_channels", "steps", "batch_size", "discriminator_steps", "log_every"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(self.checkpoint_every, int) or self.checkpoint_every < 0:
            raise ValueError(f"checkpoint_every must be an integer >= 0 (0 disables), got {self.checkpoint_every!r}")
        for name in ("generator_lr", "discriminator_lr"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas!r}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), got {self.ema_decay!r}")
        parse_policy(self.diffaugment)
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision={self.precision!r} is unknown; choose from {list(PRECISIONS)}")
        if isinstance(self.budget_minutes, bool) or not isinstance(self.budget_minutes, (int, float)) \
                or not self.budget_minutes >= 0:
            raise ValueError(f"budget_minutes must be a number >= 0 (0: no budget), got {self.budget_minutes!r}")
        self.budget_minutes = float(self.budget_minutes)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "betas": list(self.betas)}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "ImageGANConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"image GAN config has unknown field(s) {unknown}; known fields: {sorted(known)}")
        return cls(**dict(values))
