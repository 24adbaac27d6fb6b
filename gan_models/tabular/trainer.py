"""Training, sampling, saving and loading of the class-conditional tabular GAN.

The model is CTGAN (Xu et al. 2019) written from the paper, with the class label as part of the
condition: a WGAN-GP (Gulrajani et al. 2017) with a PacGAN critic (Lin et al. 2018), mode-specific
normalisation, training by sampling, and a cross-entropy term that makes the generator honour the
conditioned discrete category. Batches are class-balanced; the class one-hot of each generated row is
set from its condition (never generated), so sampling a class needs no rejection.

Departure from CTGAN: every pack of ``pac`` rows the critic sees holds a single class. With packs of
mixed classes the critic hardly checked that rows fit their class and the generator learned to ignore
it (on breast_cancer with 20 malignant rows, a classifier trained on synthetic rows only scored a
balanced accuracy of 0.50 on real rows; with single-class packs, 0.89).

Three more departures, for tables with a few dozen rows per class (chosen on the validation split of
the benchmark tables, never on holdout rows; see BENCHMARKS.md):

- An auxiliary classifier (AC-GAN, Odena et al. 2017; CTAB-GAN's classifier loss, Zhao et al. 2021)
  learns the class from real rows, and the generator pays its cross-entropy on generated rows. At 300
  epochs on wine (83 rows, 300 steps) the critic alone left the class at chance: a classifier fitted on
  real rows agreed with the requested class for about 40% of generated rows; with this loss, over 90%.
- Per-class moment matching (``moments.ClassMomentLoss``; CTAB-GAN's information loss, per class): the
  generator also pays the gaps between the means and covariances of its rows and the batch's real rows
  of the same class, in decoded column units. Without it, in a diagnostic run on breast_cancer, the 20-row
  malignant class came out with its features nearly uncorrelated (mean |correlation| 0.10 against 0.46
  for the real rows), so its rows sat near the class centre along any linear boundary and logistic
  regression hardly moved.
- Networks of 128 units instead of CTGAN's 256: as good on the validation lift and a third faster.

Epochs and batches follow CTGAN (``config.training_plan``); one training step is ``training.train_step``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import ClassVar, Hashable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from gan_models.checkpoint import (
    load_checkpoint,
    load_saved_weights,
    parse_saved_config,
    read_saved_json,
    read_saved_model,
)
from gan_models.runtime import device_for_loading, seed_everything, select_device
from gan_models.tabular.conditional import ConditionalGenerator
from gan_models.tabular.config import SAMPLE_CHUNK_ROWS, TabularGANConfig
from gan_models.tabular.encoder import TabularEncoder, is_continuous_dtype
from gan_models.tabular.networks import Generator
from gan_models.tabular.sampler import ConditionSpace
from gan_models.tabular.training import (
    CHECKPOINT_KIND,
    ProgressCallback,
    TrainingRun,
    check_checkpoint_matches,
    condition_codes,
    new_run,
    restore_run,
    run_training,
    table_fingerprint,
)


class TabularGAN:
    """Class-conditional tabular GAN: ``fit`` on a labelled table, then ``sample`` rows of any class."""

    modality: ClassVar[str] = "tabular"
    artifact_key: ClassVar[str] = "tabular_gan"  # names the type in stored artefacts: never change it

    def __init__(self, config: TabularGANConfig | None = None) -> None:
        self.config = config or TabularGANConfig()
        self.encoder: TabularEncoder | None = None
        self.condition_space: ConditionSpace | None = None
        self.generator: Generator | None = None
        self.label_column: Hashable | None = None
        self.classes: list = []
        self.loss_history: list[dict] = []
        self.training_info: dict = {}
        self.device = torch.device("cpu")
        self._head: ConditionalGenerator | None = None  # the generator with its output layout (set with it)

    # --------------------------------------------------------------------------------------- fit
    def fit(
        self,
        train: pd.DataFrame,
        label_column: Hashable,
        discrete_columns: Sequence[Hashable] | None = None,
        progress: ProgressCallback | None = None,
        checkpoint_dir: Path | None = None,
    ) -> "TabularGAN":
        """Train on ``train``; ``label_column`` holds the classes to condition on.

        ``discrete_columns`` defaults to the non-numeric and boolean columns plus the label.
        ``progress(step, total_steps, {"generator_loss", "discriminator_loss"})`` is called every few
        steps. With ``checkpoint_dir``, a checkpoint found there is resumed from (the run then ends at
        the same total step count), and one is written every ``config.checkpoint_every`` steps. A
        checkpoint written for another config, for other data (content, discrete columns or label) or
        by the image GAN is refused with a ValueError.
        """
        started = time.perf_counter()
        discrete = _validated_fit_inputs(train, label_column, discrete_columns)
        self.device = select_device(self.config.device)
        seed_everything(self.config.seed)
        fingerprint = checkpoint = None
        if checkpoint_dir is not None:
            fingerprint = table_fingerprint(train, discrete, label_column)
            checkpoint = load_checkpoint(Path(checkpoint_dir), CHECKPOINT_KIND)
        if checkpoint is not None:
            check_checkpoint_matches(checkpoint, self.config, fingerprint, checkpoint_dir)
            encoder = TabularEncoder.from_state(checkpoint["encoder"])
        else:
            encoder = TabularEncoder(self.config.max_modes, self.config.seed).fit(
                train, discrete, ungrouped=[label_column])
        run = self._prepare_run(encoder, encoder.transform(train), label_column)
        run.data_fingerprint = fingerprint
        if checkpoint is not None:
            restore_run(checkpoint, self._head, run)
        resumed_from = run.progress.step
        run_training(self._head, run, progress, checkpoint_dir)
        self.loss_history = run.progress.loss_history
        self.training_info = {
            "device": str(self.device),
            "rows": len(train),
            "epochs": self.config.epochs,
            "max_steps": self.config.max_steps,
            "epochs_trained": round(run.plan.total_steps / run.plan.steps_per_epoch, 2),
            "batch_size": run.plan.batch_size,
            "steps_per_epoch": run.plan.steps_per_epoch,
            "steps": run.plan.total_steps,
            "resumed_from_step": resumed_from,
            "wall_seconds": time.perf_counter() - started,
        }
        self.generator.eval()
        return self

    def _prepare_run(self, encoder: TabularEncoder, encoded: np.ndarray, label_column: Hashable) -> TrainingRun:
        """Build the model, the batch sampler, the critic and the optimisers for an encoded table."""
        label_codes, category_codes, category_counts = condition_codes(encoder, encoded, label_column)
        n_classes = len(encoder.column_state(label_column)["categories"])
        space = ConditionSpace.from_codes(label_codes, category_codes, n_classes, category_counts)
        self._build_model(encoder, label_column, space)
        return new_run(self._head, encoder, encoded, label_column, (label_codes, category_codes), self.config)

    def _build_model(self, encoder: TabularEncoder, label_column: Hashable, space: ConditionSpace) -> None:
        self.encoder = encoder
        self.label_column = label_column
        self.classes = list(encoder.column_state(label_column)["categories"])
        self.condition_space = space
        self._head = ConditionalGenerator(encoder, label_column, space, self.config, self.device)
        self.generator = self._head.network

    # ------------------------------------------------------------------------------------ sample
    def sample(
        self, class_counts: Mapping[Hashable, int], chunk_size: int = SAMPLE_CHUNK_ROWS, seed: int | None = None
    ) -> Iterator[pd.DataFrame]:
        """Yield DataFrames of generated rows, at most ``chunk_size`` rows each, with exactly
        ``class_counts[cls]`` rows of each class in total and the training table's columns and dtypes.

        Memory stays flat however many rows are asked for. ``seed`` defaults to ``config.seed``: the same
        seed on the same device gives the same rows. Arguments are checked when called, not when iterated.
        """
        if self.generator is None:
            raise ValueError("the model is not trained: call fit(...) or TabularGAN.load(...) first")
        if isinstance(chunk_size, bool) or int(chunk_size) < 1:
            raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
        counts = self._class_codes_and_counts(class_counts)
        return self._generate_chunks(counts, int(chunk_size), self.config.seed if seed is None else int(seed))

    def _generate_chunks(self, counts: list[tuple[int, int]], chunk_size: int, seed: int) -> Iterator[pd.DataFrame]:
        random = torch.Generator(device=self.device)
        random.manual_seed(seed)
        self.generator.eval()
        first_row = 0
        for codes in _chunk_class_codes(counts, chunk_size):
            rows = self._head.sample_rows(codes, random)
            index = pd.RangeIndex(first_row, first_row + len(codes))
            first_row += len(codes)
            yield self.encoder.inverse_transform(rows.float().cpu().numpy(), index=index)

    def _class_codes_and_counts(self, class_counts: Mapping[Hashable, int]) -> list[tuple[int, int]]:
        if not isinstance(class_counts, Mapping):
            raise ValueError(f"class_counts must be a dict class -> number of rows, got {type(class_counts).__name__}")
        by_text = {str(c): code for code, c in enumerate(self.classes)}
        resolved: dict[int, int] = {}
        for key, count in class_counts.items():
            code = self.classes.index(key) if key in self.classes else by_text.get(str(key))
            if code is None:
                raise ValueError(f"class_counts names class {key!r}, which is not among the classes {self.classes}")
            if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 0:
                raise ValueError(f"class_counts[{key!r}] must be a non-negative integer, got {count!r}")
            if code in resolved:
                raise ValueError(f"class_counts names class {self.classes[code]!r} twice")
            resolved[code] = int(count)
        return [(code, n) for code, n in sorted(resolved.items()) if n > 0]

    # ------------------------------------------------------------------------------- save / load
    def save(self, directory: Path) -> None:
        """Write generator.pt (state_dict), config.json, encoder.json and meta.json to ``directory``."""
        if self.generator is None:
            raise ValueError("the model is not trained: nothing to save")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        torch.save({k: v.detach().cpu() for k, v in self.generator.state_dict().items()}, directory / "generator.pt")
        meta = {
            "label_column": self.label_column,
            "classes": self.classes,
            "columns": self.encoder.columns,
            "dtypes": [self.encoder.column_state(c)["dtype"] for c in self.encoder.columns],
            "condition_space": self.condition_space.to_state(),
            "loss_history": self.loss_history,
            "training_info": self.training_info,
        }
        for name, content in (
            ("config.json", self.config.to_dict()),
            ("encoder.json", self.encoder.to_state()),
            ("meta.json", meta),
        ):
            (directory / name).write_text(json.dumps(content, indent=1))

    @classmethod
    def load(cls, directory: Path, device: str | None = None) -> "TabularGAN":
        """Restore a model written by ``save`` for sampling.

        ``device`` must be available here; without it the device the model was saved with is used when
        this machine has it, and the CPU otherwise. A folder whose files cannot be used is refused with
        a ValueError.
        """
        directory = Path(directory)
        config_values, meta = read_saved_model(
            directory, "TabularGAN", ("generator.pt", "config.json", "encoder.json", "meta.json")
        )
        config = parse_saved_config(directory, "TabularGAN", config_values, TabularGANConfig.from_dict)
        if device is not None:
            config.device = device
        model = cls(config)
        model.device = device_for_loading(config.device, requested=device)
        encoder = TabularEncoder.from_state(read_saved_json(directory, "encoder.json", "TabularGAN"))
        model._build_model(encoder, meta["label_column"], ConditionSpace.from_state(meta["condition_space"]))
        load_saved_weights(directory, "TabularGAN", "generator.pt", model.generator, model.device)
        model.generator.eval()
        model.loss_history = meta["loss_history"]
        model.training_info = meta["training_info"]
        return model


# ---------------------------------------------------------------------------------------- helpers
def _validated_fit_inputs(
    train: pd.DataFrame, label_column: Hashable, discrete_columns: Sequence[Hashable] | None
) -> list:
    if not isinstance(train, pd.DataFrame):
        raise ValueError(f"train must be a pandas DataFrame, got {type(train).__name__}")
    if len(train) < 2:
        raise ValueError(f"train has {len(train)} row(s); a GAN needs at least 2")
    if label_column not in train.columns:
        raise ValueError(f"label_column {label_column!r} is not a column of train ({list(train.columns)})")
    n_missing = int(train[label_column].isna().sum())
    if n_missing:
        raise ValueError(f"label column {label_column!r} has {n_missing} missing value(s); drop or label those rows")
    if discrete_columns is None:
        discrete = [c for c in train.columns if not is_continuous_dtype(train[c].dtype)]
    else:
        unknown = [c for c in discrete_columns if c not in train.columns]
        if unknown:
            raise ValueError(f"discrete_columns names {unknown}, which are not columns of train")
        discrete = list(discrete_columns)
    return discrete + ([label_column] if label_column not in discrete else [])


def _chunk_class_codes(counts: list[tuple[int, int]], chunk_size: int) -> Iterator[np.ndarray]:
    """Class codes of consecutive chunks of the requested rows (only one chunk in memory at a time)."""
    codes = np.array([code for code, _ in counts], dtype=np.int64)
    ends = np.cumsum([n for _, n in counts], dtype=np.int64)
    total = int(ends[-1]) if len(ends) else 0
    for start in range(0, total, chunk_size):
        positions = np.arange(start, min(start + chunk_size, total))
        yield codes[np.searchsorted(ends, positions, side="right")]
