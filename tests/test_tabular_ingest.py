import numpy as np
import pandas as pd
import pytest

from quality.data.tables import TabularPlan, input_warnings, load_table, plan_table, validate_table


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


def test_builtin_breast_cancer_is_made_scarce_in_its_deciding_rows_only():
    plan = plan_table(load_table("breast_cancer"), seed=0)
    assert plan.class_counts()["malignant"] == 20
    assert plan.holdout["diagnosis"].value_counts()["malignant"] == 42  # the outer holdout keeps real proportions
    assert plan.protocol.kind == "cross_fit" and plan.n_folds == 5


def test_csv_and_parquet_load_the_same(table, tmp_path):
    frame, csv_path = table
    parquet_path = tmp_path / "patients.parquet"
    frame.to_parquet(parquet_path)
    from_csv = load_table(str(csv_path), "outcome").frame
    from_parquet = load_table(str(parquet_path), "outcome").frame
    pd.testing.assert_frame_equal(from_csv, from_parquet, check_dtype=False)


def test_plan_round_trips_through_files(table, tmp_path):
    _, path = table
    plan = plan_table(load_table(str(path), "outcome"), seed=1, holdout_fraction=0.2)
    plan.save(tmp_path / "plan")
    again = TabularPlan.load(tmp_path / "plan")
    pd.testing.assert_frame_equal(plan.holdout, again.holdout)
    pd.testing.assert_frame_equal(plan.rows, again.rows)
    assert np.array_equal(plan.folds, again.folds) and again.protocol == plan.protocol
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
    with pytest.raises(ValueError, match="class 'rare' .* has 2 deciding row"):
        plan_table(dataset)


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
    plan = plan_table(load_table(str(path), "outcome"), seed=0)
    assert list(plan.rows["outcome"].cat.categories) == ["sick", "well"]
    assert set(plan.class_counts()) == {"sick", "well"}


def test_date_columns_are_rejected_when_read(table, tmp_path):
    frame, _ = table
    frame["visit"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(len(frame)) % 7, unit="D")
    path = tmp_path / "dates.parquet"
    frame.to_parquet(path)
    with pytest.raises(ValueError, match=r"dates.parquet: column type\(s\) \{'visit': 'datetime64"):
        load_table(str(path), "outcome")


def test_a_column_whose_values_all_fall_outside_a_folds_training_rows_is_named(table, tmp_path):
    frame, _ = table
    dataset = load_table(_write(tmp_path, frame.assign(sparse=[1.0] + [np.nan] * (len(frame) - 1))), "outcome")
    with pytest.raises(ValueError, match="column 'sparse' is empty in the training rows of fold"):
        plan_table(dataset, seed=0)  # its one value judges some fold, whose GAN would never see a value

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


# Record numbers (an index, a row or patient number) are not features: dropped with a warning naming them, or
# refused with the fix; a real integer feature, the label and tiny tables are left alone.

@pytest.mark.parametrize("column", ["rownames", "id", "ID", "patient_id", "PatientID", "Patient ID", "Unnamed: 0",
                                    "index", "record", "row", "case_no", "S.No", "serial_number", "recordnumber"])
def test_a_numeric_column_named_like_a_record_number_is_dropped_with_a_warning_naming_it(table, tmp_path, column):
    import shlex

    from quality.data.record_numbers import NAMED_RECORD_NUMBER

    frame, _ = table
    # distinct whole numbers, in no order and with gaps: only the name tells
    frame.insert(0, column, np.random.default_rng(1).permutation(len(frame)) * 7 + 100)
    dataset = load_table(_write(tmp_path, frame), "outcome")
    assert list(dataset.frame.columns) == ["age", "marker", "site", "outcome"]
    assert dataset.dropped_columns == {column: NAMED_RECORD_NUMBER}
    (warning,) = input_warnings(dataset.frame, "outcome", dataset.dropped_columns)
    assert warning.startswith(f"column {column!r} was dropped as a record number (distinct whole numbers, named like "
                              "an identifier), not a feature")
    assert warning.endswith(f"keep it with --keep {shlex.quote(column)} (keep_columns in a catalog)")


def test_the_index_pandas_writes_and_a_blank_in_a_named_record_number_are_dropped(table, tmp_path):
    frame, _ = table
    path = tmp_path / "with_index.csv"
    frame.to_csv(path)  # the index, under a blank header: 'Unnamed: 0'
    assert list(load_table(str(path), "outcome").dropped_columns) == ["Unnamed: 0"]
    ids = frame.assign(id=np.arange(len(frame)) * 3.0)
    ids.loc[5, "id"] = np.nan  # read back as floats; the name still tells
    assert list(load_table(_write(tmp_path, ids), "outcome").dropped_columns) == ["id"]


def test_a_consecutive_range_is_dropped_as_a_record_number_whatever_its_name_or_order(table, tmp_path):
    from quality.data.record_numbers import RANGE_RECORD_NUMBER

    frame, _ = table
    n = len(frame)
    frame = frame.assign(X=np.arange(1, n + 1), visit=np.random.default_rng(2).permutation(n) + 5000)
    dataset = load_table(_write(tmp_path, frame), "outcome")
    assert dataset.dropped_columns == {"X": RANGE_RECORD_NUMBER, "visit": RANGE_RECORD_NUMBER}
    assert {"X", "visit"}.isdisjoint(dataset.frame.columns)
    warnings = input_warnings(dataset.frame, "outcome", dataset.dropped_columns)
    assert [w.split(",")[0] for w in warnings] == [
        "column 'X' was dropped as a record number (distinct whole numbers forming a consecutive range",
        "column 'visit' was dropped as a record number (distinct whole numbers forming a consecutive range"]


def test_whole_numbers_rising_with_gaps_are_refused_with_the_fix_and_either_fix_works(table, tmp_path):
    frame, _ = table
    path = _write(tmp_path, frame.assign(subject=np.arange(len(frame)) * 3 + 10))
    with pytest.raises(ValueError, match=r"bad.csv: column 'subject' is made of distinct whole numbers rising down "
                                         r"the file with gaps.*--drop subject to drop it or --keep subject to keep it"):
        load_table(path, "outcome")
    assert "subject" not in load_table(path, "outcome", drop_columns=["subject"]).frame.columns
    kept = load_table(path, "outcome", keep_columns=["subject"])
    assert "subject" in kept.frame.columns and kept.dropped_columns == {}


@pytest.mark.parametrize("column", ["income", "body_mass_index", "paid", "fluid", "X", "rank"])
def test_distinct_whole_numbers_without_an_identifier_name_or_shape_are_features(table, tmp_path, column):
    frame, _ = table
    values = np.random.default_rng(3).choice(200_000, len(frame), replace=False)  # any order, with gaps
    dataset = load_table(_write(tmp_path, frame.assign(**{column: values})), "outcome")
    assert column in dataset.frame.columns and dataset.dropped_columns == {}
    assert input_warnings(dataset.frame, "outcome", dataset.dropped_columns) == []


def test_small_tables_repeats_fractions_blanks_and_the_label_are_not_record_numbers(table, tmp_path):
    from quality.data.record_numbers import MIN_IDENTIFIER_ROWS, record_number_columns

    frame, _ = table
    rng = np.random.default_rng(4)
    # an income in a 30-row table; sorted, or a range, in fewer rows than MIN_IDENTIFIER_ROWS
    small = pd.DataFrame({"income": rng.choice(200_000, 30, replace=False), "outcome": ["a", "b"] * 15})
    assert list(load_table(_write(tmp_path, small, "small.csv"), "outcome").frame.columns) == ["income", "outcome"]
    few = small.head(MIN_IDENTIFIER_ROWS - 1)
    assert record_number_columns(few.assign(income=np.sort(few["income"])), "outcome", "t") == {}
    tiny = pd.DataFrame({"floor": [3, 1, 2, 5, 4, 6], "y": ["a", "b"] * 3})
    assert list(load_table(_write(tmp_path, tiny, "tiny.csv"), "y").frame.columns) == ["floor", "y"]
    n = len(frame)
    others = frame.assign(
        hospital_id=np.arange(n) % 7,  # named like an ID but repeated: a category code
        dose_id=np.arange(n) + 0.5,  # not whole numbers
        gappy=pd.Series(np.arange(n), dtype=float).where(np.arange(n) != 3),  # a range with a blank
        flag=np.arange(n) % 2 == 0)
    assert load_table(_write(tmp_path, others), "outcome").dropped_columns == {}
    labelled = pd.DataFrame({"id": np.arange(40), "x": rng.normal(size=40)})
    assert record_number_columns(labelled, "id", "t") == {}


def test_the_builtin_tables_have_no_record_numbers():
    assert load_table("breast_cancer").dropped_columns == load_table("wine").dropped_columns == {}


def test_a_table_left_with_record_numbers_only_is_refused(tmp_path):
    frame = pd.DataFrame({"id": np.arange(40), "y": ["a", "b"] * 20})
    with pytest.raises(ValueError, match=r"only.csv: the table has no feature columns besides 'y' once the record "
                                         r"numbers \['id'\] are dropped; keep a real feature with --keep COL"):
        load_table(_write(tmp_path, frame, "only.csv"), "y")


def test_named_columns_are_dropped_and_kept_as_asked_without_warnings(table, tmp_path):
    from quality.data.record_numbers import USER_DROPPED

    frame, _ = table
    path = _write(tmp_path, frame.assign(id=np.arange(len(frame)), patient=[f"p{i}" for i in range(len(frame))]))
    with pytest.raises(ValueError, match=r"column 'patient' is text .*\(--drop patient, or drop_columns in a catalog"):
        load_table(path, "outcome")
    dataset = load_table(path, "outcome", drop_columns=["site", "patient", "site"], keep_columns=["id"])
    assert list(dataset.frame.columns) == ["age", "marker", "outcome", "id"]
    assert dataset.dropped_columns == {"site": USER_DROPPED, "patient": USER_DROPPED}
    assert input_warnings(dataset.frame, "outcome", dataset.dropped_columns) == []
    assert load_table("wine", drop_columns=["proline"]).dropped_columns == {"proline": USER_DROPPED}


@pytest.mark.parametrize("drop, keep, message", [
    (["nope"], [], r"bad.csv: --drop \(drop_columns\) names 'nope', not a column of the table; columns are "
                   r"\['age', 'marker', 'site', 'outcome'\]"),
    ([], ["Age", "nope"], r"bad.csv: --keep \(keep_columns\) names 'Age', 'nope', not columns of the table; columns"),
    (["outcome"], [], r"bad.csv: --drop \(drop_columns\) names the label column 'outcome'; the label cannot be"),
    (["site"], ["site"], r"bad.csv: column 'site' is named by both --drop and --keep"),
])
def test_columns_to_drop_or_keep_that_cannot_be_are_refused_naming_file_and_column(table, tmp_path, drop, keep,
                                                                                   message):
    frame, _ = table
    with pytest.raises(ValueError, match=message):
        load_table(_write(tmp_path, frame), "outcome", drop_columns=drop, keep_columns=keep)


def test_dropped_columns_are_saved_and_loaded_with_the_dataset(table, tmp_path):
    import json

    from quality.data.record_numbers import NAMED_RECORD_NUMBER
    from quality.data.tables import TabularDataset

    frame, _ = table
    dataset = load_table(_write(tmp_path, frame.assign(rownames=np.arange(1, len(frame) + 1))), "outcome")
    dataset.save(tmp_path / "stored")
    assert TabularDataset.load(tmp_path / "stored").dropped_columns == {"rownames": NAMED_RECORD_NUMBER}
    meta_path = tmp_path / "stored" / "meta.json"  # a dataset stored before the field existed dropped nothing
    meta = json.loads(meta_path.read_text())
    del meta["dropped_columns"]
    meta_path.write_text(json.dumps(meta))
    assert TabularDataset.load(tmp_path / "stored").dropped_columns == {}
