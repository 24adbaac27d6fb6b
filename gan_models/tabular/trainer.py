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

Epochs and batches follow CTGAN so "equal epochs" comparisons are fair: one epoch is
``max(1, n_rows // batch_size)`` steps, each step ``discriminator_steps`` critic updates and one
generator update on ``batch_size`` rows drawn with replacement. The batch size is rounded down to a
multiple of ``pac`` and capped at the table's row count (a batch larger than the table would only
repeat rows), and is never less than one pack (and never less than 2 rows, for batch norm).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, ClassVar, Hashable, Iterator, Mapping, NamedTuple, Sequence

import numpy as np
import pandas as pd
import torch
from torch.nn import functional as F

from gan_models.checkpoint import (
    check_same_data,
    checkpoint_mismatch,
    data_fingerprint,
    load_checkpoint,
    load_saved_weights,
    parse_saved_config,
    read_saved_json,
    read_saved_model,
    save_checkpoint,
)
from gan_models.runtime import autocast, device_for_loading, seed_everything, select_device
from gan_models.tabular.encoder import TabularEncoder, is_continuous_dtype
from gan_models.tabular.moments import ClassMomentLoss
from gan_models.tabular.networks import Discriminator, Generator, LabelClassifier, OutputActivation
from gan_models.tabular.sampler import ConditionBatch, ConditionSpace, TrainingSampler

PROGRESS_EVERY = 5
CHECKPOINT_KIND = "tabular_gan"
# Five times the GAN's rate: the auxiliary classifier must know the classes within the first few dozen
# of a small table's few hundred steps to be of use to the generator.
CLASSIFIER_LR = 1e-3
ProgressCallback = Callable[[int, int, dict], None]


@dataclass
class TabularGANConfig:
    """Hyper-parameters of the tabular GAN: CTGAN's defaults (see the module docstring for epochs) except
    the 128-wide networks, the auxiliary classifier and the per-class moment loss (``classifier_weight``
    and ``moment_weight`` 0 turn them off)."""

    epochs: int = 300
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
        for name in ("weight_decay", "gp_weight", "classifier_weight", "moment_weight", "checkpoint_every"):
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
    """Round the batch to a multiple of ``pac``, cap it at the table size, and count steps like CTGAN."""
    pac = config.pac
    capped = min(config.batch_size, n_rows)
    batch_size = max(pac, capped // pac * pac)
    if batch_size < 2:  # batch norm needs two rows
        batch_size = 2 * pac
    steps_per_epoch = max(1, n_rows // batch_size)
    return TrainingPlan(batch_size, steps_per_epoch, steps_per_epoch * config.epochs)


@dataclass
class _Progress:
    """Loop counters and losses: everything besides networks and optimisers that a resume needs."""

    step: int = 0
    loss_history: list = field(default_factory=list)
    epoch_sums: torch.Tensor = field(default_factory=lambda: torch.zeros(2))


@dataclass
class _Run:
    """What one call to ``fit`` trains with, besides the generator kept on the model."""

    data: torch.Tensor
    sampler: TrainingSampler
    discriminator: Discriminator
    generator_optimizer: torch.optim.Optimizer
    discriminator_optimizer: torch.optim.Optimizer
    plan: TrainingPlan
    encoder_state: dict
    progress: _Progress
    classifier: LabelClassifier | None = None
    classifier_optimizer: torch.optim.Optimizer | None = None
    moments: ClassMomentLoss | None = None
    data_fingerprint: str | None = None  # of the training table; set when checkpointing


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
        # Set by _build_model: span activation, where the class one-hot sits, conditioned-column spans.
        self._activation: OutputActivation | None = None
        self._label_span: tuple[int, int] = (0, 0)
        self._category_index = self._category_mask = torch.zeros(0, 0)

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
            fingerprint = _table_fingerprint(train, discrete, label_column)
            checkpoint = load_checkpoint(Path(checkpoint_dir), CHECKPOINT_KIND)
        if checkpoint is not None:
            _check_checkpoint_matches(checkpoint, self.config, fingerprint, checkpoint_dir)
            encoder = TabularEncoder.from_state(checkpoint["encoder"])
        else:
            encoder = TabularEncoder(self.config.max_modes, self.config.seed).fit(train, discrete)
        run = self._prepare_run(encoder, encoder.transform(train), label_column)
        run.data_fingerprint = fingerprint
        if checkpoint is not None:
            _restore_checkpoint(checkpoint, self.generator, run, self.device)
        resumed_from = run.progress.step
        self._train_loop(run, progress, checkpoint_dir)
        self.loss_history = run.progress.loss_history
        self.training_info = {
            "device": str(self.device),
            "rows": len(train),
            "epochs": self.config.epochs,
            "batch_size": run.plan.batch_size,
            "steps_per_epoch": run.plan.steps_per_epoch,
            "steps": run.plan.total_steps,
            "resumed_from_step": resumed_from,
            "wall_seconds": time.perf_counter() - started,
        }
        self.generator.eval()
        return self

    def _prepare_run(self, encoder: TabularEncoder, encoded: np.ndarray, label_column: Hashable) -> _Run:
        """Build the model, the batch sampler, the critic and the optimisers for an encoded table."""
        config = self.config
        label_codes, category_codes, category_counts = _condition_codes(encoder, encoded, label_column)
        n_classes = len(encoder.column_state(label_column)["categories"])
        space = ConditionSpace.from_codes(label_codes, category_codes, n_classes, category_counts)
        self._build_model(encoder, label_column, space)
        discriminator = Discriminator(
            encoder.output_dimensions + space.width, config.discriminator_dims, config.pac
        ).to(self.device)
        classifier = classifier_optimizer = None
        if config.classifier_weight > 0:
            classifier = LabelClassifier(
                encoder.output_dimensions - (self._label_span[1] - self._label_span[0]), config.classifier_dim, n_classes
            ).to(self.device)
            classifier_optimizer = _adam(classifier, CLASSIFIER_LR)
        data = torch.as_tensor(encoded, device=self.device)
        has_features = encoder.output_dimensions > self._label_span[1] - self._label_span[0]
        moments = ClassMomentLoss(encoder, label_column, data) if config.moment_weight > 0 and has_features else None
        return _Run(
            data=data,
            sampler=TrainingSampler(space, label_codes, category_codes, self.device),
            discriminator=discriminator,
            generator_optimizer=_adam(self.generator, config.generator_lr, config.weight_decay),
            discriminator_optimizer=_adam(discriminator, config.discriminator_lr, config.weight_decay),
            plan=training_plan(len(encoded), config),
            encoder_state=encoder.to_state(),
            progress=_Progress(),
            classifier=classifier,
            classifier_optimizer=classifier_optimizer,
            moments=moments,
        )

    def _build_model(self, encoder: TabularEncoder, label_column: Hashable, space: ConditionSpace) -> None:
        config = self.config
        self.encoder = encoder
        self.label_column = label_column
        self.classes = list(encoder.column_state(label_column)["categories"])
        self.condition_space = space
        self.generator = Generator(
            config.embedding_dim, space.width, config.generator_dims, encoder.output_dimensions
        ).to(self.device)
        self._activation = OutputActivation(encoder.output_info).to(self.device)
        label_span = encoder.spans(label_column)[0]
        self._label_span = (label_span.start, label_span.end)
        category_spans = [
            span for span in encoder.output_info if span.kind == "discrete" and span.column != label_column
        ]
        widest = max((span.end - span.start for span in category_spans), default=0)
        index = torch.zeros(len(category_spans), widest, dtype=torch.long)
        mask = torch.zeros(len(category_spans), widest, dtype=torch.bool)
        for row, span in enumerate(category_spans):  # once per column, not per row
            index[row, : span.end - span.start] = torch.arange(span.start, span.end)
            mask[row, : span.end - span.start] = True
        self._category_index, self._category_mask = index.to(self.device), mask.to(self.device)

    def _train_loop(self, run: _Run, progress: ProgressCallback | None, checkpoint_dir: Path | None) -> None:
        config, plan, state = self.config, run.plan, run.progress
        self.generator.train()
        run.discriminator.train()
        state.epoch_sums = state.epoch_sums.to(self.device)
        while state.step < plan.total_steps:
            discriminator_loss, generator_loss = self._train_step(run)
            state.step += 1
            state.epoch_sums += torch.stack([generator_loss, discriminator_loss])
            if state.step % plan.steps_per_epoch == 0:
                generator_mean, discriminator_mean = (state.epoch_sums / plan.steps_per_epoch).tolist()
                state.loss_history.append({
                    "epoch": state.step // plan.steps_per_epoch,
                    "generator_loss": generator_mean,
                    "discriminator_loss": discriminator_mean,
                })
                state.epoch_sums.zero_()
            finished = state.step == plan.total_steps
            if checkpoint_dir is not None and config.checkpoint_every and (
                state.step % config.checkpoint_every == 0 or finished
            ):
                self._save_checkpoint(run, Path(checkpoint_dir))
            if progress is not None and (state.step % PROGRESS_EVERY == 0 or finished):
                losses = {"generator_loss": generator_loss.item(), "discriminator_loss": discriminator_loss.item()}
                progress(state.step, plan.total_steps, losses)

    def _train_step(self, run: _Run) -> tuple[torch.Tensor, torch.Tensor]:
        """``discriminator_steps`` critic updates, then one generator update.

        The last critic update and the generator update share one batch of fakes (as in PyTorch's
        DCGAN recipe): the critic learns from it detached, then the generator is scored on it by the
        updated critic. This saves a generator forward pass per step.
        """
        for _ in range(self.config.discriminator_steps - 1):
            batch, rows = run.sampler.sample(run.plan.batch_size, pack_size=self.config.pac)
            real = run.data[rows]
            with torch.no_grad():
                _, fake = self._generate(batch)
            self._critic_update(run, batch, real, fake)
        batch, rows = run.sampler.sample(run.plan.batch_size, pack_size=self.config.pac)
        real = run.data[rows]
        raw, fake = self._generate(batch)
        discriminator_loss = self._critic_update(run, batch, real, fake.detach())
        if run.classifier is not None:
            self._classifier_update(run, batch, real)
        generator_loss = self._generator_update(run, batch, rows, raw, fake)
        return discriminator_loss, generator_loss

    def _generate(self, batch: ConditionBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw generator output and its soft (training-time) activation for a batch of conditions."""
        noise = torch.randn(len(batch.classes), self.config.embedding_dim, device=self.device)
        with autocast(self.device):
            raw = self.generator(noise, batch.condition)
            return raw, self._activated(raw, batch.condition, hard=False)

    def _critic_update(self, run: _Run, batch: ConditionBatch, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        real_input = torch.cat([real, batch.condition], dim=1)
        fake_input = torch.cat([fake.float(), batch.condition], dim=1)
        with autocast(self.device):
            # One critic pass over real then fake packs (batch_size is a multiple of pac: no pack mixes them).
            scores = run.discriminator(torch.cat([real_input, fake_input])).float()
            wasserstein = scores[len(scores) // 2:].mean() - scores[: len(scores) // 2].mean()
            penalty = _gradient_penalty(run.discriminator, real_input, fake_input, self.config.pac)
        loss = wasserstein + self.config.gp_weight * penalty
        _descend(run.discriminator_optimizer, loss)
        return wasserstein.detach()

    def _generator_update(
        self, run: _Run, batch: ConditionBatch, rows: torch.Tensor, raw: torch.Tensor, fake: torch.Tensor
    ) -> torch.Tensor:
        """``rows``: indices of the batch's real rows, which match the conditions (and classes) row for row."""
        with autocast(self.device):
            adversarial = -run.discriminator(torch.cat([fake, batch.condition], dim=1)).float().mean()
            loss = adversarial + self._condition_cross_entropy(raw, batch)
            if run.classifier is not None:
                logits = run.classifier(self._without_label(fake)).float()
                loss = loss + self.config.classifier_weight * F.cross_entropy(logits, batch.classes)
        if run.moments is not None:  # in float32: covariances are sums of many small products
            gaps = run.moments(rows, fake, batch.classes)
            loss = loss + self.config.moment_weight * gaps
        _descend(run.generator_optimizer, loss)
        return loss.detach()

    def _classifier_update(self, run: _Run, batch: ConditionBatch, real: torch.Tensor) -> None:
        """One step of the auxiliary classifier on the batch's real rows (their class is the condition's)."""
        with autocast(self.device):
            loss = F.cross_entropy(run.classifier(self._without_label(real)).float(), batch.classes)
        _descend(run.classifier_optimizer, loss)

    def _without_label(self, rows: torch.Tensor) -> torch.Tensor:
        start, end = self._label_span
        return torch.cat([rows[:, :start], rows[:, end:]], dim=1)

    def _activated(
        self, raw: torch.Tensor, condition: torch.Tensor, hard: bool, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Activated rows (soft one-hots for training, exact ones when ``hard``) carrying the class
        one-hot asked for in the condition."""
        activated = self._activation.hard(raw, generator) if hard else self._activation(raw, generator=generator)
        start, end = self._label_span
        return torch.cat([activated[:, :start], condition[:, : end - start], activated[:, end:]], dim=1)

    def _condition_cross_entropy(self, raw: torch.Tensor, batch: ConditionBatch) -> torch.Tensor:
        """CTGAN's penalty for not producing the conditioned category of the conditioned column."""
        if not self.condition_space.n_discrete:
            return raw.new_zeros((), dtype=torch.float32)
        positions = self._category_index[batch.columns]
        logits = raw.float().gather(1, positions).masked_fill(~self._category_mask[batch.columns], float("-inf"))
        return F.cross_entropy(logits, batch.categories)

    # ------------------------------------------------------------------------------- checkpoint
    def _save_checkpoint(self, run: _Run, directory: Path) -> None:
        save_checkpoint(
            directory,
            {
                "kind": CHECKPOINT_KIND,
                "data_fingerprint": run.data_fingerprint,
                "config": self.config.to_dict(),
                "rows": len(run.data),
                "label_column": self.label_column,
                "encoder": run.encoder_state,
                "step": run.progress.step,
                "loss_history": run.progress.loss_history,
                "epoch_sums": run.progress.epoch_sums.cpu(),
                "generator": self.generator.state_dict(),
                "discriminator": run.discriminator.state_dict(),
                "generator_optimizer": run.generator_optimizer.state_dict(),
                "discriminator_optimizer": run.discriminator_optimizer.state_dict(),
                "classifier": run.classifier.state_dict() if run.classifier is not None else None,
                "classifier_optimizer": (
                    run.classifier_optimizer.state_dict() if run.classifier_optimizer is not None else None
                ),
                "cpu_rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None,
            },
        )

    # ------------------------------------------------------------------------------------ sample
    def sample(
        self, class_counts: Mapping[Hashable, int], chunk_size: int = 100_000, seed: int | None = None
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
            classes = torch.as_tensor(codes, device=self.device)
            batch = self.condition_space.for_classes(classes, generator=random)
            noise = torch.randn(len(codes), self.config.embedding_dim, device=self.device, generator=random)
            with torch.no_grad(), autocast(self.device):
                rows = self._activated(self.generator(noise, batch.condition), batch.condition, True, random)
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


def _adam(module: torch.nn.Module, lr: float, weight_decay: float = 0.0) -> torch.optim.Adam:
    # The fused kernel updates every parameter in one pass: on these small networks the per-tensor
    # Adam loop would otherwise cost as much as the forward and backward passes.
    return torch.optim.Adam(module.parameters(), lr=lr, betas=(0.5, 0.9), weight_decay=weight_decay, fused=True)


def _descend(optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
    """One optimiser step on ``loss``. Only the optimiser's own parameters get gradients: the other
    networks the loss passes through (the critic and classifier, for the generator) are left alone, and
    autograd skips their weight gradients."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward(inputs=[p for group in optimizer.param_groups for p in group["params"]])
    optimizer.step()


def _gradient_penalty(discriminator: Discriminator, real: torch.Tensor, fake: torch.Tensor, pac: int) -> torch.Tensor:
    """WGAN-GP penalty on points between real and fake packs (one mixing weight per pack).

    The critic's input gradient is an explicit expression in its weights (``Discriminator.input_gradient``),
    so the loss needs one ordinary backward, not a double backward: fewer eager ops per step, same maths.
    """
    mix = torch.rand(real.shape[0] // pac, 1, 1, device=real.device).expand(-1, pac, 1).reshape(-1, 1)
    between = mix * real + (1 - mix) * fake
    norms = discriminator.input_gradient(between).norm(2, dim=1)  # one norm per pack
    return ((norms - 1) ** 2).mean()


def _table_fingerprint(train: pd.DataFrame, discrete: Sequence[Hashable], label_column: Hashable) -> str:
    """Content fingerprint of what a fit learns from: the table's values, column names and dtypes, which
    columns are discrete and which is the label (a checkpoint resumes only the same)."""
    layout = repr((list(zip(train.columns, map(repr, train.dtypes))), sorted(map(repr, discrete)), label_column))
    row_hashes = pd.util.hash_pandas_object(train, index=False).to_numpy()
    return data_fingerprint([layout, row_hashes.tobytes()])


def _check_checkpoint_matches(checkpoint: dict, config: TabularGANConfig, fingerprint: str, directory: Path) -> None:
    saved, current = checkpoint["config"], config.to_dict()
    changed = sorted(name for name in saved.keys() | current.keys() if saved.get(name) != current.get(name))
    if changed:
        raise checkpoint_mismatch(directory, f"for another config ({changed} differ)")
    check_same_data(checkpoint, fingerprint, directory)


def _restore_checkpoint(checkpoint: dict, generator: Generator, run: _Run, device: torch.device) -> None:
    """Put networks, optimisers, RNG streams and counters back where the checkpoint left them."""
    generator.load_state_dict(checkpoint["generator"])
    run.discriminator.load_state_dict(checkpoint["discriminator"])
    run.generator_optimizer.load_state_dict(checkpoint["generator_optimizer"])
    run.discriminator_optimizer.load_state_dict(checkpoint["discriminator_optimizer"])
    if run.classifier is not None:
        run.classifier.load_state_dict(checkpoint["classifier"])
        run.classifier_optimizer.load_state_dict(checkpoint["classifier_optimizer"])
    torch.set_rng_state(checkpoint["cpu_rng"])
    if device.type == "cuda" and checkpoint["cuda_rng"] is not None:
        torch.cuda.set_rng_state(checkpoint["cuda_rng"], device)
    run.progress = _Progress(checkpoint["step"], list(checkpoint["loss_history"]), checkpoint["epoch_sums"].clone())


def _condition_codes(encoder: TabularEncoder, encoded: np.ndarray, label_column: Hashable):
    """Per row: class code and the category code of every other discrete column; plus those columns' widths."""
    label = encoder.spans(label_column)[0]
    spans = [s for s in encoder.output_info if s.kind == "discrete" and s.column != label_column]
    label_codes = encoded[:, label.start:label.end].argmax(axis=1)
    category_codes = np.zeros((len(encoded), len(spans)), dtype=np.int64)
    for position, span in enumerate(spans):  # a loop over columns; each column is read vectorised
        category_codes[:, position] = encoded[:, span.start:span.end].argmax(axis=1)
    return label_codes, category_codes, [span.end - span.start for span in spans]


def _chunk_class_codes(counts: list[tuple[int, int]], chunk_size: int) -> Iterator[np.ndarray]:
    """Class codes of consecutive chunks of the requested rows (only one chunk in memory at a time)."""
    codes = np.array([code for code, _ in counts], dtype=np.int64)
    ends = np.cumsum([n for _, n in counts], dtype=np.int64)
    total = int(ends[-1]) if len(ends) else 0
    for start in range(0, total, chunk_size):
        positions = np.arange(start, min(start + chunk_size, total))
        yield codes[np.searchsorted(ends, positions, side="right")]
