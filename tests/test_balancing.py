import pytest

from gan_models.balancing import samples_to_generate

COUNTS = {"benign": 200, "malignant": 20, "unknown": 50}


def test_auto_raises_every_class_to_the_majority():
    assert samples_to_generate(COUNTS, "auto") == {"benign": 0, "malignant": 180, "unknown": 150}
    assert samples_to_generate(COUNTS, "not majority") == samples_to_generate(COUNTS, "auto")


def test_minority_only_raises_the_smallest_class():
    assert samples_to_generate(COUNTS, "minority") == {"benign": 0, "malignant": 180, "unknown": 0}


def test_ratio_targets_a_share_of_the_majority():
    assert samples_to_generate(COUNTS, 0.5) == {"benign": 0, "malignant": 80, "unknown": 50}


def test_dict_targets_total_counts_and_accepts_labels_as_text():
    assert samples_to_generate({0: 10, 1: 40}, {"0": 30}) == {0: 20, 1: 0}


@pytest.mark.parametrize(
    "strategy, message",
    [
        ("balanced", "not understood"),
        (1.5, r"\(0, 1\]"),
        ({"cancer": 10}, "not among the classes"),
        ({"benign": 10}, "can only add"),
        (True, "not a bool"),
    ],
)
def test_bad_strategies_are_named(strategy, message):
    with pytest.raises(ValueError, match=message):
        samples_to_generate(COUNTS, strategy)


def test_a_strategy_naming_one_class_twice_is_refused():
    with pytest.raises(ValueError, match="names class 1 twice"):
        samples_to_generate({0: 200, 1: 20}, {1: 200, "1": 150})
