"""Execute the augmentation assets in-process (the same definitions `dagster dev` shows) and
summarise the outcome for the command line."""

from __future__ import annotations

import contextlib
import json
import logging
from pathlib import Path
from typing import Any, Iterator

from dagster import DagsterInstance, materialize

from pipelines.config import INTERACTIVE_RUN_TAG
from pipelines.definitions import ASSET_CHECKS, ASSETS, build_resources
from pipelines.partitions import DATASETS
from pipelines.resources import SynthliftStorage
from quality.publish.store import rejection_path


DAGSTER_CONSOLE_LOGGER = "dagster"  # the name Dagster gives its console logger


class RunFailed(Exception):
    """The run stopped on an error (bad input, a crash) rather than on a decision."""


def run_augmentation(
    run_config: dict[str, Any], out: Path, dataset: str, tracebacks: bool = True
) -> dict[str, Any]:
    """Materialize every asset and check for the partition ``dataset``, in this process.

    ``tracebacks=False`` keeps only the first line of each error Dagster logs (the step that failed): a
    command-line user then reads the cause once, in ``RunFailed``, instead of under two stack traces.
    """
    storage = SynthliftStorage(root=str(out))
    one_line_errors = contextlib.nullcontext() if tracebacks else _console_errors_in_one_line()
    with DagsterInstance.ephemeral() as instance, one_line_errors:
        instance.add_dynamic_partitions(DATASETS, [dataset])
        result = materialize(
            [*ASSETS, *ASSET_CHECKS],
            run_config=run_config,
            resources=build_resources(storage),
            instance=instance,
            partition_key=dataset,
            raise_on_error=False,
            tags={INTERACTIVE_RUN_TAG: "true"},
        )
        timings = step_timings(instance, result.run_id)
        errors = [event for event in result.all_events
                  if (event.is_step_failure and not _blocked_by_check(event)) or _resources_failed(event)]
        if errors:
            raise RunFailed(_user_message(errors[0]))
        materialized = _materialized(result)
        if "published_dataset" in materialized:
            record = result.output_for_node("published_dataset")
            return summarise(record.card, record.output, timings)
        if "synthetic_samples" not in materialized:  # the split's own check failed: nothing to judge yet
            raise RunFailed(_failed_checks(result))
        # a blocking check on the samples failed, so Dagster skipped the lift and the publication; the checks
        # recorded why
        record = rejection_path(storage.publish_root, dataset, result.run_id)
        if not record.exists():
            raise RunFailed(_failed_checks(result))
    return summarise(json.loads(record.read_text()), None, timings)


@contextlib.contextmanager
def _console_errors_in_one_line() -> Iterator[None]:
    """Meanwhile, the console logger Dagster creates for a run (a new ``logging.Logger`` named "dagster",
    made with ``logging.getLoggerClass()``) cuts error records to their first line."""
    previous = logging.getLoggerClass()
    logging.setLoggerClass(_RunLogger)
    try:
        yield
    finally:
        if logging.getLoggerClass() is _RunLogger:
            logging.setLoggerClass(previous)


class _RunLogger(logging.Logger):
    """A plain Logger, but the one named like Dagster's console logger keeps one line per error."""

    def __init__(self, name: str, level: int | str = logging.NOTSET) -> None:
        super().__init__(name, level)
        if name == DAGSTER_CONSOLE_LOGGER:
            self.addFilter(_first_line_of_errors)


def _first_line_of_errors(record: logging.LogRecord) -> bool:
    if record.levelno >= logging.ERROR:
        try:
            record.msg, record.args = record.getMessage().split("\n", 1)[0], ()
        except Exception:  # a malformed record is left for the handler to report, as logging does
            return True
        record.exc_info = record.exc_text = None
    return True


def step_timings(instance: DagsterInstance, run_id: str) -> dict[str, float]:
    """Wall seconds from each step's start to its end (steps of a fan-out listed one by one)."""
    started: dict[str, float] = {}
    timings: dict[str, float] = {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type_value == "STEP_START":
            started[event.step_key] = entry.timestamp
        elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE") and event.step_key in started:
            timings[event.step_key] = round(entry.timestamp - started[event.step_key], 2)
    return timings


def summarise(card: dict[str, Any], output, timings: dict[str, float]) -> dict[str, Any]:
    return {
        "decision": card["decision"],
        "reasons": card["reasons"],
        "output": output,
        "dataset": card["dataset"],
        "modality": card["modality"],
        "model_version": card["model_version"],
        "protocol": card.get("protocol"),
        "class_counts_before": card["class_counts_before"],
        "class_counts_after": card["class_counts_after"],
        "checks": card["checks"],
        "gate": card["gate"],
        "lift": card["lift"],
        "timings": timings,
    }


def _materialized(result) -> set[str]:
    return {event.asset_key.to_user_string() for event in result.get_asset_materialization_events()}


def _failed_checks(result) -> str:
    failed = [f"{e.check_name}: {e.description}" for e in result.get_asset_check_evaluations() if not e.passed]
    return "; ".join(failed) or "the run stopped before generating samples"


def _blocked_by_check(event) -> bool:
    """A failed blocking check fails its step too; that is a decision (rejection), not an error."""
    return event.step_failure_data.error.cls_name == "DagsterAssetCheckFailedError"


def _resources_failed(event) -> bool:
    """Resources (e.g. quality thresholds out of range) could not be built, so no step ran."""
    return event.event_type_value == "RESOURCE_INIT_FAILURE"


def _user_message(event) -> str:
    """The innermost error of a failed step or of the resources: the ValueError a loader raised, or the
    field a resource refused, not Dagster's wrapper."""
    error = event.step_failure_data.error if event.is_step_failure else event.event_specific_data.error
    while error.cause is not None:
        error = error.cause
    lines = [line.strip() for line in error.message.strip().splitlines()]
    if error.cls_name in ("DagsterExecutionInterruptedError", "KeyboardInterrupt"):
        return f"{event.step_key}: interrupted; nothing was published"
    if event.is_step_failure:
        # the first line names the error (pyarrow and others append a schema or details on later lines)
        return f"{event.step_key}: {lines[0]}"
    return "the run's resources could not be built: " + " ".join(lines[:3])
