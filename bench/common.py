"""What every benchmark records about its machine, and how it writes its section of BENCHMARKS.md."""

from __future__ import annotations

from dataclasses import dataclass
import argparse
import os
import platform
import re
import shlex
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

FILE_HEADER = "# Benchmarks\n\nMeasured figures of synthlift; each section states how it was produced.\n"


def machine_info(**versions: str) -> dict[str, Any]:
    """CPU count and model, memory, GPU, torch threads and versions (``versions`` adds library versions)."""
    import torch

    cpu = next((line.split(":", 1)[1].strip() for line in _read_lines("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor() or "unknown")
    mem_kb = next((int(line.split()[1]) for line in _read_lines("/proc/meminfo") if line.startswith("MemTotal")), 0)
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu,
        "ram_gib": round(mem_kb / 2**20, 1),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU",
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        **versions,
    }


def installed_version(package: str) -> str:
    """The installed version of ``package``, or "not installed" (e.g. ctgan, a benchmark-only extra)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def log(message: str) -> None:
    """Print a timestamped progress line at once (benchmarks run for minutes)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def load_average() -> str:
    lines = _read_lines("/proc/loadavg")
    return " ".join(lines[0].split()[:3]) if lines else "unknown"


def positive_int(text: str) -> int:
    """argparse type for counts that must be at least 1 (epochs, steps, repeats)."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_report_arguments(parser: argparse.ArgumentParser, results_path: Path) -> None:
    """Options of every benchmark that writes a section of BENCHMARKS.md: where the section and the raw
    results go, a note for the section, and re-rendering the section from an earlier run's results."""
    parser.add_argument("--out", type=Path, default=Path("BENCHMARKS.md"))
    parser.add_argument("--results", type=Path, default=results_path)
    parser.add_argument("--note", default="", help="A sentence added to the section (e.g. why a run was shortened).")
    parser.add_argument("--from-json", type=Path, default=None,
                        help="Re-render the section from a results JSON written by an earlier run; run nothing.")


class RunClock:
    """Started when a benchmark starts; ``record`` then says when, where and how it ran."""

    def __init__(self) -> None:
        self.started = datetime.now(timezone.utc)
        self.load_start = load_average()
        self._clock = time.perf_counter()

    def record(
        self, module: str, argv: Sequence[str] | None, machine: dict[str, Any], **settings: Any
    ) -> dict[str, Any]:
        """``argv``: the benchmark's arguments (None: this process's command line)."""
        arguments = sys.argv[1:] if argv is None else argv
        return {
            "command": f"python -m {module} " + " ".join(shlex.quote(a) for a in arguments),
            "started": self.started.strftime("%Y-%m-%d %H:%M"),
            "finished": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M"),
            "total_minutes": (time.perf_counter() - self._clock) / 60,
            "load_start": self.load_start,
            "load_end": load_average(),
            "machine": machine,
            **settings,
        }


def json_default(value: Any) -> Any:
    """``json.dumps`` fallback for NumPy scalars and arrays (anything else becomes its ``str``)."""
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def replace_section(path: Path, heading: str, section: str) -> None:
    """Replace the section that starts with ``heading`` (up to the next ``## `` heading) or append it;
    every other byte of the file is kept."""
    text = path.read_text() if path.exists() else FILE_HEADER
    pattern = re.compile(rf"^{re.escape(heading)}[ \t]*\n.*?(?=^## |\Z)", re.S | re.M)
    body = section.rstrip("\n") + "\n"
    match = pattern.search(text)
    if match:
        following = "\n" if match.end() < len(text) else ""
        text = text[:match.start()] + body + following + text[match.end():]
    else:
        text = text + ("" if text.endswith("\n") else "\n") + "\n" + body
    path.write_text(text)


def _read_lines(path: str) -> list[str]:
    try:
        return Path(path).read_text().splitlines()
    except OSError:
        return []


@dataclass
class TableSplit:
    """The fixed train / validation / holdout split the GAN benchmarks compare generators on (the product itself
    plans its own evaluation: quality/data/plan.py)."""

    train: pd.DataFrame
    validation: pd.DataFrame
    holdout: pd.DataFrame
    label_column: str
    name: str

    def class_counts(self) -> dict:
        return self.train[self.label_column].value_counts().sort_index().to_dict()


def table_split(dataset, seed: int = 0) -> TableSplit:
    """Stratified 60/20/20, then every class but the majority cut to the source's scarce row count in train only."""
    from quality.data.splitting import cap_class_rows, stratified_split_indices

    frame = dataset.frame.reset_index(drop=True)
    labels = frame[dataset.label_column].to_numpy()
    indices = stratified_split_indices(labels, seed, where=dataset.source)
    train_rows = indices.train
    if dataset.scarce_train_rows:
        counts = frame.iloc[train_rows][dataset.label_column].value_counts()
        caps = {cls: dataset.scarce_train_rows for cls in counts.index if cls != counts.idxmax()}
        train_rows = cap_class_rows(train_rows, labels, caps, seed)
    part = lambda rows: frame.iloc[rows].reset_index(drop=True)  # noqa: E731
    return TableSplit(part(train_rows), part(indices.validation), part(indices.holdout), dataset.label_column,
                      dataset.name)
