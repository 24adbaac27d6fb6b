import numpy as np
import pandas as pd
import pytest

from quality.tabular_ingest import TabularSplit, load_table, split_table


@pytest.fixture
def table(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({
        "age": rng.integers(20, 80, 120),
        "marker": rng.normal(size=120),
        "site": rng.choice(["left", "right"], 120),
        "outcome": ["sick"] * 30 + ["well"] * 90,
    })
    path = tmp_path / "patients.csv"
    frame.to_csv(path, index=False)
    return frame, path


def _write(tmp_path, frame, name="bad.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return str(path)


def test_builtin_breast_cancer_is_made_scarce_in_train_only():
    split = split_table(load_table("breast_cancer"), seed=0)
    assert split.class_counts()["malignant"] == 20
    assert split.validation["diagnosis"].value_counts()["malignant"] > 20  # evaluation keeps real proportions


def test_csv_and_parquet_load_the_same(table, tmp_path):
    frame, csv_path = table
    parquet_path = tmp_path / "patients.parquet"
    frame.to_parquet(parquet_path)
    from_csv = load_table(str(csv_path), "outcome").frame
    from_parquet = load_table(str(parquet_path), "outcome").frame
    pd.testing.assert_frame_equal(from_csv, from_parquet, check_dtype=False)


def test_split_round_trips_through_files(table, tmp_path):
    _, path = table
    split = split_table(load_table(str(path), "outcome"), seed=1)
    split.save(tmp_path / "split")
    again = TabularSplit.load(tmp_path / "split")
    pd.testing.assert_frame_equal(split.holdout, again.holdout)
    assert again.label_column == "outcome"


@pytest.mark.parametrize(
    "mutate, label, message",
    [
        (lambda f: f, "diagnosis", r"label column 'diagnosis' not found; columns are \['age'"),
        (lambda f: f.assign(outcome="well"), "outcome", "single class"),
        (lambda f: f.assign(outcome=f["outcome"].where(f.index != 3)), "outcome", r"missing value.*first rows: \[3\]"),
        (lambda f: f.assign(empty=np.nan), "outcome", "column 'empty' is entirely empty"),
        (lambda f: f.assign(marker=f["marker"].where(f.index != 5, np.inf)), "outcome", "column 'marker' has 1 infinite"),
    ],
)
def test_bad_tables_are_rejected_naming_the_culprit(table, tmp_path, mutate, label, message):
    frame, _ = table
    with pytest.raises(ValueError, match=message):
        load_table(_write(tmp_path, mutate(frame.copy())), label)


def test_a_class_too_small_to_split_is_named(table, tmp_path):
    frame, _ = table
    frame = pd.concat([frame, frame.head(2).assign(outcome="rare")])
    dataset = load_table(_write(tmp_path, frame), "outcome")
    with pytest.raises(ValueError, match="class 'rare' .* has 2 row"):
        split_table(dataset)


def test_missing_empty_and_unreadable_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.csv: no such file"):
        load_table(str(tmp_path / "nope.csv"), "y")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ValueError, match="empty.csv: the file is empty"):
        load_table(str(empty), "y")
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(b"not parquet at all")
    with pytest.raises(ValueError, match="corrupt.parquet: cannot be read as PARQUET"):
        load_table(str(corrupt), "y")
    header_only = tmp_path / "header.csv"
    header_only.write_text("a,y\n")
    with pytest.raises(ValueError, match="header.csv: the table has no rows"):
        load_table(str(header_only), "y")


def test_a_file_source_needs_a_label(table):
    _, path = table
    with pytest.raises(ValueError, match="name the label column"):
        load_table(str(path))
