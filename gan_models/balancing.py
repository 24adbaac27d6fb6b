"""How many synthetic samples each class needs, in imbalanced-learn's vocabulary.

``sampling_strategy`` is read the way ``imblearn.over_sampling`` reads it, so a
user can swap SMOTE for synthlift without learning new concepts:

- ``"auto"`` / ``"not majority"``: raise every class except the majority to the majority count;
- ``"all"``: the same, majority included (it gets zero);
- ``"minority"``: raise only the smallest class to the majority count;
- a float ``r`` in (0, 1]: raise every minority class to ``r * majority`` (imblearn allows this for
  two classes only; here it applies to every class below that target);
- a dict ``{class: target_count}``: raise each named class to that total count.
"""

from __future__ import annotations

from typing import Hashable, Mapping, Union

SamplingStrategy = Union[str, float, Mapping[Hashable, int]]


def samples_to_generate(
    class_counts: Mapping[Hashable, int], sampling_strategy: SamplingStrategy = "auto"
) -> dict[Hashable, int]:
    """Return the number of synthetic samples to add per class (zero where none are needed)."""
    if not class_counts:
        raise ValueError("class_counts is empty: there are no classes to balance")
    majority = max(class_counts.values())
    smallest = min(class_counts.values())

    if isinstance(sampling_strategy, str):
        strategy = sampling_strategy.strip().lower()
        if strategy in ("auto", "not majority", "all"):
            targets = {c: majority for c in class_counts}
        elif strategy == "minority":
            minority_class = next(c for c, n in class_counts.items() if n == smallest)
            targets = {minority_class: majority}
        else:
            raise ValueError(
                f"sampling_strategy={sampling_strategy!r} is not understood; use 'auto', "
                "'not majority', 'all', 'minority', a float ratio in (0, 1] or a dict class -> count"
            )
    elif isinstance(sampling_strategy, bool):
        raise ValueError("sampling_strategy must be a string, a float ratio or a dict, not a bool")
    elif isinstance(sampling_strategy, (int, float)):
        ratio = float(sampling_strategy)
        if not 0.0 < ratio <= 1.0:
            raise ValueError(f"sampling_strategy ratio must be in (0, 1], got {ratio}")
        targets = {c: int(round(ratio * majority)) for c in class_counts}
    elif isinstance(sampling_strategy, Mapping):
        targets = _validated_dict_targets(class_counts, sampling_strategy)
    else:
        raise ValueError(f"sampling_strategy of type {type(sampling_strategy).__name__} is not understood")

    return {c: max(0, int(targets.get(c, n)) - n) for c, n in class_counts.items()}


def _validated_dict_targets(
    class_counts: Mapping[Hashable, int], targets: Mapping[Hashable, int]
) -> dict[Hashable, int]:
    by_text = {str(c): c for c in class_counts}
    resolved: dict[Hashable, int] = {}
    for key, target in targets.items():
        cls = key if key in class_counts else by_text.get(str(key))
        if cls is None:
            raise ValueError(
                f"sampling_strategy names class {key!r}, which is not among the classes {sorted(by_text)}"
            )
        if cls in resolved:
            raise ValueError(f"sampling_strategy names class {cls!r} twice (as {key!r} and as another key)")
        if int(target) < class_counts[cls]:
            raise ValueError(
                f"sampling_strategy asks class {key!r} for a total of {target} rows but it already has "
                f"{class_counts[cls]}; an over-sampler can only add rows"
            )
        resolved[cls] = int(target)
    return resolved
