"""``gan_models.sampling`` reads ``sampling_strategy`` exactly as imbalanced-learn's over-samplers do: checked
against ``imblearn.utils.check_sampling_strategy`` itself on many class-count vectors."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from imblearn.utils import check_sampling_strategy

from gan_models.sampling import (
    NAMED_SAMPLING_STRATEGIES,
    check_sampling_strategy_text,
    parse_sampling_strategy,
    samples_to_generate,
)

COUNTS = {"benign": 200, "malignant": 20, "unknown": 50}


def generated_counts(n_cases: int = 120, seed: int = 0, n_classes: tuple[int, ...] = (2, 3, 4, 5)) -> list[dict]:
    """Class counts of ``n_classes`` classes in turn, in shuffled (unsorted) order; many have tied
    minorities or majorities."""
    rng = np.random.default_rng(seed)
    cases = []
    for case in range(n_cases):
        k = n_classes[case % len(n_classes)]
        high = 6 if case % 3 == 0 else 400  # small ranges make ties
        counts = rng.integers(1, high, k).tolist()
        names = [f"class_{i}" for i in rng.permutation(k)]
        cases.append(dict(zip(names, counts)))
    return cases


def imblearn_new_rows(strategy, counts: dict) -> dict:
    """What imbalanced-learn's over-samplers add per class, for labels holding ``counts``."""
    y = np.repeat(np.array(list(counts)), list(counts.values()))
    targets = check_sampling_strategy(strategy, y, "over-sampling")
    return {cls: int(targets.get(cls, 0)) for cls in counts}


def assert_same_as_imblearn(strategy, counts: dict) -> None:
    try:
        expected = imblearn_new_rows(strategy, counts)
    except ValueError:
        with pytest.raises(ValueError):
            samples_to_generate(counts, strategy)
        return
    assert samples_to_generate(counts, strategy) == expected, (strategy, counts)


# --------------------------------------------------------------------------------- against imblearn
@pytest.mark.parametrize("name", NAMED_SAMPLING_STRATEGIES)
def test_every_named_strategy_matches_imblearn(name):
    for counts in generated_counts():
        assert_same_as_imblearn(name, counts)


def test_ties_are_broken_as_imblearn_breaks_them_whatever_the_order_of_the_classes():
    counts = {"c": 9, "b": 3, "a": 3, "d": 9}  # minority a (first sorted), majority c
    assert samples_to_generate(counts, "not minority") == {"c": 0, "b": 6, "a": 0, "d": 0}
    assert samples_to_generate(counts, "minority") == {"c": 0, "b": 0, "a": 6, "d": 0}
    for name in NAMED_SAMPLING_STRATEGIES:
        assert_same_as_imblearn(name, counts)


RATIO_CASES = generated_counts(300, seed=1, n_classes=(2,)) + generated_counts(60, seed=4)


@pytest.mark.parametrize("ratio", [0.1, 0.25, 1 / 3, 0.5, 0.55, 0.6, 2 / 3, 0.7, 0.75, 0.8, 0.9, 0.999, 1.0, 1])
def test_a_float_ratio_matches_imblearn_for_two_classes_and_is_refused_for_more(ratio):
    for counts in RATIO_CASES:
        assert_same_as_imblearn(ratio, counts)


def test_a_float_ratio_truncates_as_imblearn_does():
    # 0.5 * 7 = 3.5 rows: imblearn keeps 3 (1 new row); rounding would have given 4
    assert samples_to_generate({"a": 7, "b": 2}, 0.5) == {"a": 0, "b": 1} == imblearn_new_rows(0.5, {"a": 7, "b": 2})
    assert samples_to_generate({0: 200, 1: 20}, np.float32(0.7)) == imblearn_new_rows(np.float32(0.7), {0: 200, 1: 20})
    rounding_differs = [
        counts for counts in RATIO_CASES if len(counts) == 2
        and round(0.7 * max(counts.values())) != int(0.7 * max(counts.values())) > min(counts.values())
    ]
    assert len(rounding_differs) > 50  # the comparison above covers many cases where rounding would add a row


def test_dict_targets_match_imblearn():
    rng = np.random.default_rng(2)
    for counts in generated_counts(200, seed=2):
        named = [c for c in counts if rng.random() < 0.6]
        targets = {c: counts[c] + int(rng.integers(-3, 60)) for c in named}  # a few below the current count
        assert_same_as_imblearn(targets, counts)


def test_a_callable_gets_the_labels_and_matches_imblearn():
    def half_again(y: np.ndarray) -> dict:
        return {cls: n + n // 2 for cls, n in Counter(y.tolist()).items()}

    for counts in generated_counts(40, seed=3):
        assert_same_as_imblearn(half_again, counts)
    seen = []
    samples_to_generate({1: 3, 0: 2}, lambda y: seen.append(y) or {})
    np.testing.assert_array_equal(seen[0], [0, 0, 1, 1, 1])


# ----------------------------------------------------------------------------------------- examples
def test_auto_raises_every_class_to_the_majority():
    assert samples_to_generate(COUNTS, "auto") == {"benign": 0, "malignant": 180, "unknown": 150}
    assert samples_to_generate(COUNTS, "not majority") == samples_to_generate(COUNTS, "auto")
    assert samples_to_generate(COUNTS, "all") == samples_to_generate(COUNTS, "auto")
    assert samples_to_generate(COUNTS, " Auto ") == samples_to_generate(COUNTS, "auto")


def test_minority_only_raises_the_smallest_class():
    assert samples_to_generate(COUNTS, "minority") == {"benign": 0, "malignant": 180, "unknown": 0}


def test_not_minority_raises_every_class_but_the_smallest():
    assert samples_to_generate(COUNTS, "not minority") == {"benign": 0, "malignant": 0, "unknown": 150}


def test_ratio_targets_a_share_of_the_majority():
    assert samples_to_generate({"benign": 200, "malignant": 20}, 0.5) == {"benign": 0, "malignant": 80}


def test_dict_targets_total_counts_and_accepts_labels_as_text():
    assert samples_to_generate({0: 10, 1: 40}, {"0": 30}) == {0: 20, 1: 0}
    assert samples_to_generate({0: 10, 1: 40}, {0: 10}) == {0: 0, 1: 0}


def test_a_class_counted_zero_is_a_class_the_data_lacks():
    assert samples_to_generate({0: 5, 1: 0, 2: 9}, "auto") == {0: 4, 1: 0, 2: 0}
    assert samples_to_generate({0: 5, 1: 0, 2: 9}, 0.8) == {0: 2, 1: 0, 2: 0}  # two classes with rows: binary
    with pytest.raises(ValueError, match="not among the classes"):
        samples_to_generate({0: 5, 1: 0, 2: 9}, {1: 4})


@pytest.mark.parametrize(
    "counts, strategy, message",
    [
        (COUNTS, "balanced", "not understood"),
        (COUNTS, "majority", "cannot be used with an over-sampler"),
        (COUNTS, 1.5, r"\(0, 1\]"),
        (COUNTS, 0.0, r"\(0, 1\]"),
        (COUNTS, 0.5, "only for two classes"),
        ({"a": 100, "b": 60}, 0.5, "no row would be added"),
        ({"a": 5, "b": 5}, 1.0, "no row would be added"),
        (COUNTS, {"cancer": 10}, "not among the classes"),
        (COUNTS, {"benign": 10}, "can only add"),
        (COUNTS, {"malignant": 30.5}, "whole number"),
        (COUNTS, {"malignant": True}, "whole number"),
        (COUNTS, True, "not a bool"),
        (COUNTS, [1, 2], "not understood"),
        (COUNTS, lambda y: [1], "must return a dict"),
        ({"a": 5}, "auto", "at least two classes"),
        ({"a": 5, "b": 0}, "auto", "at least two classes"),
        ({"a": 5, "b": -1}, "auto", "non-negative integer"),
        ({"a": 5, "b": 2.5}, "auto", "non-negative integer"),
    ],
)
def test_bad_strategies_are_named(counts, strategy, message):
    with pytest.raises(ValueError, match=message):
        samples_to_generate(counts, strategy)


def test_a_strategy_naming_one_class_twice_is_refused():
    with pytest.raises(ValueError, match="names class 1 twice"):
        samples_to_generate({0: 200, 1: 20}, {1: 200, "1": 150})


def test_a_ratio_that_adds_no_row_names_the_class():
    with pytest.raises(ValueError, match="class 'b'"):
        samples_to_generate({"a": 100, "b": 60}, 0.5)


# --------------------------------------------------------------------------------------- text form
def test_text_is_parsed_into_a_name_a_ratio_or_a_dict():
    assert parse_sampling_strategy(" not minority ") == "not minority"
    assert parse_sampling_strategy("0.8") == 0.8
    assert parse_sampling_strategy('{"malignant": 200, "1": 3}') == {"malignant": 200, "1": 3}
    with pytest.raises(ValueError, match="is not valid JSON"):
        parse_sampling_strategy("{malignant: 200")


@pytest.mark.parametrize("text", [*NAMED_SAMPLING_STRATEGIES, "AUTO", " not minority ", "0.8", "1", '{"a": 3}'])
def test_valid_texts_pass_the_form_check(text):
    check_sampling_strategy_text(text)
    assert "not minority" in NAMED_SAMPLING_STRATEGIES and "majority" not in NAMED_SAMPLING_STRATEGIES


@pytest.mark.parametrize(
    "text, message",
    [
        ("balanced", "sampling_strategy 'balanced' is not understood; use 'auto', 'minority', 'not minority', "
                     "'not majority', 'all', a ratio in (0, 1] or a mapping class -> target count"),
        ("majority", "sampling_strategy 'majority' is not understood"),
        ("1.5", "sampling_strategy ratio must be in (0, 1], got 1.5"),
        ("0", "sampling_strategy ratio must be in (0, 1], got 0.0"),
        ("nan", "sampling_strategy ratio must be in (0, 1], got nan"),
        ("{a: 3}", "sampling_strategy '{a: 3}' is not valid JSON: "),
        ("{}", "sampling_strategy '{}' names no class; give class -> target count"),
        ('{"a": 0, "b": 2.5, "c": true, "d": 4}', "sampling_strategy '{\"a\": 0, \"b\": 2.5, \"c\": true, \"d\": 4}': "
         "target counts (a class's total rows after balancing) must be whole numbers >= 1; "
         "bad: {'a': 0, 'b': 2.5, 'c': True}"),
    ],
)
def test_bad_texts_are_refused_with_the_reason(text, message):
    with pytest.raises(ValueError) as error:
        check_sampling_strategy_text(text)
    assert str(error.value).startswith(message)


def test_a_part_gets_a_dicts_new_rows_in_proportion_and_other_strategies_apply_to_the_part_itself():
    from gan_models.sampling import part_samples_to_generate

    whole, part = {"a": 20, "b": 100}, {"a": 16, "b": 80}  # a fold's training rows: 4/5 of each class
    # the whole gets 40 new "a" rows (20 -> 60); the part 4/5 of them, so synthetic rows are 2/3 of "a" in both
    assert part_samples_to_generate(whole, part, {"a": 60}) == {"a": 32, "b": 0}
    assert samples_to_generate(part, {"a": 60}) == {"a": 44, "b": 0}  # what reading the dict on the part would give
    for strategy in ("auto", "minority", 0.5, lambda y: {"a": 70}):
        assert part_samples_to_generate(whole, part, strategy) == samples_to_generate(part, strategy)
    with pytest.raises(ValueError, match="already has"):
        part_samples_to_generate(whole, part, {"a": 19})  # judged against the whole, as the publication is
