"""Typed run configuration of each step; every default runs the embedded demo.

No default is declared here: each is read from the library that owns it (the GAN configs, the split, the
lift protocol, the check thresholds), so the CLI, this config and the catalog always agree.
"""

from typing import Optional, Union

from dagster import Config, ConfigurableResource
from pydantic import Field, field_validator

from gan_models.image import ARCHITECTURES, LOSSES, ImageGANConfig
from gan_models.image.losses import REGULARISERS
from gan_models.sampling import parse_sampling_strategy
from gan_models.tabular import TabularGANConfig
from gan_models.tabular.config import SAMPLE_CHUNK_ROWS
from pipelines.catalog import check_min_lift
from pipelines.run_config import MAX_SEED
from quality.checks.thresholds import THRESHOLDS
from quality.curation.images import DEFAULT_IMAGE_CURATION
from quality.data.images import DIGITS_GAN_STEPS, FOLDER_IMAGE_SIZE
from quality.data.plan import AUTO_FOLDS, DEFAULT_FOLDS, DEMO_HOLDOUT_FRACTION, MIN_VALIDATION_ROWS_PER_CLASS
from quality.data.splitting import VALIDATION_FRACTION
from quality.lift.images import CNN_EPOCHS
from quality.lift.statistics import BOOTSTRAP_RESAMPLES, DEFAULT_LIFT_SEEDS, MIN_LIFT_SEEDS
from quality.lift.tables import DEFAULT_LIFT_JOBS

TABLE_GAN = TabularGANConfig()
IMAGE_GAN = ImageGANConfig()

# Tag of runs started by `synthlift run`: an interrupt there stops the run (elsewhere a retry may follow it).
INTERACTIVE_RUN_TAG = "synthlift/interactive"

SEED_FIELD = Field(default=0, ge=0, le=MAX_SEED)


class DatasetConfig(Config):
    source: str = Field(
        default="",
        description="A built-in name (breast_cancer, wine, digits), a CSV/Parquet file, a MedMNIST .npz "
        "file, or a folder with one sub-folder of images per class. Empty: the catalog entry named like "
        "the partition.",
    )
    label: str = Field(default="", description="Label column of a table (built-ins know their own).")
    drop_columns: list[str] = Field(default=[], description="Tables: columns to leave out (a record identifier, "
                                    "a column that would leak the label); never the label.")
    keep_columns: list[str] = Field(default=[], description="Tables: columns to keep that would be dropped as "
                                    "record numbers (distinct whole numbers named like an ID or forming a range).")
    image_size: int = Field(default=FOLDER_IMAGE_SIZE,
                            description="Images from folders are resized to this many pixels.")


class PlanConfig(Config):
    seed: int = SEED_FIELD
    folds: int = Field(
        default=AUTO_FOLDS, ge=0,
        description=f"How the lift is proved. 0: by the rule (a validation split when it holds at least "
        f"{MIN_VALIDATION_ROWS_PER_CLASS} rows of every class, else {DEFAULT_FOLDS}-fold cross-fitting); "
        "1: one validation split; K: K-fold cross-fitting. Images keep their validation split.",
    )
    repeats: int = Field(
        default=1, ge=1,
        description="Tables: draw the cross-fitting folds this many times; every row is judged once per "
        "repetition, and the lift's bootstrap resamples (repetition, seed) pairs. Each repetition costs K more "
        "GANs and K times the lift's fits.",
    )
    holdout_fraction: Optional[float] = Field(
        default=None, ge=0.0, lt=0.5,
        description="Share of rows held out to report final figures only (they decide nothing). Unset: "
        f"{DEMO_HOLDOUT_FRACTION} for the built-in demos and MedMNIST files without a test split, 0 for your "
        "own tables (the cross-fitted figure is already measured on rows the models never saw).",
    )
    validation_fraction: float = Field(default=VALIDATION_FRACTION, gt=0.0, lt=0.5,
                                       description="Share of the deciding rows a validation split judges on.")
    scarce_train_rows: Optional[int] = Field(
        default=None,
        description="Cut every class but the majority to this many deciding rows (a scarcity experiment). "
        "Unset: the source's default (built-in demos are made scarce); 0: keep every row.",
    )


class GeneratorConfig(Config):
    seed: int = SEED_FIELD
    device: str = Field(default=TABLE_GAN.device, description="'auto' (CUDA when present), 'cpu' or 'cuda'.")
    epochs: int = Field(default=TABLE_GAN.epochs, description="Tables: passes over the training rows.")
    max_steps: int = Field(default=TABLE_GAN.max_steps, ge=0,
                           description="Tables: at most this many training steps, whatever the epochs (0: no cap).")
    batch_size: int = Field(default=TABLE_GAN.batch_size, description="Tables: rows per training step.")
    image_steps: int = Field(default=0, ge=0, description=f"Images: generator updates (0: {IMAGE_GAN.steps}, or "
                             f"{DIGITS_GAN_STEPS} for the built-in digits).")
    image_minutes: float = Field(
        default=IMAGE_GAN.budget_minutes, ge=0,
        description="Images: wall-clock budget of the GAN's training, in minutes; it stops at image_steps or when "
                    "the budget is spent, whichever comes first (0 or unset: no budget).")
    architecture: str = Field(default=IMAGE_GAN.architecture,
                              description=f"Images: one of {', '.join(ARCHITECTURES)}.")
    loss: str = Field(default=IMAGE_GAN.loss, description=f"Images: one of {', '.join(LOSSES)}.")
    regulariser: str = Field(default=IMAGE_GAN.regulariser, description=f"Images: one of {', '.join(REGULARISERS)} "
                             "(lecam: LeCam regularisation of the discriminator; mode_seeking: MSGAN's diversity term; r1: "
                             "the discriminator's gradient penalised at real images).")
    checkpoint_every: int = Field(default=TABLE_GAN.checkpoint_every,
                                  description="Save a resumable checkpoint every N steps (0: never).")
    cpu_threads: Optional[int] = Field(
        default=None, ge=0,
        description="CPU threads for each training part (0: torch's default, every core). Unset: every core when "
                    "the run trains one GAN, one each when it trains several (folds, or classes with per_class).")
    per_class: bool = Field(
        default=False,
        description="Images: one independent GAN per class, each trained in its own step (parallel workers/GPUs).",
    )


class SamplingConfig(Config):
    sampling_strategy: str = Field(
        default="auto",
        description="As in imbalanced-learn: 'auto' (every class up to the majority count), 'minority', "
        "a ratio such as '0.8', or a JSON object of class -> target count such as '{\"malignant\": 200}'.",
    )
    seed: int = SEED_FIELD
    chunk_size: int = Field(default=SAMPLE_CHUNK_ROWS, description="Rows generated at a time (memory stays flat).")
    image_curation: int = Field(
        default=DEFAULT_IMAGE_CURATION, ge=1,
        description="Images: generate this many candidates per image kept and keep those the checks' CNN labels as "
        "their class, that copy no train image and that add the most coverage (1: keep every sample).")

    def parsed_strategy(self) -> Union[str, float, dict]:
        return parse_sampling_strategy(self.sampling_strategy)


class LiftConfig(Config):
    seeds: list[int] = Field(default=list(DEFAULT_LIFT_SEEDS),
                             description=f"Downstream training seeds; a lift over fewer than {MIN_LIFT_SEEDS} "
                             "never publishes.")
    n_boot: int = Field(default=BOOTSTRAP_RESAMPLES, description="Paired bootstrap resamples for the confidence intervals.")
    image_epochs: int = Field(default=CNN_EPOCHS, description="Images: epochs of the downstream CNN.")
    jobs: int = Field(default=DEFAULT_LIFT_JOBS, ge=1,
                      description="Processes that train the downstream models side by side (tables: a fold, seed and "
                      "method each, and a seed and method each on an outer holdout; images: a method and seed each, one "
                      "at a time on a GPU).")

    @field_validator("seeds")
    @classmethod
    def _seeds_in_range(cls, seeds: list[int]) -> list[int]:
        bad = [seed for seed in seeds if not 0 <= seed <= MAX_SEED]
        if bad:
            raise ValueError(f"seeds must lie in [0, {MAX_SEED}]; bad: {bad}")
        return seeds


class PublishConfig(Config):
    min_lift: float = Field(default=0.0, description="The lift's lower confidence bound must exceed this.")
    require_beat_baseline: bool = Field(
        default=False,
        description="Measure the gate against the classic baseline hardest to beat (tables: SMOTE or random "
        "oversampling; images: the classic augmentations) instead of real data alone.",
    )

    @field_validator("min_lift")
    @classmethod
    def _valid_min_lift(cls, min_lift: float) -> float:
        check_min_lift(min_lift)
        return min_lift


def _threshold(name: str):
    threshold = THRESHOLDS[name]
    return Field(default=threshold.default, description=threshold.description, **threshold.bounds)


class QualityThresholds(ConfigurableResource):
    """Thresholds of the quality checks (fixed in advance, never fitted to rows that judge the model);
    defaults, ranges and meanings come from ``quality.checks.thresholds``."""

    max_table_c2st_auc: float = _threshold("max_table_c2st_auc")
    max_image_c2st_auc: float = _threshold("max_image_c2st_auc")
    max_duplicate_rate: float = _threshold("max_duplicate_rate")
    min_table_spread_ratio: float = _threshold("min_table_spread_ratio")
    min_image_spread_ratio: float = _threshold("min_image_spread_ratio")
    privacy_quantile: float = _threshold("privacy_quantile")
    max_close_fraction: float = _threshold("max_close_fraction")
