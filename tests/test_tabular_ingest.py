import numpy as np
import pandas as pd
import pytest

from quality.data.tables import TabularSplit, input_warnings, load_table, split_table, validate_table


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
        (lambda f: f.assign(marker=f["marker"].where(f.index != 5, np.inf), age=f["age"].astype(float).where(f.index > 1, -np.inf)),
         "outcome", "column 'age' has 2 infinite value.*column 'marker' has 1 infinite"),
        (lambda f: f.assign(a=np.nan, b=np.nan), "outcome", "columns 'a', 'b' are entirely empty"),
        (lambda f: f.assign(seed=1), "outcome", "column 'seed' is named like the provenance columns"),
        (lambda f: f.assign(Synthetic=1), "outcome", "column 'Synthetic' is named like the provenance columns"),
        (lambda f: f.assign(patient=[f"p{i}" for i in range(len(f))]), "outcome",
         r"column 'patient' is text with a different value in \(nearly\) every filled row, like a record identifier"),
        # one blank cell and one repeated value must not let real identifiers through to the publication
        (lambda f: f.assign(patient=[None, "p1"] + [f"p{i}" for i in range(1, len(f) - 1)]), "outcome",
         "column 'patient' is text with a different value in"),
        (lambda f: f.assign(visit=[f"2024-01-{1 + i % 28:02d}" for i in range(len(f))]), "outcome",
         r"column type\(s\) \{'visit': 'dates written as text'\} cannot be generated"),
        (lambda f: f, "marker", "label column 'marker' holds 120 distinct numbers, some fractional: it looks continuous"),
        (lambda f: f.assign(outcome=[np.inf] + [0.0, 1.0] * 59 + [1.0]), "outcome", "label column 'outcome' has 1 infinite"),
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


def test_unused_categories_of_a_categorical_label_are_not_classes(table, tmp_path):
    frame, _ = table
    frame["outcome"] = pd.Categorical(frame["outcome"], categories=["sick", "well", "unknown"])
    path = tmp_path / "categorical.parquet"
    frame.to_parquet(path)
    split = split_table(load_table(str(path), "outcome"), seed=0)
    assert list(split.train["outcome"].cat.categories) == ["sick", "well"]
    assert set(split.class_counts()) == {"sick", "well"}


def test_date_columns_are_rejected_when_read(table, tmp_path):
    frame, _ = table
    frame["visit"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(len(frame)) % 7, unit="D")
    path = tmp_path / "dates.parquet"
    frame.to_parquet(path)
    with pytest.raises(ValueError, match=r"dates.parquet: column type\(s\) \{'visit': 'datetime64"):
        load_table(str(path), "outcome")


def test_a_column_whose_values_all_fall_outside_train_is_named(table, tmp_path):
    frame, _ = table
    dataset = load_table(_write(tmp_path, frame.assign(sparse=[1.0] + [np.nan] * (len(frame) - 1))), "outcome")
    with pytest.raises(ValueError, match="column 'sparse' is empty in the training split"):
        split_table(dataset, seed=_seed_putting_row_outside_train(dataset, 0))


def _seed_putting_row_outside_train(dataset, row: int) -> int:
    from quality.data.splitting import stratified_split_indices

    labels = dataset.frame[dataset.label_column].to_numpy()
    return next(seed for seed in range(100) if row not in stratified_split_indices(labels, seed, where="t").train)


def test_a_file_that_is_not_utf8_is_named(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("name,y\nJos\xe9,a\nAna,b\n".encode("latin-1"))
    with pytest.raises(ValueError, match="latin.csv: is not UTF-8 text .*save it as UTF-8"):
        load_table(str(path), "y")


def test_legitimate_columns_are_not_taken_for_identifiers_or_continuous_labels(table, tmp_path):
    frame, _ = table
    frame = frame.assign(comment=["late", "early"] + [None] * (len(frame) - 2),  # sparse free text
                         rating=np.resize([3.5, 4.0, 4.5], len(frame)))  # three fractional classes
    load_table(_write(tmp_path, frame), "rating")
    small = pd.DataFrame({"city": ["Oslo", "Rome", "Lima", "Pune", "Kobe", "Bonn"], "y": ["a", "b"] * 3})
    load_table(_write(tmp_path, small, "small.csv"), "y")


def test_nested_values_are_named(table, tmp_path):
    frame, _ = table
    path = tmp_path / "nested.parquet"
    frame.assign(tags=[[i, i + 1] for i in range(len(frame))]).to_parquet(path)
    with pytest.raises(ValueError, match=r"column 'tags' holds ndarray values \(first at row 0\); cells must be text"):
        load_table(str(path), "outcome")
    frame.assign(blob=[b"x"] * len(frame)).to_parquet(path)
    with pytest.raises(ValueError, match="column 'blob' holds bytes values"):
        load_table(str(path), "outcome")


def test_numbers_with_missing_value_markers_are_named(table, tmp_path):
    frame, _ = table
    marked = frame.assign(marker=frame["marker"].astype(object).where(frame.index % 50 != 3, "?"))
    with pytest.raises(ValueError, match=r"look like missing values \(column 'marker': '\?'\); leave those cells empty"):
        load_table(_write(tmp_path, marked), "outcome")
    # numbers mixed with codes, bins or words are a category, as is a declared category
    for name, other in (("codes", "E11"), ("bins", "3+"), ("words", "left")):
        mixed = frame.assign(site=np.where(frame.index % 2 == 0, "3", other))
        load_table(_write(tmp_path, mixed, f"{name}.csv"), "outcome")
    path = tmp_path / "category.parquet"
    frame.assign(grade=pd.Categorical(["1"] * 119 + ["?"])).to_parquet(path)
    load_table(str(path), "outcome")


def test_numbers_with_a_few_other_text_cells_are_read_as_a_category_with_a_warning(table, tmp_path):
    frame, _ = table
    typo = frame.assign(age=frame["age"].astype(object).where(frame.index != 7, "abc"))
    loaded = load_table(_write(tmp_path, typo), "outcome").frame
    assert input_warnings(loaded, "outcome") == [
        "column 'age' holds numbers but for 1 text cell(s) ('abc'), so it is read as a category whose values are "
        "copied, not generated; if it is numeric, fix those cells"]
    codes = frame.assign(site=np.where(frame.index % 2 == 0, "250", "E11"))  # half codes: no warning
    assert input_warnings(load_table(_write(tmp_path, codes, "codes.csv"), "outcome").frame, "outcome") == []
    assert input_warnings(frame, "outcome") == []


def test_decimals_are_numbers_and_missing_markers_of_any_kind_are_allowed(table, tmp_path):
    from decimal import Decimal

    frame, _ = table
    path = tmp_path / "decimal.parquet"
    frame.assign(dose=[Decimal("1.25") + i for i in range(len(frame))],
                 note=pd.Series(["a", None] * 60, dtype=object)).to_parquet(path)
    loaded = load_table(str(path), "outcome").frame
    assert loaded["dose"].dtype == float and loaded["dose"].iloc[1] == 2.25
    validate_table(frame.assign(note=pd.Series(["a", pd.NaT, None, np.nan] * 30, dtype=object)), "outcome", "frame")


def test_list_labels_are_named(table, tmp_path):
    frame, _ = table
    path = tmp_path / "listlabel.parquet"
    frame.assign(outcome=[[i % 2] for i in range(len(frame))]).to_parquet(path)
    with pytest.raises(ValueError, match="column 'outcome' holds ndarray values"):
        load_table(str(path), "outcome")


def test_a_repeated_csv_header_is_named(tmp_path):
    """pandas would rename the second 'y' to 'y.1' and balance the first: refuse instead."""
    path = tmp_path / "twice.csv"
    path.write_text("y,x,y\n0,1.5,a\n1,2.5,b\n")
    with pytest.raises(ValueError, match=r"twice.csv: the header repeats column name\(s\) \['y'\]"):
        load_table(str(path), "y")


def test_a_csv_separated_by_semicolons_is_named(table, tmp_path):
    frame, _ = table
    path = tmp_path / "semicolons.csv"
    frame.to_csv(path, index=False, sep=";")
    with pytest.raises(ValueError, match="semicolons.csv: read as a single column .* looks separated by ';'"):
        load_table(str(path), "outcome")


def test_a_semicolon_csv_with_decimal_commas_in_some_rows_is_named(tmp_path):
    """pandas cannot even tokenize it (rows of 1 and 3 comma fields): name the separator all the same."""
    path = tmp_path / "euro.csv"
    path.write_text("x;y;label\n2;3;b\n1,5;2,25;a\n1,5;2;a\n")
    with pytest.raises(ValueError, match="euro.csv: .* looks separated by ';'"):
        load_table(str(path), "label")


def test_blank_header_names_are_not_called_repeats(tmp_path):
    """An Excel sheet's empty trailing columns have blank names: pandas calls them 'Unnamed: N'."""
    path = tmp_path / "sheet.csv"
    path.write_text("a,b,label,,\n1,2,x,,\n2,3,y,,\n")
    with pytest.raises(ValueError, match="'Unnamed: 3', 'Unnamed: 4' are entirely empty"):
        load_table(str(path), "label")
