"""Fit speed of synthlift's tabular GAN against SDV's CTGAN at equal epochs, on the same train split.

Both fit with the same number of torch threads (default one: synthlift's product default), each fit
is repeated and timed by wall clock and by process CPU time. With one thread CPU time is the fairer
figure on a shared machine: contention inflates wall time but not the work done. With more threads,
wall time is what a user waits for.

    python -m bench.fit_speed [--datasets breast_cancer wine] [--epochs 300] [--repeats 2] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from bench import common
from bench.common import table_split
from gan_models.tabular import TabularGAN, TabularGANConfig
from quality.data.tables import load_table


def timed_fit(fit) -> dict[str, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fit()
    return {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}


def synthlift_fit(split, epochs: int):
    return lambda: TabularGAN(TabularGANConfig(epochs=epochs)).fit(split.train, split.label_column)


def ctgan_fit(split, epochs: int):
    from ctgan import CTGAN  # benchmark-only (Business Source License): never imported by the package

    return lambda: CTGAN(epochs=epochs).fit(split.train, discrete_columns=[split.label_column])


def measure(dataset: str, epochs: int, repeats: int) -> dict:
    split = table_split(load_table(dataset), seed=0)
    result = {"dataset": dataset, "train_rows": len(split.train), "epochs": epochs}
    for name, make in (("synthlift", synthlift_fit), ("ctgan", ctgan_fit)):
        runs = [timed_fit(make(split, epochs)) for _ in range(repeats)]
        result[name] = {"wall_min": round(min(r["wall"] for r in runs), 2),
                        "cpu_min": round(min(r["cpu"] for r in runs), 2)}
    result["ratio_cpu"] = round(result["ctgan"]["cpu_min"] / result["synthlift"]["cpu_min"], 1)
    result["ratio_wall"] = round(result["ctgan"]["wall_min"] / result["synthlift"]["wall_min"], 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--datasets", nargs="+", default=["breast_cancer", "wine"])
    parser.add_argument("--epochs", type=common.positive_int, default=300)
    parser.add_argument("--repeats", type=common.positive_int, default=2)
    parser.add_argument("--threads", type=common.positive_int, default=1)
    parser.add_argument("--out", default=None, help="default: bench/results/fit_speed_<threads>thread.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    clock = common.RunClock()
    results = [measure(dataset, args.epochs, args.repeats) for dataset in args.datasets]
    report = {"results": results, "torch_threads": args.threads,
              "run": clock.record("bench.fit_speed", None, common.machine_info(ctgan=common.installed_version("ctgan")))}
    out = Path(args.out or f"bench/results/fit_speed_{args.threads}thread.json")
    out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
