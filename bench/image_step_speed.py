"""Training throughput of the image GAN on the CPU: real images per second seen by the discriminator.

Trains ``ImageGAN`` on BreastMNIST's train split (or the built-in digits) for a few steps after a short
warm-up, on ``--threads`` intra-op threads (default one), and prints one JSON line per
config. ``--set key=value`` overrides an ``ImageGANConfig`` field (repeatable); ``--profile`` prints the
top operators of ``torch.profiler`` over the timed steps.

    python -m bench.image_step_speed [--data PATH|digits] [--steps 60] [--threads 1] [--set diffaugment=color]
        [--profile] [--results bench/results/images_step_speed.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gan_models.image import ImageGAN, ImageGANConfig

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO_ROOT / ".." / "shared" / "data" / "breastmnist.npz"


def load_images(data: str) -> tuple[np.ndarray, np.ndarray]:
    if data == "digits":
        from quality.data.images import load_digits_builtin

        dataset = load_digits_builtin(size=28)
        return dataset.images, dataset.labels
    with np.load(data) as npz:
        return npz["train_images"], npz["train_labels"].reshape(-1).astype(np.int64)


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    return overrides


def measure(images: np.ndarray, labels: np.ndarray, steps: int, warmup: int, overrides: dict[str, Any],
            profile: bool = False) -> dict[str, Any]:
    config = ImageGANConfig(**{"device": "cpu", **overrides, "steps": warmup})
    model = ImageGAN(config).fit(images, labels)  # builds the networks and warms the allocator up
    config_timed = ImageGANConfig(**{"device": "cpu", **overrides, "steps": steps})
    model = ImageGAN(config_timed)
    if profile:
        from torch.profiler import ProfilerActivity
        from torch.profiler import profile as torch_profile

        with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
            model.fit(images, labels)
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))
    else:
        model.fit(images, labels)
    seconds = model.train_seconds
    return {
        "overrides": overrides,
        "steps": steps,
        "train_seconds": round(seconds, 3),
        "steps_per_second": round(steps / seconds, 2),
        "images_per_second": round(steps * config_timed.batch_size * config_timed.discriminator_steps / seconds, 1),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--set", action="append", default=[], dest="overrides")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--results", type=Path, default=None, help="append the JSON line to this file's list")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    images, labels = load_images(args.data)
    result = measure(images, labels, args.steps, args.warmup, parse_overrides(args.overrides), args.profile)
    result.update(data=Path(args.data).name, threads=args.threads, torch=torch.__version__,
                  python=platform.python_version(), load_average=list(np.round(__import__("os").getloadavg(), 2)),
                  date_utc=time.strftime("%Y-%m-%d %H:%M", time.gmtime()))
    report(result, args.results)


def report(result: dict[str, Any], results: Path | None) -> None:
    """Print ``result`` as one JSON line and append it to the list in ``results`` (when given)."""
    print(json.dumps(result))
    if results is not None:
        existing = json.loads(results.read_text()) if results.is_file() else []
        results.write_text(json.dumps(existing + [result], indent=2) + "\n")


if __name__ == "__main__":
    main()
