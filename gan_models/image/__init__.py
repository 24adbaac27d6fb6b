"""Class-conditional image GANs: SNGAN/projection-D, DCGAN, DiffAugment, EMA generator (plain PyTorch)."""

from gan_models.image.architectures import ARCHITECTURES, build_architecture
from gan_models.image.diffaugment import POLICIES, diff_augment
from gan_models.image.losses import LOSSES, GANLoss, get_loss
from gan_models.image.config import ImageGANConfig
from gan_models.image.grid import image_grid, sample_grid
from gan_models.image.per_class import PerClassImageGAN, load_image_gan, train_single_class
from gan_models.image.trainer import ImageGAN

__all__ = [
    "ARCHITECTURES",
    "LOSSES",
    "POLICIES",
    "GANLoss",
    "ImageGAN",
    "ImageGANConfig",
    "PerClassImageGAN",
    "build_architecture",
    "diff_augment",
    "get_loss",
    "image_grid",
    "load_image_gan",
    "sample_grid",
    "train_single_class",
]
