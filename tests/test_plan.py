"""The evaluation plan: which protocol proves the lift, which rows each fold judges, and the outer holdout."""

import numpy as np
import pandas as pd
import pytest

from quality.data.plan import (
    CROSS_FIT, MIN_VALIDATION_ROWS_PER_CLASS, SPLIT, TRAINING_ONLY, assign_folds, assign_repeated_folds,
    choose_protocol, holdout_rows, is_deciding, judged_on, part_key, part_name,
)
from quality.data.tables import TabularDataset, plan_table


def labels(**counts) -> np.ndarray:
    return np.array([name for name, n in counts.items() for _ in range(n)])


def test_a_split_is_chosen_only_when_its_validation_rows_hold_enough_of_every_class():
    enough = MIN_VALIDATION_ROWS_PER_CLASS * 5
    assert choose_protocol(labels(a=enough, b=enough * 3)).kind == SPLIT
    scarce = choose_protocol(labels(a=enough - 5, b=enough * 3))
    assert scarce.kind == CROSS_FIT and scarce.folds == 5 and "fewer than 50" in scarce.reason


def test_the_protocol_asked_for_is_kept_and_a_class_too_small_for_it_is_named():
    assert choose_protocol(labels(a=20, b=200), folds=1).kind == SPLIT
    assert choose_protocol(labels(a=20, b=200), folds=3).folds == 3
    with pytest.raises(ValueError, match="class 'a' in t.csv has 4 deciding row"):
        choose_protocol(labels(a=4, b=200), where="t.csv")


def test_every_fold_holds_each_class_and_every_row_is_judged_once():
    y = labels(a=23, b=180)
    protocol = choose_protocol(y)
    folds = assign_folds(y, protocol, seed=0)
    assert set(folds) == set(range(5))
    for fold in range(5):
        in_fold = y[folds == fold]
        assert 4 <= (in_fold == "a").sum() <= 5 and 35 <= (in_fold == "b").sum() <= 37
    assert np.array_equal(folds, assign_folds(y, protocol, seed=0))


def test_a_split_judges_its_validation_rows_and_trains_on_the_rest():
    y = labels(a=300, b=600)
    folds = assign_folds(y, choose_protocol(y), seed=1, validation_fraction=0.2)
    assert set(folds) == {0, TRAINING_ONLY}
    assert (y[folds == 0] == "a").sum() == 60 and (y[folds == 0] == "b").sum() == 120


def test_the_outer_holdout_is_stratified_optional_and_refused_when_it_leaves_too_little():
    y = labels(a=20, b=80)
    held = holdout_rows(y, 0.2, seed=0)
    assert (y[held] == "a").sum() == 4 and (y[held] == "b").sum() == 16
    assert len(holdout_rows(y, 0.0, seed=0)) == 0
    with pytest.raises(ValueError, match="class 'a' .* too few to hold"):
        holdout_rows(labels(a=3, b=80), 0.3, seed=0)


def test_a_tables_plan_keeps_a_fold_out_of_its_own_training_rows():
    frame = pd.DataFrame({"x": np.arange(120.0), "y": labels(a=20, b=100)})
    plan = plan_table(TabularDataset(frame=frame, label_column="y", name="t", source="t.csv"), seed=0)
    assert plan.protocol.kind == CROSS_FIT and len(plan.holdout) == 0 and len(plan.rows) == 120
    for fold in range(plan.n_folds):
        judged, training = set(plan.fold_rows(fold)["x"]), set(plan.fold_training_rows(fold)["x"])
        assert judged and not judged & training and judged | training == set(frame["x"])
    assert plan.generator_rows is plan.rows  # the published generator sees every deciding row


def test_only_the_deciding_rows_may_decide():
    assert is_deciding(judged_on(choose_protocol(labels(a=20, b=200)))) and is_deciding("validation")
    assert not is_deciding("holdout") and not is_deciding("train")


def test_the_command_line_refuses_folds_for_images_before_anything_runs(tmp_path, capsys):
    from pipelines.cli import main

    assert main(["run", "digits", "--folds", "3", "--out", str(tmp_path), "--json"]) != 0
    assert "--folds 3: images are judged on a validation split" in capsys.readouterr().out
    assert not (tmp_path / "artifacts").exists()


def test_the_rule_counts_validation_rows_as_the_split_draws_them():
    # 0.2 x 248 = 49.6: the split draws 50 rows of the class, so the rule takes the split (int() said 49)
    protocol = choose_protocol(labels(a=248, b=1000), validation_fraction=0.2)
    assert protocol.kind == SPLIT and "about 50 rows" in protocol.reason
    folds = assign_folds(labels(a=248, b=1000), protocol, seed=0, validation_fraction=0.2)
    assert int((folds[:248] == 0).sum()) == 50
    assert choose_protocol(labels(a=247, b=1000), validation_fraction=0.2).kind == CROSS_FIT  # 49.4: 49 rows


def test_repeated_folds_deal_every_row_afresh_and_keep_the_first_draw():
    y = labels(a=23, b=180)
    protocol = choose_protocol(y, repeats=3)
    assert (protocol.kind, protocol.folds, protocol.repeats, protocol.parts) == (CROSS_FIT, 5, 3, 15)
    assert protocol.reason.endswith("drawn 3 times")
    folds = assign_repeated_folds(y, protocol, seed=0)
    assert folds.shape == (3, len(y))
    assert np.array_equal(folds[0], assign_folds(y, choose_protocol(y), seed=0))  # repeats=1 is unchanged
    assert not np.array_equal(folds[1], folds[0]) and not np.array_equal(folds[2], folds[1])
    for draw in folds:  # every repetition is a stratified K-fold of its own
        assert set(draw) == set(range(5)) and all(4 <= ((draw == k) & (y == "a")).sum() <= 5 for k in range(5))
    assert np.array_equal(folds, assign_repeated_folds(y, protocol, seed=0))
    assert judged_on(protocol) == "3 x 5-fold cross-fit" and is_deciding(judged_on(protocol))
    assert (part_name(protocol, 7), part_key(protocol, 7), part_key(protocol, 2)) == (
        "repetition 1, fold 2", "repeat_1_fold_2", "fold_2")


def test_repeats_are_refused_for_a_split_and_below_one():
    with pytest.raises(ValueError, match="repeats=2 repeats cross-fitting, but t.csv is judged on one validation"):
        choose_protocol(labels(a=20, b=200), folds=1, repeats=2, where="t.csv")
    with pytest.raises(ValueError, match="repeats must be at least 1"):
        choose_protocol(labels(a=20, b=200), repeats=0)


def test_a_repeated_plan_keeps_each_part_out_of_its_own_training_rows_and_reads_back(tmp_path):
    from quality.data.tables import TabularPlan

    frame = pd.DataFrame({"x": np.arange(120.0), "y": labels(a=20, b=100)})
    plan = plan_table(TabularDataset(frame=frame, label_column="y", name="t", source="t.csv"), seed=0, repeats=2)
    assert plan.n_parts == 10 and plan.folds.shape == (2, 120)
    for part in range(plan.n_parts):
        judged, training = set(plan.fold_rows(part)["x"]), set(plan.fold_training_rows(part)["x"])
        assert judged and not judged & training and judged | training == set(frame["x"])
    assert set(plan.fold_rows(5)["x"]) != set(plan.fold_rows(0)["x"])  # repetition 1 judges other groups
    plan.save(tmp_path / "plan")
    again = TabularPlan.load(tmp_path / "plan")
    assert np.array_equal(again.folds, plan.folds) and again.protocol == plan.protocol
    np.save(tmp_path / "plan" / "folds.npy", plan.folds[0])  # a plan stored before repetitions existed
    assert TabularPlan.load(tmp_path / "plan").folds.shape == (1, 120)


def test_the_command_line_refuses_repeats_for_images_before_anything_runs(tmp_path, capsys):
    from pipelines.cli import main

    assert main(["run", "digits", "--repeats", "2", "--out", str(tmp_path), "--json"]) != 0
    assert "--repeats applies to tables only" in capsys.readouterr().out
    assert not (tmp_path / "artifacts").exists()


def test_the_plan_check_reads_every_repetition_and_names_a_part_of_a_later_one_that_lacks_a_class():
    from assets.ingest import every_class_in_every_part
    from assets.modalities import tabular

    frame = pd.DataFrame({"x": np.arange(120.0), "y": labels(a=20, b=100)})
    plan = plan_table(TabularDataset(frame=frame, label_column="y", name="t", source="t.csv"), seed=0, repeats=2)
    sizes = tabular.plan_sizes(plan)
    assert [part for part in sizes if part != "holdout"] == [f"repetition {r}, fold {k}" for r in (0, 1) for k in range(5)]
    assert every_class_in_every_part(plan).passed
    plan.folds[1][(plan.folds[1] == 3) & (plan.rows["y"].to_numpy() == "a")] = 4  # no 'a' left in fold 3 of repetition 1
    result = every_class_in_every_part(plan)
    assert not result.passed and "'repetition 1, fold 3': ['a']" in result.description
