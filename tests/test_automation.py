"""The catalog sensor and the schedule: partitions follow the catalog, runs follow content changes."""

import os

import pandas as pd
import pytest
import yaml
from dagster import (
    AddDynamicPartitionsRequest, DagsterRunStatus, DeleteDynamicPartitionsRequest, SkipReason,
    build_schedule_context, build_sensor_context, instance_for_test, validate_run_config,
)
from dagster._core.test_utils import create_run_for_test

from pipelines.automation import FINGERPRINT_TAG, augmentation_schedule, catalog_sensor, source_change_sensor
from pipelines.definitions import defs
from pipelines.partitions import DATASETS
from pipelines.resources import DatasetCatalog


@pytest.fixture
def instance():
    with instance_for_test() as instance:  # a real (temporary) instance: schedules need its reference
        yield instance


@pytest.fixture
def catalog_dir(tmp_path):
    pd.DataFrame({"x": range(40), "y": ["a", "b"] * 20}).to_csv(tmp_path / "table.csv", index=False)
    return tmp_path


def write_catalog(folder, datasets) -> DatasetCatalog:
    path = folder / "catalog.yaml"
    path.write_text(yaml.safe_dump({"datasets": datasets}))
    return DatasetCatalog(path=str(path))


ENTRIES = [
    {"name": "table", "source": "table.csv", "label": "y", "training": {"epochs": 5}},
    {"name": "cancer", "source": "breast_cancer"},
    {"name": "Broken Name", "source": "wine"},
]


def evaluate_sensor(instance, catalog, sensor=source_change_sensor):
    return sensor(build_sensor_context(instance=instance, resources={"catalog": catalog}))


def test_catalog_sensor_registers_partitions_and_starts_nothing(instance, catalog_dir):
    result = evaluate_sensor(instance, write_catalog(catalog_dir, ENTRIES), catalog_sensor)
    (added,) = result.dynamic_partitions_requests
    assert isinstance(added, AddDynamicPartitionsRequest) and sorted(added.partition_keys) == ["cancer", "table"]
    assert not result.run_requests


def test_source_sensor_requests_a_run_per_valid_entry(instance, catalog_dir):
    result = evaluate_sensor(instance, write_catalog(catalog_dir, ENTRIES))
    (added,) = result.dynamic_partitions_requests
    assert sorted(added.partition_keys) == ["cancer", "table"]
    assert sorted(r.partition_key for r in result.run_requests) == ["cancer", "table"]
    job = defs.resolve_job_def("augmentation_job")
    for request in result.run_requests:
        validate_run_config(job, request.run_config)
        assert request.tags[FINGERPRINT_TAG]


def record_success(instance, request):
    instance.add_dynamic_partitions(DATASETS, [request.partition_key])
    create_run_for_test(instance, job_name="augmentation_job", status=DagsterRunStatus.SUCCESS,
                        tags={"dagster/partition": request.partition_key, **request.tags})


def test_unchanged_data_is_skipped_and_changed_content_runs_again(instance, catalog_dir):
    catalog = write_catalog(catalog_dir, ENTRIES[:1])
    (first,) = evaluate_sensor(instance, catalog).run_requests
    record_success(instance, first)
    assert evaluate_sensor(instance, catalog).run_requests == []

    os.utime(catalog_dir / "table.csv", (1_000_000, 1_000_000))  # a new mtime alone is no change
    assert evaluate_sensor(instance, catalog).run_requests == []

    pd.DataFrame({"x": range(41), "y": ["a", "b"] * 20 + ["a"]}).to_csv(catalog_dir / "table.csv", index=False)
    (again,) = evaluate_sensor(instance, catalog).run_requests
    assert again.tags[FINGERPRINT_TAG] != first.tags[FINGERPRINT_TAG]


def test_a_failed_run_does_not_cover_its_data(instance, catalog_dir):
    catalog = write_catalog(catalog_dir, ENTRIES[:1])
    (first,) = evaluate_sensor(instance, catalog).run_requests
    create_run_for_test(instance, job_name="augmentation_job", status=DagsterRunStatus.FAILURE,
                        tags={"dagster/partition": "table", **first.tags})
    assert len(evaluate_sensor(instance, catalog).run_requests) == 1


def test_removed_entries_lose_their_partition_but_broken_ones_keep_it(instance, catalog_dir):
    instance.add_dynamic_partitions(DATASETS, ["table", "gone", "Broken Name"])
    result = evaluate_sensor(instance, write_catalog(catalog_dir, [ENTRIES[0], ENTRIES[2]]), catalog_sensor)
    deletes = [r for r in result.dynamic_partitions_requests if isinstance(r, DeleteDynamicPartitionsRequest)]
    assert [list(r.partition_keys) for r in deletes] == [["gone"]]


def test_schedule_skips_when_every_dataset_is_up_to_date(instance, catalog_dir):
    catalog = write_catalog(catalog_dir, ENTRIES[:2])
    context = build_schedule_context(instance=instance, resources={"catalog": catalog})
    requests = augmentation_schedule(context)
    assert sorted(r.partition_key for r in requests) == ["cancer", "table"]
    assert sorted(instance.get_dynamic_partitions(DATASETS)) == ["cancer", "table"]
    for request in requests:
        record_success(instance, request)
    skipped = augmentation_schedule(build_schedule_context(instance=instance, resources={"catalog": catalog}))
    assert isinstance(skipped, SkipReason) and "up to date" in skipped.skip_message
