"""CTGAN-style class-conditional GAN for tables: config, encoder, condition sampler, networks, training, trainer."""

from gan_models.tabular.config import TabularGANConfig, TrainingPlan, training_plan
from gan_models.tabular.encoder import SpanInfo, TabularEncoder
from gan_models.tabular.sampler import ConditionBatch, ConditionSpace, TrainingSampler
from gan_models.tabular.trainer import TabularGAN

__all__ = [
    "ConditionBatch",
    "ConditionSpace",
    "SpanInfo",
    "TabularEncoder",
    "TabularGAN",
    "TabularGANConfig",
    "TrainingPlan",
    "TrainingSampler",
    "training_plan",
]
