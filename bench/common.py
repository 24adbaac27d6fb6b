"""What every benchmark records about its machine, and how it writes its section of BENCHMARKS.md."""

from __future__ import annotations

import os
import platform
import re
import time
from pathlib import Path
from typing import Any

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


def log(message: str) -> None:
    """Print a timestamped progress line at once (benchmarks run for minutes)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def load_average() -> str:
    lines = _read_lines("/proc/loadavg")
    return " ".join(lines[0].split()[:3]) if lines else "unknown"


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
