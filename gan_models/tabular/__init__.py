"""CTGAN-style class-conditional GAN for tables: encoder, condition sampler, networks, trainer."""

from gan_models.tabular.encoder import SpanInfo, TabularEncoder
from gan_models.tabular.sampler import ConditionBatch, ConditionSpace, TrainingSampler
from gan_models.tabular.trainer import TabularGAN, TabularGANConfig, TrainingPlan, training_plan

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
