"""Operations figures: a scheduled run over a 3-dataset catalog with 1 vs 2 worker processes, the
overhead of checkpointing and resuming, and the peak memory of a run on the embedded default.

    python -m bench.ops_benchmark [--workers 1 2] [--out bench/results/ops.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from dagster import DagsterInstance, build_schedule_context, execute_job, reconstructable

from bench import common
from bench.common import table_split

CATALOG = Path(__file__).with_name("ops_catalog.yaml")


def augmentation_job():
    from pipelines.definitions import defs

    return defs.resolve_job_def("augmentation_job")


def _execute(request: dict) -> float:
    """One scheduled run, in this worker process, against the shared instance ($DAGSTER_HOME)."""
    started = time.perf_counter()
    with DagsterInstance.get() as instance:
        with execute_job(reconstructable(augmentation_job), instance, run_config=request["run_config"],
                         tags=request["tags"]) as result:
            if not result.success:
                raise RuntimeError(f"run for {request['tags']['dagster/partition']} failed")
    return time.perf_counter() - started


def scheduled_runs(workers: int, home: Path) -> dict:
    """Evaluate the schedule over the catalog, then run its requests on ``workers`` processes."""
    from pipelines.automation import augmentation_schedule
    from pipelines.resources import DatasetCatalog

    os.environ.update(DAGSTER_HOME=str(home), SYNTHLIFT_HOME=str(home / "synthlift"), SYNTHLIFT_CATALOG=str(CATALOG))
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with DagsterInstance.get() as instance:
        context = build_schedule_context(instance=instance, resources={"catalog": DatasetCatalog(path=str(CATALOG))})
        requests = [{"run_config": {**r.run_config, "execution": {"config": {"in_process": {}}}},
                     "tags": {**r.tags, "dagster/partition": r.partition_key}} for r in augmentation_schedule(context)]
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        per_run = list(pool.map(_execute, requests))
    return {"workers": workers, "runs": len(requests), "wall_seconds": round(time.perf_counter() - started, 1),
            "run_seconds": [round(s, 1) for s in per_run]}


def resume_overhead(epochs: int = 300, checkpoint_every: int = 20) -> dict:
    """Training time of the embedded default: plain, with checkpoints, and killed halfway then resumed."""
    import torch

    from gan_models.tabular import TabularGAN, TabularGANConfig
    from quality.data.tables import load_table

    torch.set_num_threads(1)
    split = table_split(load_table("breast_cancer"))

    def fit(every: int, directory=None, stop_at=None) -> float:
        def progress(step, total, losses):
            if stop_at is not None and step >= stop_at:
                raise KeyboardInterrupt

        started = time.perf_counter()
        try:
            TabularGAN(TabularGANConfig(epochs=epochs, checkpoint_every=every)).fit(
                split.train, split.label_column, progress=progress, checkpoint_dir=directory)
        except KeyboardInterrupt:
            pass
        return time.perf_counter() - started

    plain = fit(0)
    with tempfile.TemporaryDirectory() as directory:
        checkpointed = fit(checkpoint_every, Path(directory))
    with tempfile.TemporaryDirectory() as directory:
        first = fit(checkpoint_every, Path(directory), stop_at=epochs // 2)
        second = fit(checkpoint_every, Path(directory))
    return {"epochs": epochs, "checkpoint_every": checkpoint_every, "plain_seconds": round(plain, 2),
            "with_checkpoints_seconds": round(checkpointed, 2),
            "killed_halfway_plus_resume_seconds": round(first + second, 2),
            "resume_overhead_seconds": round(first + second - checkpointed, 2)}


def peak_memory_of_default_run(home: Path) -> dict:
    """Maximum resident set size of `synthlift run breast_cancer` (in-process executor, one process)."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pipelines.cli", "run", "breast_cancer", "--out", str(home / "default")],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"peak_rss_mib": round(peak_kib / 1024, 1), "wall_seconds": round(time.perf_counter() - started, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=common.positive_int, nargs="+", default=[1, 2])
    parser.add_argument("--out", default="bench/results/ops.json")
    args = parser.parse_args()
    results = {"loadavg_start": common.load_average().split()}
    results["peak_memory"] = peak_memory_of_default_run(Path(tempfile.mkdtemp()))
    results["resume"] = resume_overhead()
    results["scheduled"] = [scheduled_runs(n, Path(tempfile.mkdtemp())) for n in args.workers]
    results["loadavg_end"] = common.load_average().split()
    Path(args.out).write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
