"""How many synthetic samples each class needs, read from imbalanced-learn's ``sampling_strategy``.

``samples_to_generate(class_counts, strategy)`` gives what ``imblearn.utils.check_sampling_strategy(
strategy, y, "over-sampling")`` gives for labels ``y`` holding ``class_counts[c]`` rows of each class
``c`` (with a zero for every class it leaves alone), so a user can swap SMOTE for synthlift without
learning new concepts. Ties are broken as imblearn breaks them: the majority and the minority are the
first of the tied classes in sorted order.

==========================  =======================================================================
``sampling_strategy``       new rows per class
==========================  =======================================================================
``"auto"``                  the same as ``"not majority"``
``"not majority"``          every class but the majority, up to the majority's count
``"not minority"``          every class but the minority, up to the majority's count
``"minority"``              the minority only, up to the majority's count
``"all"``                   every class up to the majority's count (the majority gets zero)
a float ``r`` in (0, 1]     two classes only: the minority up to ``int(r * majority count)``; refused
                            where that adds no row (with more classes, give a dict)
a dict class -> count       each named class up to that total count; refused below its current count
a callable ``f(y)``         ``f`` gets the label array ``y`` and returns such a dict
==========================  =======================================================================

Departures, each for a user's convenience: named strategies ignore case and surrounding spaces; a dict
may name a class by its text (``"1"`` for class 1: JSON and YAML users write string keys); a bool is
refused rather than read as the ratio 1. A class counted zero is a class the data lacks, as for
imblearn, which never sees it: it gets no rows and a dict may not name it.

``parse_sampling_strategy`` reads the text form of a strategy (command line, YAML, Dagster config) and
``check_sampling_strategy_text`` checks that form before any data is read.
"""

from __future__ import annotations

import json
from numbers import Integral, Real
from typing import Callable, Hashable, Mapping, Union

import numpy as np

Counts = dict[Hashable, int]
SamplingStrategy = Union[str, float, Mapping[Hashable, int], Callable[[np.ndarray], Mapping[Hashable, int]]]


# Each named strategy: class counts (in sorted class order) -> new rows of the classes it targets.
def _not_majority(counts: Counts) -> Counts:
    majority = max(counts, key=counts.get)
    return {c: counts[majority] - n for c, n in counts.items() if c != majority}


def _not_minority(counts: Counts) -> Counts:
    minority, most = min(counts, key=counts.get), max(counts.values())
    return {c: most - n for c, n in counts.items() if c != minority}


def _minority(counts: Counts) -> Counts:
    minority = min(counts, key=counts.get)
    return {minority: max(counts.values()) - counts[minority]}


def _all(counts: Counts) -> Counts:
    most = max(counts.values())
    return {c: most - n for c, n in counts.items()}


SAMPLING_TARGET_KIND: dict[str, Callable[[Counts], Counts]] = {
    "auto": _not_majority,
    "minority": _minority,
    "not minority": _not_minority,
    "not majority": _not_majority,
    "all": _all,
}
NAMED_SAMPLING_STRATEGIES = tuple(SAMPLING_TARGET_KIND)


def samples_to_generate(
    class_counts: Mapping[Hashable, int], sampling_strategy: SamplingStrategy = "auto"
) -> dict[Hashable, int]:
    """Return the number of synthetic samples to add per class: every class of ``class_counts``, in its
    order, zero where none are needed."""
    counts = _classes_with_rows(class_counts)
    if isinstance(sampling_strategy, str):
        new_rows = _named_targets(sampling_strategy, counts)
    elif isinstance(sampling_strategy, bool):
        raise ValueError("sampling_strategy must be a name, a float ratio, a dict or a callable, not a bool")
    elif isinstance(sampling_strategy, Real):
        new_rows = _ratio_targets(sampling_strategy, counts)
    elif isinstance(sampling_strategy, Mapping):
        new_rows = _dict_targets(sampling_strategy, counts)
    elif callable(sampling_strategy):
        new_rows = _dict_targets(_called(sampling_strategy, counts), counts)
    else:
        raise ValueError(f"sampling_strategy of type {type(sampling_strategy).__name__} is not understood")
    return {c: new_rows.get(c, 0) for c in class_counts}


def part_samples_to_generate(
    whole_counts: Mapping[Hashable, int], part_counts: Mapping[Hashable, int], sampling_strategy: SamplingStrategy
) -> dict[Hashable, int]:
    """New samples per class for a part of the rows (a fold's training rows, the train split) whose whole (every
    deciding row) is augmented by ``sampling_strategy``, so that the lift judges on the part what is published for
    the whole. Named strategies, ratios and callables ask it of the part itself: balancing a part is what
    balancing the whole means there. A dict's counts are totals for the whole; the part gets the whole's new rows
    of each class in proportion to its share of that class's rows, so synthetic rows are the same share of each
    class in both."""
    if not isinstance(sampling_strategy, Mapping):
        return samples_to_generate(part_counts, sampling_strategy)
    whole = samples_to_generate(whole_counts, sampling_strategy)
    return {c: int(round(whole.get(c, 0) * part_counts[c] / whole_counts[c])) if whole_counts.get(c) else 0
            for c in part_counts}


def _classes_with_rows(class_counts: Mapping[Hashable, int]) -> Counts:
    """The classes that have rows, in imblearn's (sorted) order where the classes can be sorted."""
    for cls, n in class_counts.items():
        if isinstance(n, bool) or not isinstance(n, Integral) or n < 0:
            raise ValueError(f"class_counts[{cls!r}] must be a non-negative integer, got {n!r}")
    counts = {c: int(n) for c, n in class_counts.items() if n > 0}
    if len(counts) < 2:
        raise ValueError(f"sampling_strategy needs at least two classes with rows to balance; got {class_counts!r}")
    try:
        return {c: counts[c] for c in sorted(counts)}
    except TypeError:  # classes of mixed types: imblearn could not order them either
        return counts


def _named_targets(name: str, counts: Counts) -> Counts:
    strategy = name.strip().lower()
    if strategy == "majority":
        raise ValueError("sampling_strategy='majority' cannot be used with an over-sampler: it would remove rows")
    if strategy not in SAMPLING_TARGET_KIND:
        raise ValueError(
            f"sampling_strategy={name!r} is not understood; use {', '.join(map(repr, NAMED_SAMPLING_STRATEGIES))}, "
            "a float ratio in (0, 1], a dict class -> count or a callable y -> dict"
        )
    return SAMPLING_TARGET_KIND[strategy](counts)


def _ratio_targets(ratio: Real, counts: Counts) -> Counts:
    if not 0.0 < ratio <= 1.0:
        raise ValueError(f"sampling_strategy ratio must be in (0, 1], got {ratio}")
    if len(counts) != 2:
        raise ValueError(
            f"sampling_strategy can be a float ratio only for two classes (as in imbalanced-learn); these data "
            f"have {len(counts)}: give a dict class -> target count instead"
        )
    majority = max(counts, key=counts.get)
    most = np.int64(counts[majority])  # NumPy counts, as imblearn's: a float32 ratio then computes in float64
    new_rows = {c: int(most * ratio - np.int64(n)) for c, n in counts.items() if c != majority}
    for cls, new in new_rows.items():
        if new <= 0:
            raise ValueError(
                f"sampling_strategy ratio {ratio} asks class {cls!r} for {ratio} x {counts[majority]} rows but it "
                f"already has {counts[cls]}, so no row would be added; raise the ratio"
            )
    return new_rows


def _dict_targets(targets: Mapping[Hashable, int], counts: Counts) -> Counts:
    """New rows of the classes ``targets`` names (by the class itself or by its text) with a total count."""
    by_text = {str(c): c for c in counts}
    new_rows: Counts = {}
    for key, target in targets.items():
        cls = key if key in counts else by_text.get(str(key))
        if cls is None:
            raise ValueError(
                f"sampling_strategy names class {key!r}, which is not among the classes {sorted(by_text)}"
            )
        if cls in new_rows:
            raise ValueError(f"sampling_strategy names class {cls!r} twice (as {key!r} and as another key)")
        if isinstance(target, bool) or not isinstance(target, Real) or not float(target).is_integer():
            raise ValueError(f"sampling_strategy asks class {key!r} for {target!r} rows; give a whole number")
        if target < counts[cls]:
            raise ValueError(
                f"sampling_strategy asks class {key!r} for a total of {target} rows but it already has "
                f"{counts[cls]}; an over-sampler can only add rows"
            )
        new_rows[cls] = int(target) - counts[cls]
    return new_rows


def _called(strategy: Callable[[np.ndarray], Mapping[Hashable, int]], counts: Counts) -> Mapping[Hashable, int]:
    """What a callable strategy returns for the label array ``y`` (each class repeated as often as it has rows)."""
    classes = list(counts)
    labels = np.asarray(classes)
    if labels.dtype == object or labels.ndim != 1 or labels.tolist() != classes:  # e.g. 1 and "a" as "1", "a"
        labels = np.empty(len(classes), dtype=object)
        labels[:] = classes
    targets = strategy(np.repeat(labels, list(counts.values())))
    if not isinstance(targets, Mapping):
        raise ValueError(f"a callable sampling_strategy must return a dict class -> count, got {type(targets).__name__}")
    return targets


# ---------------------------------------------------------------------------------- the text form
def parse_sampling_strategy(text: str) -> str | float | dict:
    """The strategy a text stands for: a JSON object (dict), a number (float) or a name (the text)."""
    text = text.strip()
    if text.startswith("{"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"sampling_strategy {text!r} is not valid JSON: {err}") from None
    try:
        return float(text)
    except ValueError:
        return text


def check_sampling_strategy_text(text: str) -> None:
    """Raise ``ValueError`` unless ``text`` is a named strategy, a ratio in (0, 1] or a JSON object of
    class -> target count (class names and counts are checked against the data when it is read)."""
    strategy = parse_sampling_strategy(text)
    text = text.strip()
    if isinstance(strategy, str):
        if strategy.lower() not in NAMED_SAMPLING_STRATEGIES:
            raise ValueError(f"sampling_strategy {text!r} is not understood; use "
                             f"{', '.join(map(repr, NAMED_SAMPLING_STRATEGIES))}, a ratio in (0, 1] "
                             "or a mapping class -> target count")
    elif isinstance(strategy, float):
        if not 0.0 < strategy <= 1.0:
            raise ValueError(f"sampling_strategy ratio must be in (0, 1], got {strategy}")
    elif not strategy:
        raise ValueError(f"sampling_strategy {text!r} names no class; give class -> target count")
    else:
        bad = {k: v for k, v in strategy.items() if isinstance(v, bool) or not isinstance(v, int) or v < 1}
        if bad:
            raise ValueError(f"sampling_strategy {text!r}: target counts (a class's total rows after balancing) "
                             f"must be whole numbers >= 1; bad: {bad}")
