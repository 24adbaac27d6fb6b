"""The local jobs' executor: Dagster's default (a process per step, or in process by config) whose step processes
start from a fork server that has already imported the pipeline.

A spawned step process imports torch, Dagster and scikit-learn afresh, about 10 s on 2 cores before its first line
of work; forked from a server that holds those imports, it starts in about a second. The server only imports: it
trains nothing, and the few threads its imports start (BLAS and allocator pools) sit idle while it forks, so no
child inherits a held lock. A run config that names a ``start_method`` keeps it, and platforms without
``forkserver`` (Windows) keep Dagster's ``spawn``.
"""

from __future__ import annotations

import multiprocessing
from typing import Any, Mapping

from dagster import (
    Executor, InitExecutorContext, executor, multi_or_in_process_executor,
    multiple_process_executor_requirements,
)

PRELOADED_MODULES = ["pipelines.definitions"]


def with_forkserver_default(config: Mapping[str, Any]) -> Mapping[str, Any]:
    """``config`` of the default executor, with a preloading fork server as the multiprocess start method unless
    the config chose one or the platform has none."""
    multiprocess = config.get("multiprocess")
    if multiprocess is None or multiprocess.get("start_method"):
        return config
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return config
    start_method = {"forkserver": {"preload_modules": PRELOADED_MODULES}}
    return {**config, "multiprocess": {**multiprocess, "start_method": start_method}}


def _requirements(config: Mapping[str, Any]) -> list:
    return multiple_process_executor_requirements() if "multiprocess" in config else []


@executor(name="multi_or_in_process_executor", config_schema=multi_or_in_process_executor.config_schema,
          requirements=_requirements)
def step_executor(context: InitExecutorContext) -> Executor:
    """Dagster's ``multi_or_in_process_executor``, its step processes forked from a preloading server."""
    config = with_forkserver_default(context.executor_config)
    return multi_or_in_process_executor.executor_creation_fn(InitExecutorContext(
        job=context.job, executor_def=context.executor_def, executor_config=config, instance=context.instance))
