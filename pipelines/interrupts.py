"""Interrupts (Ctrl-C, SIGTERM) of runs started by `synthlift run`: they stop the run, never a retry.

Dagster turns an interrupt inside a step with a retry policy into a retry, in the step's body and equally while
its inputs are loaded or its outputs stored; and after one step fails, the in-process executor goes on with the
steps that do not depend on it (the other training parts of a per-class run). So an interactive interrupt is
raised as a ``Failure`` without retries, and the run is remembered so that its later training parts stop too.
"""

from __future__ import annotations

from typing import Mapping

from dagster import DagsterExecutionInterruptedError, Failure

from pipelines.config import INTERACTIVE_RUN_TAG

INTERRUPTS = (KeyboardInterrupt, DagsterExecutionInterruptedError)
_interrupted_runs: set[str] = set()


def is_interactive(run_tags: Mapping[str, str]) -> bool:
    return run_tags.get(INTERACTIVE_RUN_TAG) == "true"


def stop_interactive_run(run_id: str, run_tags: Mapping[str, str], err: BaseException) -> None:
    """Raise ``Failure`` (no retries) for an interrupt of an interactive run; return for any other run."""
    if is_interactive(run_tags):
        _interrupted_runs.add(run_id)
        raise Failure(description="interrupted", allow_retries=False) from err


def refuse_if_interrupted(run_id: str) -> None:
    """A step of an interactive run that was interrupted earlier does not start."""
    if run_id in _interrupted_runs:
        raise Failure(description="interrupted (an earlier step of this run was)", allow_retries=False)
