import os
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from pipelines.catalog import (
    CatalogEntry,
    Thresholds,
    entry_fingerprint,
    load_catalog,
    source_fingerprint,
)

EXAMPLE = Path(__file__).resolve().parents[1] / "catalog.example.yaml"


def write_catalog(folder: Path, datasets: list) -> Path:
    path = folder / "catalog.yaml"
    path.write_text(yaml.safe_dump({"datasets": datasets}))
    return path


def errors_by_entry(load) -> dict:
    return {(error.entry, error.field): error.message for error in load.errors}


@pytest.fixture(scope="module")
def augmentation_job():
    from pipelines.definitions import defs

    return defs.resolve_job_def("augmentation_job")


def test_example_catalog_loads_three_valid_entries():
    load = load_catalog(EXAMPLE)
    assert load.errors == []
    by_name = {entry.name: entry for entry in load.entries}
    assert list(by_name) == ["breast_cancer", "wine", "digits"]
    assert [by_name[n].modality for n in by_name] == ["tabular", "tabular", "image"]
    assert by_name["wine"].thresholds == Thresholds(max_table_c2st_auc=0.85)
    assert by_name["digits"].training.image_steps > 0 and by_name["breast_cancer"].training.epochs > 0


def test_each_invalid_entry_is_reported_with_its_field_and_the_valid_ones_still_load(tmp_path):
    (tmp_path / "table.csv").write_text("x,y\n1,a\n2,b\n")
    datasets = [
        {"name": "good_table", "source": "breast_cancer"},
        {"name": "Bad Name!", "source": "wine"},
        {"name": "good_table", "source": "wine"},
        {"name": "no_label", "source": "table.csv"},
        {"name": "odd_threshold", "source": "wine", "thresholds": {"max_table_c2st_auc": 0.8, "max_auc": 0.7}},
        {"name": "wrong_type", "source": "wine", "lift_seeds": "many"},
        {"name": "mismatch", "source": "digits", "modality": "tabular"},
        {"name": "missing_file", "source": "nowhere/table.csv", "label": "y"},
        {"name": "wrong_budget", "source": "digits", "training": {"epochs": 10}},
        {"name": "typo", "source": "wine", "min_lfit": 0.1},
        {"source": "wine"},
        ["not", "a", "mapping"],
        {"name": "good_csv", "source": "table.csv", "label": "y"},
    ]
    load = load_catalog(write_catalog(tmp_path, datasets))

    assert [entry.name for entry in load.entries] == ["good_table", "good_csv"]
    errors = errors_by_entry(load)
    assert set(errors) == {
        ("Bad Name!", "name"),
        ("good_table", "name"),
        ("no_label", "label"),
        ("odd_threshold", "thresholds.max_auc"),
        ("wrong_type", "lift_seeds"),
        ("mismatch", "modality"),
        ("missing_file", "source"),
        ("wrong_budget", "training"),
        ("typo", "min_lfit"),
        ("#11", "name"),
        ("#12", ""),
    }
    assert "duplicate" in errors[("good_table", "name")] and "#1" in errors[("good_table", "name")]
    assert "max_table_c2st_auc" in errors[("odd_threshold", "thresholds.max_auc")]
    assert "image" in errors[("mismatch", "modality")]
    assert "does not exist" in errors[("missing_file", "source")]
    assert "table.csv" in errors[("no_label", "label")]


def test_sampling_strategy_accepts_yaml_mappings_and_ratios_and_rejects_nonsense(tmp_path):
    datasets = [
        {"name": "by_count", "source": "wine", "sampling_strategy": {"class_1": 60}},
        {"name": "by_ratio", "source": "wine", "sampling_strategy": 0.8},
        {"name": "nonsense", "source": "wine", "sampling_strategy": "most"},
        {"name": "too_big", "source": "wine", "sampling_strategy": 1.5},
    ]
    load = load_catalog(write_catalog(tmp_path, datasets))
    assert {e.name: e.sampling_strategy for e in load.entries} == {"by_count": '{"class_1": 60}', "by_ratio": "0.8"}
    assert set(errors_by_entry(load)) == {("nonsense", "sampling_strategy"), ("too_big", "sampling_strategy")}


@pytest.mark.parametrize("content, fragment", [
    ("datasets: [name: x\n", "not valid YAML"),
    ("- name: x\n  source: wine\n", "one key, 'datasets'"),
    ("datasets:\n  name: x\n", "one key, 'datasets'"),
    ("dataset:\n  - name: x\n", "one key, 'datasets'"),
    ("", "one key, 'datasets'"),
])
def test_a_catalog_file_of_the_wrong_shape_is_fatal_and_named(tmp_path, content, fragment):
    path = tmp_path / "broken.yaml"
    path.write_text(content)
    with pytest.raises(ValueError, match=fragment) as raised:
        load_catalog(path)
    assert "broken.yaml" in str(raised.value)


def test_a_missing_catalog_file_is_fatal_and_named(tmp_path):
    with pytest.raises(ValueError, match="absent.yaml.*cannot be read"):
        load_catalog(tmp_path / "absent.yaml")


def test_relative_sources_are_read_from_the_catalog_folder(tmp_path, monkeypatch):
    catalog_dir = tmp_path / "catalogs"
    (catalog_dir / "data").mkdir(parents=True)
    (catalog_dir / "data" / "table.csv").write_text("x,y\n1,a\n")
    path = write_catalog(catalog_dir, [{"name": "t", "source": "data/table.csv", "label": "y"}])
    monkeypatch.chdir(tmp_path)  # somewhere else: the source must not be read from the working folder

    (entry,) = load_catalog(path).entries
    assert Path(entry.source) == (catalog_dir / "data" / "table.csv").resolve()
    assert entry.run_config()["ops"]["raw_dataset"]["config"]["source"] == entry.source


def test_source_fingerprint_follows_content_not_file_times(tmp_path):
    table = tmp_path / "table.csv"
    table.write_text("x,y\n1,a\n")
    entry = CatalogEntry(name="t", source=str(table), label="y")
    before = source_fingerprint(entry)

    os.utime(table, (1_000_000, 1_000_000))
    assert source_fingerprint(entry) == before
    table.write_text("x,y\n2,a\n")
    assert source_fingerprint(entry) != before


def test_image_folder_fingerprint_covers_names_and_bytes_but_not_hidden_files(tmp_path):
    folder = tmp_path / "images"
    for name in ("benign", "malignant"):
        (folder / name).mkdir(parents=True)
        (folder / name / "a.png").write_bytes(b"pixels-" + name.encode())
    entry = CatalogEntry(name="images", source=str(folder))
    assert entry.modality == "image"
    before = source_fingerprint(entry)

    (folder / ".DS_Store").write_bytes(b"finder")
    os.utime(folder / "benign" / "a.png", (1_000_000, 1_000_000))
    assert source_fingerprint(entry) == before
    (folder / "benign" / "a.png").rename(folder / "benign" / "b.png")
    renamed = source_fingerprint(entry)
    assert renamed != before
    (folder / "benign" / "b.png").write_bytes(b"other pixels")
    assert source_fingerprint(entry) not in (before, renamed)


def test_builtin_fingerprint_names_the_source():
    assert source_fingerprint(CatalogEntry(name="a", source="wine")) != source_fingerprint(
        CatalogEntry(name="a", source="breast_cancer"))


def test_entry_fingerprint_changes_with_settings_or_data_only(tmp_path):
    table = tmp_path / "table.csv"
    table.write_text("x,y\n1,a\n")
    entry = CatalogEntry(name="t", source=str(table), label="y", training={"epochs": 10})
    same = CatalogEntry(name="t", source=str(table), label="y", training={"epochs": 10, "seed": 0}, lift_seeds=5)
    assert entry_fingerprint(entry) == entry_fingerprint(same)  # explicit defaults change nothing

    other_budget = CatalogEntry(name="t", source=str(table), label="y", training={"epochs": 11})
    assert entry_fingerprint(other_budget) != entry_fingerprint(entry)
    before = entry_fingerprint(entry)
    table.write_text("x,y\n1,b\n")
    assert entry_fingerprint(entry) != before


def test_run_config_has_the_cli_shape(tmp_path):
    from pipelines.cli import build_parser, run_config_from_args

    entry = CatalogEntry(name="bc", source="breast_cancer", training={"epochs": 7, "seed": 3},
                         sampling_strategy="minority", min_lift=0.02, require_beat_baseline=True, lift_seeds=4)
    args = build_parser().parse_args(["run", "breast_cancer", "--name", "bc", "--epochs", "7", "--seed", "3",
                                      "--sampling-strategy", "minority", "--min-lift", "0.02",
                                      "--require-beat-baseline", "--lift-seeds", "4"])
    expected = run_config_from_args(args)
    expected["ops"]["raw_dataset"]["config"]["image_size"] = 28
    expected["ops"]["gan_generator"]["config"]["checkpoint_every"] = 0
    assert entry.run_config() == expected


@pytest.mark.parametrize("seeds", [0, 1])
def test_catalog_and_cli_accept_the_same_lift_seeds(seeds):
    from pipelines.cli import ArgumentError, build_parser

    def accepted(parse) -> bool:
        try:
            parse()
        except (ValidationError, ArgumentError):
            return False
        return True

    in_catalog = accepted(lambda: CatalogEntry(name="bc", source="breast_cancer", lift_seeds=seeds))
    in_cli = accepted(lambda: build_parser().parse_args(["run", "breast_cancer", "--lift-seeds", str(seeds)]))
    assert in_catalog == in_cli == (seeds >= 1)


def test_every_run_config_validates_against_the_augmentation_job(tmp_path, augmentation_job):
    from dagster import validate_run_config

    from pipelines.config import QualityThresholds

    entries = load_catalog(EXAMPLE).entries
    entries.append(CatalogEntry(name="strict", source="wine", thresholds={
        name: QualityThresholds.model_fields[name].default for name in Thresholds.model_fields}))
    for entry in entries:
        validated = validate_run_config(augmentation_job, entry.run_config())
        assert validated["ops"]["raw_dataset"]["config"]["source"] == entry.source
    wine = next(entry for entry in entries if entry.name == "wine")
    validated = validate_run_config(augmentation_job, wine.run_config())
    assert validated["resources"]["thresholds"]["config"]["max_table_c2st_auc"] == 0.85


def test_threshold_keys_are_those_of_the_quality_thresholds_resource():
    from pipelines.config import QualityThresholds

    assert set(Thresholds.model_fields) == set(QualityThresholds.model_fields)


def test_the_launchpad_fills_in_a_partitions_catalog_entry(tmp_path, monkeypatch, augmentation_job):
    catalog = write_catalog(tmp_path, [{"name": "vinho", "source": "wine", "training": {"epochs": 150},
                                        "thresholds": {"max_table_c2st_auc": 0.85}, "min_lift": 0.01}])
    monkeypatch.setenv("SYNTHLIFT_CATALOG", str(catalog))
    config = augmentation_job.partitioned_config.get_run_config_for_partition_key("vinho")
    assert config == load_catalog(catalog).entries[0].run_config()
    assert config["ops"]["gan_generator"]["config"]["epochs"] == 150
    assert config["resources"]["thresholds"]["config"] == {"max_table_c2st_auc": 0.85}
    assert augmentation_job.partitioned_config.get_run_config_for_partition_key("unknown") == {}


@pytest.mark.parametrize("field, value, message", [
    ("min_lift", -0.5, "min_lift must be a finite number >= 0"),
    ("training", {"seed": 2**32}, "less than or equal to 4294967295"),
    ("sampling_strategy", {}, "names no class"),
])
def test_entries_with_values_the_cli_refuses_are_refused(tmp_path, field, value, message):
    load = load_catalog(write_catalog(tmp_path, [{"name": "bad", "source": "wine", field: value}]))
    fields = {where: text for (entry, where), text in errors_by_entry(load).items() if entry == "bad"}
    assert len(fields) == 1 and next(iter(fields)).startswith(field) and message in next(iter(fields.values()))


def test_a_threshold_that_meant_two_things_is_refused_with_its_new_names(tmp_path):
    catalog = write_catalog(tmp_path, [{"name": "vinho", "source": "wine", "thresholds": {"max_c2st_auc": 0.85}}])
    (error,) = load_catalog(catalog).errors
    assert error.field == "thresholds"
    assert "max_table_c2st_auc for tables and max_image_c2st_auc for images" in error.message


def test_columns_to_drop_and_keep_reach_the_run_config_as_from_the_cli(tmp_path, augmentation_job):
    from dagster import validate_run_config

    from pipelines.cli import build_parser, run_config_from_args

    table = tmp_path / "table.csv"
    table.write_text("id,a,b,y\n1,2,3,x\n")
    (entry,) = load_catalog(write_catalog(tmp_path, [
        {"name": "table", "source": "table.csv", "label": "y", "drop_columns": ["a", "a", "b"],
         "keep_columns": ["id"]}])).entries
    args = build_parser().parse_args(["run", str(table), "--label", "y", "--drop", "a", "--drop", "a", "--drop", "b",
                                      "--keep", "id"])
    expected = run_config_from_args(args)
    expected["ops"]["raw_dataset"]["config"]["image_size"] = 28
    assert entry.run_config() == expected
    assert expected["ops"]["raw_dataset"]["config"]["drop_columns"] == ["a", "b"]  # once each, in order
    validated = validate_run_config(augmentation_job, entry.run_config())
    assert validated["ops"]["raw_dataset"]["config"]["keep_columns"] == ["id"]
    unset = run_config_from_args(build_parser().parse_args(["run", str(table), "--label", "y"]))
    assert {"drop_columns", "keep_columns"}.isdisjoint(unset["ops"]["raw_dataset"]["config"])


def test_columns_to_drop_apply_to_tables_only_and_change_the_fingerprint_only_when_given(tmp_path):
    import hashlib
    import json

    load = load_catalog(write_catalog(tmp_path, [
        {"name": "pics", "source": "digits", "drop_columns": ["x"]},
        {"name": "kept", "source": "digits", "keep_columns": ["x"]},
        {"name": "drawn", "source": "digits", "repeats": 2},
        {"name": "not_a_list", "source": "wine", "drop_columns": "proline"},
    ]))
    errors = errors_by_entry(load)
    assert errors[("pics", "drop_columns")] == "drop_columns applies to tables only, and this source is images"
    assert errors[("kept", "keep_columns")] == "keep_columns applies to tables only, and this source is images"
    assert errors[("drawn", "repeats")] == "repeats applies to tables only, and this source is images"
    assert ("not_a_list", "drop_columns") in errors
    assert CatalogEntry(name="d", source="digits", repeats=1).repeats == 1  # the default is no option at all

    plain = CatalogEntry(name="w", source="wine")
    assert entry_fingerprint(CatalogEntry(name="w", source="wine", drop_columns=[])) == entry_fingerprint(plain)
    assert entry_fingerprint(CatalogEntry(name="w", source="wine", drop_columns=["proline"])) != entry_fingerprint(plain)
    assert entry_fingerprint(CatalogEntry(name="w", source="wine", repeats=2)) != entry_fingerprint(plain)
    # an entry that uses neither keeps the fingerprint it had before these settings existed: nothing re-runs
    settings = plain.model_dump(mode="json", exclude={"source", "drop_columns", "keep_columns", "image_curation",
                                                       "repeats"})
    before = json.dumps({"source": source_fingerprint(plain), "settings": settings}, sort_keys=True)
    assert entry_fingerprint(plain) == hashlib.sha256(before.encode()).hexdigest()
