"""Scale benchmark: the whole product on a 10,000-row and a 54,000-row table, the demo against CTGAN's fit,
synthlift's and CTGAN's fit at equal epochs on 54,000 mixed rows, and the memory of generating 1,000,000 rows.

    python -m bench.scale_benchmark [--ctgan-epochs 2] [--out bench/results]

Each case runs in its own subprocess so its peak resident memory (``ru_maxrss`` from ``os.wait4``) is its
own. The 10k and 54k tables are generated with a seed (``bench/scale_tables.py``: no real labelled table
of that size ships inside an installed package here). Writes ``scale.json`` and ``scale.md``.
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
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _product(work: Path, source: str, args: list[str]) -> dict:
    from pipelines.cli import build_parser, run_config_from_args
    from pipelines.runner import run_augmentation

    started = time.perf_counter()
    parsed = build_parser().parse_args(["run", source, "--out", str(work / "out"), *args])
    summary = run_augmentation(run_config_from_args(parsed), work / "out", parsed.name or Path(source).stem)
    return {"wall_seconds": round(time.perf_counter() - started, 1), "timings": summary["timings"],
            "decision": summary["decision"], "protocol": summary["protocol"], "command_args": [source, *args]}


def _table(work: Path, name: str) -> Path:
    from bench.scale_tables import credit_table, mixed_table

    path = work / f"{name}.parquet"
    (credit_table() if name == "credit_10k" else mixed_table()).to_parquet(path, index=False)
    return path


def _demo_rows():
    from assets.modalities.tabular import load, plan
    from pipelines.config import DatasetConfig, PlanConfig

    data = plan(load(DatasetConfig(source="breast_cancer"), "breast_cancer"), PlanConfig())
    return data.rows, data.label_column


def case(name: str, work: Path, ctgan_epochs: int) -> dict:
    if name == "demo":
        return _product(work, "breast_cancer", [])
    if name == "ctgan_demo":  # CTGAN's fit alone, 300 epochs, on the rows the demo's published GAN trains on
        from ctgan import CTGAN  # benchmark-only (Business Source License)

        rows, label = _demo_rows()
        started = time.perf_counter()
        CTGAN(epochs=300).fit(rows, discrete_columns=[label])
        return {"rows": len(rows), "epochs": 300, "fit_seconds": round(time.perf_counter() - started, 1)}
    if name in ("credit_10k", "mixed_54k"):
        label = "default" if name == "credit_10k" else "segment"
        return {"rows": 10_000 if name == "credit_10k" else 54_000,
                **_product(work, str(_table(work, name)), ["--label", label])}
    if name in ("synthlift_fit_54k", "ctgan_fit_54k"):  # equal epochs, no step cap, same rows
        from bench.scale_tables import mixed_table

        frame = mixed_table()
        # CTGAN refuses missing numbers: both fit the same rows, with each numeric gap filled by the median
        frame = frame.fillna(frame.median(numeric_only=True))
        discrete = ["region", "channel", "plan", "member", "segment"]
        started = time.perf_counter()
        if name == "ctgan_fit_54k":
            from ctgan import CTGAN

            CTGAN(epochs=ctgan_epochs).fit(frame, discrete_columns=discrete)
        else:
            from gan_models.tabular import TabularGAN, TabularGANConfig

            TabularGAN(TabularGANConfig(epochs=ctgan_epochs, max_steps=0)).fit(frame, "segment", discrete)
        seconds = time.perf_counter() - started
        return {"rows": len(frame), "epochs": ctgan_epochs, "fit_seconds": round(seconds, 1),
                "seconds_per_epoch": round(seconds / ctgan_epochs, 1)}
    if name == "sample_1m":
        from bench.scale_tables import mixed_table
        from gan_models.tabular import TabularGAN, TabularGANConfig

        frame = mixed_table()
        model = TabularGAN(TabularGANConfig(max_steps=200)).fit(frame, "segment")
        rss = {"after_fit_mib": _maxrss_mib()}
        rows = 0
        started = time.perf_counter()
        for chunk in model.sample({0: 200_000, 1: 200_000, 2: 200_000, 3: 200_000, 4: 200_000}):
            rows += len(chunk)
            if rows == 100_000:
                rss["after_100k_rows_mib"] = _maxrss_mib()
        rss["after_1m_rows_mib"] = _maxrss_mib()
        return {"rows_generated": rows, "sample_seconds": round(time.perf_counter() - started, 1), "peak_rss": rss}
    raise ValueError(name)


def _maxrss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


CASES = ("demo", "ctgan_demo", "credit_10k", "mixed_54k", "synthlift_fit_54k", "ctgan_fit_54k", "sample_1m")


def run_case(name: str, ctgan_epochs: int) -> dict:
    with tempfile.TemporaryDirectory() as work:
        result_file = Path(work) / "result.json"
        process = subprocess.Popen([sys.executable, "-m", "bench.scale_benchmark", "--case", name, "--work", work,
                                    "--ctgan-epochs", str(ctgan_epochs)], cwd=ROOT,
                                   stdout=subprocess.DEVNULL, stderr=open(Path(work) / "log", "w"))
        _, status, usage = os.wait4(process.pid, 0)
        if status != 0:
            return {"error": (Path(work) / "log").read_text()[-2000:]}
        result = json.loads(result_file.read_text())
        result["peak_rss_mib"] = round(usage.ru_maxrss / 1024, 1)
        return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--case")
    parser.add_argument("--work")
    parser.add_argument("--cases", nargs="*", default=list(CASES))
    parser.add_argument("--ctgan-epochs", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = parser.parse_args()
    if args.case:
        result = case(args.case, Path(args.work), args.ctgan_epochs)
        (Path(args.work) / "result.json").write_text(json.dumps(result))
        return
    record = {"command": "python -m bench.scale_benchmark " + " ".join(sys.argv[1:]),
              "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "nproc": os.cpu_count(), "free_g": _shell("free -g"), "uptime_start": _shell("uptime"), "cases": {}}
    for name in args.cases:
        print(f"case {name} ...", file=sys.stderr, flush=True)
        record["cases"][name] = run_case(name, args.ctgan_epochs)
        print(json.dumps(record["cases"][name]), file=sys.stderr, flush=True)
    record["uptime_end"] = _shell("uptime")
    out = Path(args.out)
    (out / "scale.json").write_text(json.dumps(record, indent=1))


def _shell(command: str) -> str:
    return subprocess.run(command, shell=True, capture_output=True, text=True).stdout.strip()


if __name__ == "__main__":
    main()
