"""The catalog sensor and the augmentation schedule. Both ask one question: which catalog datasets
have no run yet for their current content and settings (a content hash, never a file time)?"""

import os

from dagster import (
    AddDynamicPartitionsRequest, DagsterInstance, DagsterRunStatus, DefaultScheduleStatus, DefaultSensorStatus,
    DeleteDynamicPartitionsRequest, RunRequest, RunsFilter, ScheduleEvaluationContext, SensorEvaluationContext,
    SensorResult, SkipReason, schedule, sensor,
)

from pipelines.catalog import CatalogLoad, entry_fingerprint
from pipelines.jobs import augmentation_job
from pipelines.partitions import DATASETS
from pipelines.resources import DatasetCatalog

FINGERPRINT_TAG = "synthlift/fingerprint"
DEFAULT_CRON = "0 3 * * *"
# A run in any of these states already covers its fingerprint; a failed one does not.
COVERING_STATUSES = [
    DagsterRunStatus.SUCCESS, DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING, DagsterRunStatus.STARTED,
]


def catalog_run_requests(load: CatalogLoad, instance: DagsterInstance) -> list[RunRequest]:
    """A run request for every valid entry whose data or settings have no covering run yet."""
    requests = []
    for entry in load.entries:
        fingerprint = entry_fingerprint(entry)
        if not _covered(instance, entry.name, fingerprint):
            requests.append(RunRequest(
                run_key=f"{entry.name}:{fingerprint}",
                partition_key=entry.name,
                run_config=entry.run_config(),
                tags={FINGERPRINT_TAG: fingerprint},
            ))
    return requests


def _covered(instance: DagsterInstance, name: str, fingerprint: str) -> bool:
    runs = instance.get_runs(
        filters=RunsFilter(
            job_name=augmentation_job.name,
            tags={"dagster/partition": name, FINGERPRINT_TAG: fingerprint},
            statuses=COVERING_STATUSES,
        ),
        limit=1,
    )
    return bool(runs)


def report_catalog_errors(load: CatalogLoad, log) -> None:
    for error in load.errors:
        log.warning(f"catalog entry {error.entry}: field '{error.field}': {error.message}")


@sensor(minimum_interval_seconds=60, default_status=DefaultSensorStatus.RUNNING,
        description="Keeps one partition per valid catalog dataset (adds new ones, removes deleted ones).")
def catalog_sensor(context: SensorEvaluationContext, catalog: DatasetCatalog):
    load = catalog.load()
    report_catalog_errors(load, context.log)
    wanted = {entry.name for entry in load.entries}
    kept = wanted | {error.entry for error in load.errors}  # an entry that broke keeps its partition
    existing = set(context.instance.get_dynamic_partitions(DATASETS))
    requests = []
    if wanted - existing:
        requests.append(AddDynamicPartitionsRequest(DATASETS, sorted(wanted - existing)))
    if existing - kept:
        requests.append(DeleteDynamicPartitionsRequest(DATASETS, sorted(existing - kept)))
    return SensorResult(dynamic_partitions_requests=requests)


@sensor(job=augmentation_job, minimum_interval_seconds=60, default_status=DefaultSensorStatus.STOPPED,
        description="Starts a run for every catalog dataset whose source content or settings changed since "
        "its last run (content hash, not file time). Off by default: turn it on to augment on change.")
def source_change_sensor(context: SensorEvaluationContext, catalog: DatasetCatalog):
    load = catalog.load()
    report_catalog_errors(load, context.log)
    registered = set(context.instance.get_dynamic_partitions(DATASETS))
    new = sorted({entry.name for entry in load.entries} - registered)
    return SensorResult(
        run_requests=catalog_run_requests(load, context.instance),
        dynamic_partitions_requests=[AddDynamicPartitionsRequest(DATASETS, new)] if new else [],
    )


@schedule(job=augmentation_job, cron_schedule=os.environ.get("SYNTHLIFT_CRON", DEFAULT_CRON),
          default_status=DefaultScheduleStatus.STOPPED,
          description="Re-runs augmentation for every catalog dataset whose data or settings changed "
          "since its last run (cron from $SYNTHLIFT_CRON).")
def augmentation_schedule(context: ScheduleEvaluationContext, catalog: DatasetCatalog):
    load = catalog.load()
    report_catalog_errors(load, context.log)
    names = [entry.name for entry in load.entries]
    missing = sorted(set(names) - set(context.instance.get_dynamic_partitions(DATASETS)))
    if missing:
        context.instance.add_dynamic_partitions(DATASETS, missing)
    requests = catalog_run_requests(load, context.instance)
    return requests or SkipReason(f"every catalog dataset is up to date ({', '.join(names) or 'none'})")
