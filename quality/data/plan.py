"""The evaluation plan: how the lift is proved on one dataset.

Every row the user gave either *decides* (the lift gate, the privacy baseline) or, when the user asks for an
outer holdout, only *reports* final figures. The deciding rows are judged in one of two ways:

- ``split``: one stratified validation split. Its rows never reach the generator, encoder, scalers or
  thresholds that they judge; the published generator is that same model. Used when the validation split
  holds at least ``MIN_VALIDATION_ROWS_PER_CLASS`` rows of every class, so its interval can show a real gain.
- ``cross_fit``: stratified K folds. Fold k's generator, encoder, scalers and downstream models are fitted on
  the other folds and judge fold k's rows, so every deciding row is predicted once by a model that never saw
  it. The published generator is then refitted on every deciding row; the gate's figure is the cross-fitted
  estimate of that procedure. Cross-fitting may be *repeated*: each repetition deals the rows into K new folds
  and judges every row once more, so the estimate leans less on one draw of the folds (and of each fold's GAN
  seed). The bootstrap then resamples (repetition, seed) pairs as it resamples seeds.

The publication holds every deciding row (the split's validation rows too).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Hashable, Sequence

import numpy as np

from quality.data.splitting import VALIDATION_FRACTION, sorted_classes

SPLIT = "split"
CROSS_FIT = "cross_fit"
# Why images refuse more than one fold (the command line refuses it before the run, the plan step in the UI).
IMAGES_KEEP_THEIR_SPLIT = ("images are judged on a validation split (a MedMNIST file's official one when it has one); "
                           "cross-fitting is for tables")
DEFAULT_FOLDS = 5
# A validation split of fewer rows of some class than this leaves the lift's interval too wide to show
# the gains scarce data can get (about +/-0.1 balanced accuracy with 20 minority rows): cross-fit instead.
MIN_VALIDATION_ROWS_PER_CLASS = 50
# Built-in demos hold this share out to report honest final figures; users' own tables hold none by default.
DEMO_HOLDOUT_FRACTION = 0.2
TRAINING_ONLY = -1  # the fold number of a split's training rows: they judge nothing
AUTO_FOLDS = 0


@dataclass(frozen=True)
class Protocol:
    """``kind`` is ``split`` or ``cross_fit``; ``folds`` is 1 for a split; ``repeats`` is how many times the
    folds are drawn afresh (1 for a split); ``reason`` says why it was chosen."""

    kind: str
    folds: int
    reason: str
    repeats: int = 1

    @property
    def parts(self) -> int:
        """Models fitted to judge rows: one per fold of each repetition."""
        return self.folds * self.repeats

    def part(self, part: int) -> tuple[int, int]:
        """(repetition, fold) of part number ``part``."""
        return divmod(part, self.folds)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "folds": self.folds, "reason": self.reason, "repeats": self.repeats}


def choose_protocol(labels: Sequence[Hashable], folds: int = AUTO_FOLDS,
                    validation_fraction: float = VALIDATION_FRACTION, where: str = "the dataset",
                    repeats: int = 1) -> Protocol:
    """The protocol for these deciding rows' labels: ``folds`` 0 applies the rule above, 1 asks for a split,
    K >= 2 for K folds; cross-fitting is drawn ``repeats`` times. Raises ``ValueError`` naming a class too small
    for the protocol asked for, or for repeats of a split."""
    protocol = _chosen_protocol(labels, folds, validation_fraction, where)
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    if repeats == 1:
        return protocol
    if protocol.kind == SPLIT:
        raise ValueError(f"repeats={repeats} repeats cross-fitting, but {where} is judged on one validation split "
                         f"({protocol.reason}); ask for folds (K >= 2) or leave repeats at 1")
    return Protocol(CROSS_FIT, protocol.folds, f"{protocol.reason}, drawn {repeats} times", repeats)


def _chosen_protocol(labels: Sequence[Hashable], folds: int, validation_fraction: float, where: str) -> Protocol:
    counts = _class_counts(labels)
    smallest_class, smallest = min(counts.items(), key=lambda item: item[1])
    if folds < 0:
        raise ValueError(f"folds must be 0 (choose by the rule), 1 (one validation split) or at least 2, got {folds}")
    if folds == AUTO_FOLDS:
        expected = validation_rows(validation_fraction, smallest)
        if expected >= MIN_VALIDATION_ROWS_PER_CLASS:
            return Protocol(SPLIT, 1, f"a validation split holds about {expected} rows of the smallest class "
                                      f"{smallest_class!r} (at least {MIN_VALIDATION_ROWS_PER_CLASS})")
        folds = DEFAULT_FOLDS
        reason = (f"a validation split would hold only about {expected} rows of the smallest class "
                  f"{smallest_class!r} (fewer than {MIN_VALIDATION_ROWS_PER_CLASS}): every deciding row is "
                  f"judged by {folds}-fold cross-fitting")
    elif folds == 1:
        return Protocol(SPLIT, 1, "one validation split, as asked")
    else:
        reason = f"{folds}-fold cross-fitting, as asked"
    if smallest < max(folds, 3):
        raise ValueError(f"class {smallest_class!r} in {where} has {smallest} deciding row(s); {folds}-fold "
                         f"cross-fitting needs at least {max(folds, 3)}. Add rows of that class, remove it, or "
                         "ask for fewer folds")
    return Protocol(CROSS_FIT, folds, reason)


def validation_rows(validation_fraction: float, class_rows: int) -> int:
    """Rows of a class that a validation split holds: the rule counts them as the split draws them."""
    return max(1, int(round(validation_fraction * class_rows)))


def assign_repeated_folds(labels: Sequence[Hashable], protocol: Protocol, seed: int,
                          validation_fraction: float = VALIDATION_FRACTION) -> np.ndarray:
    """``assign_folds`` for each repetition of ``protocol``: one row per repetition, the first one exactly
    ``assign_folds(labels, protocol, seed)``, the others drawn independently."""
    return np.stack([assign_folds(labels, protocol, seed if repeat == 0 else [seed, repeat], validation_fraction)
                     for repeat in range(protocol.repeats)])


def assign_folds(labels: Sequence[Hashable], protocol: Protocol, seed: int | Sequence[int],
                 validation_fraction: float = VALIDATION_FRACTION) -> np.ndarray:
    """The fold number of each deciding row: 0..K-1 when cross-fitting; for a split, 0 for validation rows and
    ``TRAINING_ONLY`` for the rest. Stratified: every fold keeps each class's share."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    folds = np.full(len(labels), TRAINING_ONLY, dtype=int)
    for cls in sorted_classes(labels):
        rows = rng.permutation(np.flatnonzero(labels == cls))
        if protocol.kind == CROSS_FIT:
            # deal the class's rows round-robin from a random start, so small classes spread over every fold
            folds[rows] = (np.arange(len(rows)) + rng.integers(protocol.folds)) % protocol.folds
        else:
            n_validation = validation_rows(validation_fraction, len(rows))
            if len(rows) - n_validation < 2:
                raise ValueError(f"class {cls!r} has {len(rows)} deciding row(s): too few for a validation split")
            folds[rows[:n_validation]] = 0
    return folds


def holdout_rows(labels: Sequence[Hashable], fraction: float, seed: int,
                 where: str = "the dataset") -> np.ndarray:
    """Positions of a stratified outer holdout (``fraction`` of each class; none for 0). It decides nothing."""
    if not 0 <= fraction < 0.5:
        raise ValueError(f"holdout_fraction must lie in [0, 0.5), got {fraction}")
    labels = np.asarray(labels)
    if fraction == 0:
        return np.zeros(0, dtype=int)
    rng = np.random.default_rng(seed + 1)  # independent of the folds' draw
    held = []
    for cls in sorted_classes(labels):
        rows = np.flatnonzero(labels == cls)
        n_held = max(1, int(round(fraction * len(rows))))
        if len(rows) - n_held < 3:
            raise ValueError(f"class {cls!r} in {where} has {len(rows)} row(s): too few to hold {n_held} out and "
                             "still decide; lower holdout_fraction (0 keeps every row for the decision)")
        held.append(rng.choice(rows, size=n_held, replace=False))
    return np.sort(np.concatenate(held))


def part_name(protocol: Protocol, part: int) -> str:
    """How messages name part ``part``: ``fold 2``, or ``repetition 1, fold 2`` when the folds are repeated."""
    repeat, fold = protocol.part(part)
    return f"repetition {repeat}, fold {fold}" if protocol.repeats > 1 else f"fold {fold}"


def part_key(protocol: Protocol, part: int) -> str:
    """The step name of part ``part``'s GAN: ``fold_2``, or ``repeat_1_fold_2`` beyond the first repetition."""
    repeat, fold = protocol.part(part)
    return f"repeat_{repeat}_fold_{fold}" if repeat else f"fold_{fold}"


def judged_on(protocol: Protocol) -> str:
    """How a lift report names the rows that decide under ``protocol``."""
    if protocol.kind == SPLIT:
        return "validation"
    repeated = f"{protocol.repeats} x " if protocol.repeats > 1 else ""
    return f"{repeated}{protocol.folds}-fold cross-fit"


def is_deciding(evaluated_on: str) -> bool:
    """Whether a lift report judged on ``evaluated_on`` may decide publication (the holdout never does)."""
    return evaluated_on == "validation" or evaluated_on.endswith("-fold cross-fit")


def minimum_detectable_lift(ci_low: float, ci_high: float) -> float:
    """The smallest lift these rows could tell from zero: the half-width of the lift's interval."""
    return (ci_high - ci_low) / 2


def _class_counts(labels: Sequence[Hashable]) -> dict:
    values, counts = np.unique(np.asarray(labels), return_counts=True)
    if len(values) < 2:
        raise ValueError("the deciding rows hold fewer than two classes")
    return dict(zip(values.tolist(), counts.tolist()))
