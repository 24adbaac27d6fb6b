import numpy as np
import pytest

from quality.data.splitting import cap_class_rows, stratified_split_indices


def test_splits_are_disjoint_cover_everything_and_keep_class_shares():
    labels = np.array(["a"] * 100 + ["b"] * 30)
    split = stratified_split_indices(labels, seed=3)
    parts = [split.train, split.validation, split.holdout]
    joined = np.concatenate(parts)
    assert len(joined) == len(labels) == len(set(joined.tolist()))
    for part in parts[1:]:
        assert abs((labels[part] == "b").mean() - 30 / 130) < 0.05


def test_split_is_reproducible_and_depends_on_seed():
    labels = np.repeat([0, 1], 50)
    first, again = stratified_split_indices(labels, 1), stratified_split_indices(labels, 1)
    assert np.array_equal(first.holdout, again.holdout)
    assert not np.array_equal(first.holdout, stratified_split_indices(labels, 2).holdout)


def test_a_class_too_small_to_split_is_named():
    labels = np.array(["big"] * 50 + ["tiny"] * 3)
    with pytest.raises(ValueError, match="class 'tiny' in data.csv has 3 row"):
        stratified_split_indices(labels, 0, where="data.csv")


def test_caps_cut_only_the_named_classes():
    labels = np.repeat(["a", "b"], [60, 60])
    kept = cap_class_rows(np.arange(120), labels, {"b": 7}, seed=0)
    assert (labels[kept] == "a").sum() == 60 and (labels[kept] == "b").sum() == 7
