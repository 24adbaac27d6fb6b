"""The tabular GAN's training run: what one ``fit`` trains with, its steps, and its checkpoints.

A step is ``discriminator_steps`` critic updates (WGAN-GP on PacGAN packs), one update of the auxiliary
classifier on the batch's real rows, and one generator update (adversarial loss, CTGAN's
conditioned-category cross-entropy, the classifier's cross-entropy and the per-class moment gaps).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Hashable, Sequence

import numpy as np
import pandas as pd
import torch
from torch.nn import functional as F

from gan_models.checkpoint import check_same_data, checkpoint_mismatch, data_fingerprint, save_checkpoint
from gan_models.runtime import autocast
from gan_models.tabular.conditional import ConditionalGenerator
from gan_models.tabular.config import TabularGANConfig, TrainingPlan, training_plan
from gan_models.tabular.encoder import TabularEncoder
from gan_models.tabular.moments import ClassMomentLoss
from gan_models.tabular.networks import Discriminator, LabelClassifier
from gan_models.tabular.sampler import ConditionBatch, TrainingSampler

PROGRESS_EVERY = 5
CHECKPOINT_KIND = "tabular_gan"
# Five times the GAN's rate: the auxiliary classifier must know the classes within the first few dozen
# of a small table's few hundred steps to be of use to the generator.
CLASSIFIER_LR = 1e-3
ProgressCallback = Callable[[int, int, dict], None]


@dataclass
class TrainingProgress:
    """Loop counters and losses: everything besides networks and optimisers that a resume needs."""

    step: int = 0
    loss_history: list = field(default_factory=list)
    epoch_sums: torch.Tensor = field(default_factory=lambda: torch.zeros(2))


@dataclass
class TrainingRun:
    """What one call to ``fit`` trains with, besides the generator."""

    config: TabularGANConfig
    label_column: Hashable
    data: torch.Tensor
    sampler: TrainingSampler
    discriminator: Discriminator
    generator_optimizer: torch.optim.Optimizer
    discriminator_optimizer: torch.optim.Optimizer
    plan: TrainingPlan
    encoder_state: dict
    progress: TrainingProgress
    classifier: LabelClassifier | None = None
    classifier_optimizer: torch.optim.Optimizer | None = None
    moments: ClassMomentLoss | None = None
    data_fingerprint: str | None = None  # of the training table; set when checkpointing


def new_run(
    head: ConditionalGenerator,
    encoder: TabularEncoder,
    encoded: np.ndarray,
    label_column: Hashable,
    codes: tuple[np.ndarray, np.ndarray],
    config: TabularGANConfig,
) -> TrainingRun:
    """The critic, the classifier, the batch sampler and the optimisers for an encoded table whose
    rows have the class and category ``codes`` (``condition_codes``)."""
    device, n_classes = head.device, head.space.n_classes
    discriminator = Discriminator(encoder.output_dimensions + head.space.width, config.discriminator_dims, config.pac)
    discriminator = discriminator.to(device)
    classifier = classifier_optimizer = None
    if config.classifier_weight > 0:
        classifier = LabelClassifier(encoder.output_dimensions - head.label_width, config.classifier_dim, n_classes)
        classifier = classifier.to(device)
        classifier_optimizer = adam(classifier, CLASSIFIER_LR)
    data = torch.as_tensor(encoded, device=device)
    has_features = encoder.output_dimensions > head.label_width
    moments = ClassMomentLoss(encoder, label_column, data) if config.moment_weight > 0 and has_features else None
    return TrainingRun(
        config=config,
        label_column=label_column,
        data=data,
        sampler=TrainingSampler(head.space, *codes, device),
        discriminator=discriminator,
        generator_optimizer=adam(head.network, config.generator_lr, config.weight_decay),
        discriminator_optimizer=adam(discriminator, config.discriminator_lr, config.weight_decay),
        plan=training_plan(len(encoded), config),
        encoder_state=encoder.to_state(),
        progress=TrainingProgress(),
        classifier=classifier,
        classifier_optimizer=classifier_optimizer,
        moments=moments,
    )


def condition_codes(
    encoder: TabularEncoder, encoded: np.ndarray, label_column: Hashable
) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Per row: class code and the category code of every other discrete column; plus those columns' widths."""
    label = encoder.spans(label_column)[0]
    spans = [s for s in encoder.output_info if s.kind == "discrete" and s.column != label_column]
    label_codes = encoded[:, label.start:label.end].argmax(axis=1)
    category_codes = np.zeros((len(encoded), len(spans)), dtype=np.int64)
    for position, span in enumerate(spans):  # a loop over columns; each column is read vectorised
        category_codes[:, position] = encoded[:, span.start:span.end].argmax(axis=1)
    return label_codes, category_codes, [span.end - span.start for span in spans]


# ------------------------------------------------------------------------------------------ the loop
def run_training(
    head: ConditionalGenerator, run: TrainingRun, progress: ProgressCallback | None, checkpoint_dir: Path | None
) -> None:
    """Step until the plan's total step count, recording the mean losses of every epoch."""
    config, plan, state = run.config, run.plan, run.progress
    head.network.train()
    run.discriminator.train()
    state.epoch_sums = state.epoch_sums.to(head.device)
    while state.step < plan.total_steps:
        discriminator_loss, generator_loss = train_step(head, run)
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
            save_run_checkpoint(Path(checkpoint_dir), head, run)
        if progress is not None and (state.step % PROGRESS_EVERY == 0 or finished):
            losses = {"generator_loss": generator_loss.item(), "discriminator_loss": discriminator_loss.item()}
            progress(state.step, plan.total_steps, losses)


def train_step(head: ConditionalGenerator, run: TrainingRun) -> tuple[torch.Tensor, torch.Tensor]:
    """``discriminator_steps`` critic updates, then one generator update.

    The last critic update and the generator update share one batch of fakes (as in PyTorch's
    DCGAN recipe): the critic learns from it detached, then the generator is scored on it by the
    updated critic. This saves a generator forward pass per step.
    """
    config = run.config
    for _ in range(config.discriminator_steps - 1):
        batch, rows = run.sampler.sample(run.plan.batch_size, pack_size=config.pac)
        real = run.data[rows]
        with torch.no_grad():
            _, fake = head.generate(batch)
        critic_update(run, batch, real, fake)
    batch, rows = run.sampler.sample(run.plan.batch_size, pack_size=config.pac)
    real = run.data[rows]
    raw, fake = head.generate(batch)
    discriminator_loss = critic_update(run, batch, real, fake.detach())
    if run.classifier is not None:
        classifier_update(head, run, batch, real)
    generator_loss = generator_update(head, run, batch, rows, raw, fake)
    return discriminator_loss, generator_loss


def critic_update(run: TrainingRun, batch: ConditionBatch, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """One WGAN-GP update of the critic; returns the Wasserstein estimate (fake minus real score)."""
    real_input = torch.cat([real, batch.condition], dim=1)
    fake_input = torch.cat([fake.float(), batch.condition], dim=1)
    with autocast(real.device):
        # One critic pass over real then fake packs (batch_size is a multiple of pac: no pack mixes them).
        scores = run.discriminator(torch.cat([real_input, fake_input])).float()
        wasserstein = scores[len(scores) // 2:].mean() - scores[: len(scores) // 2].mean()
        penalty = gradient_penalty(run.discriminator, real_input, fake_input, run.config.pac)
    loss = wasserstein + run.config.gp_weight * penalty
    descend(run.discriminator_optimizer, loss)
    return wasserstein.detach()


def generator_update(
    head: ConditionalGenerator,
    run: TrainingRun,
    batch: ConditionBatch,
    rows: torch.Tensor,
    raw: torch.Tensor,
    fake: torch.Tensor,
) -> torch.Tensor:
    """``rows``: indices of the batch's real rows, which match the conditions (and classes) row for row."""
    config = run.config
    with autocast(head.device):
        adversarial = -run.discriminator(torch.cat([fake, batch.condition], dim=1)).float().mean()
        loss = adversarial + head.condition_cross_entropy(raw, batch)
        if run.classifier is not None:
            logits = run.classifier(head.without_label(fake)).float()
            loss = loss + config.classifier_weight * F.cross_entropy(logits, batch.classes)
    if run.moments is not None:  # in float32: covariances are sums of many small products
        gaps = run.moments(rows, fake, batch.classes)
        loss = loss + config.moment_weight * gaps
    descend(run.generator_optimizer, loss)
    return loss.detach()


def classifier_update(head: ConditionalGenerator, run: TrainingRun, batch: ConditionBatch, real: torch.Tensor) -> None:
    """One step of the auxiliary classifier on the batch's real rows (their class is the condition's)."""
    with autocast(head.device):
        loss = F.cross_entropy(run.classifier(head.without_label(real)).float(), batch.classes)
    descend(run.classifier_optimizer, loss)


def adam(module: torch.nn.Module, lr: float, weight_decay: float = 0.0) -> torch.optim.Adam:
    # The fused kernel updates every parameter in one pass: on these small networks the per-tensor
    # Adam loop would otherwise cost as much as the forward and backward passes.
    return torch.optim.Adam(module.parameters(), lr=lr, betas=(0.5, 0.9), weight_decay=weight_decay, fused=True)


def descend(optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
    """One optimiser step on ``loss``. Only the optimiser's own parameters get gradients: the other
    networks the loss passes through (the critic and classifier, for the generator) are left alone, and
    autograd skips their weight gradients."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward(inputs=[p for group in optimizer.param_groups for p in group["params"]])
    optimizer.step()


def gradient_penalty(discriminator: Discriminator, real: torch.Tensor, fake: torch.Tensor, pac: int) -> torch.Tensor:
    """WGAN-GP penalty on points between real and fake packs (one mixing weight per pack).

    The critic's input gradient is an explicit expression in its weights (``Discriminator.input_gradient``),
    so the loss needs one ordinary backward, not a double backward: fewer eager ops per step, same maths.
    """
    mix = torch.rand(real.shape[0] // pac, 1, 1, device=real.device).expand(-1, pac, 1).reshape(-1, 1)
    between = mix * real + (1 - mix) * fake
    norms = discriminator.input_gradient(between).norm(2, dim=1)  # one norm per pack
    return ((norms - 1) ** 2).mean()


# ------------------------------------------------------------------------------------- checkpoints
def save_run_checkpoint(directory: Path, head: ConditionalGenerator, run: TrainingRun) -> None:
    """Write everything the run needs to go on from this step (see ``restore_run``)."""
    device = head.device
    save_checkpoint(
        directory,
        {
            "kind": CHECKPOINT_KIND,
            "data_fingerprint": run.data_fingerprint,
            "config": run.config.to_dict(),
            "rows": len(run.data),
            "label_column": run.label_column,
            "encoder": run.encoder_state,
            "step": run.progress.step,
            "loss_history": run.progress.loss_history,
            "epoch_sums": run.progress.epoch_sums.cpu(),
            "generator": head.network.state_dict(),
            "discriminator": run.discriminator.state_dict(),
            "generator_optimizer": run.generator_optimizer.state_dict(),
            "discriminator_optimizer": run.discriminator_optimizer.state_dict(),
            "classifier": run.classifier.state_dict() if run.classifier is not None else None,
            "classifier_optimizer": (
                run.classifier_optimizer.state_dict() if run.classifier_optimizer is not None else None
            ),
            "cpu_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
        },
    )


def restore_run(checkpoint: dict, head: ConditionalGenerator, run: TrainingRun) -> None:
    """Put networks, optimisers, RNG streams and counters back where the checkpoint left them."""
    head.network.load_state_dict(checkpoint["generator"])
    run.discriminator.load_state_dict(checkpoint["discriminator"])
    run.generator_optimizer.load_state_dict(checkpoint["generator_optimizer"])
    run.discriminator_optimizer.load_state_dict(checkpoint["discriminator_optimizer"])
    if run.classifier is not None:
        run.classifier.load_state_dict(checkpoint["classifier"])
        run.classifier_optimizer.load_state_dict(checkpoint["classifier_optimizer"])
    torch.set_rng_state(checkpoint["cpu_rng"])
    if head.device.type == "cuda" and checkpoint["cuda_rng"] is not None:
        torch.cuda.set_rng_state(checkpoint["cuda_rng"], head.device)
    state = TrainingProgress(checkpoint["step"], list(checkpoint["loss_history"]), checkpoint["epoch_sums"].clone())
    run.progress = state


def check_checkpoint_matches(checkpoint: dict, config: TabularGANConfig, fingerprint: str, directory: Path) -> None:
    """Refuse a checkpoint written for another config or other data."""
    saved, current = checkpoint["config"], config.to_dict()
    changed = sorted(name for name in saved.keys() | current.keys() if saved.get(name) != current.get(name))
    if changed:
        raise checkpoint_mismatch(directory, f"for another config ({changed} differ)")
    check_same_data(checkpoint, fingerprint, directory)


def table_fingerprint(train: pd.DataFrame, discrete: Sequence[Hashable], label_column: Hashable) -> str:
    """Content fingerprint of what a fit learns from: the table's values, column names and dtypes, which
    columns are discrete and which is the label (a checkpoint resumes only the same)."""
    layout = repr((list(zip(train.columns, map(repr, train.dtypes))), sorted(map(repr, discrete)), label_column))
    row_hashes = pd.util.hash_pandas_object(train, index=False).to_numpy()
    return data_fingerprint([layout, row_hashes.tobytes()])
