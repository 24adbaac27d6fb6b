"""Sample quality of one image GAN config on BreastMNIST, in the checks' feature space, plus its preview grid.

Trains ``ImageGAN`` (product defaults, ``--set key=value`` overrides any ``ImageGANConfig`` field) on the
official train split with one intra-op thread, generates the images that balance the classes (the
product's ``generate``), and reports the product's fidelity check (synthetic against real train images:
FID, C2ST AUC, precision/recall) and the same two figures against the validation split (78 images the
GAN never saw: the ones to choose a config by). Writes the per-class grid (real left, synthetic right)
as a PNG and appends one JSON record to ``--results``. ``--every N`` also measures the EMA generator every
N steps of the same run (one record each; with no learning-rate schedule, step k of a longer run is the
k-step run).

    python -m bench.image_quality [--data PATH] [--set steps=2000] [--set diffaugment=color,translation]
        [--every 1000] [--grid /tmp/grid.png] [--results bench/results/images_quality.json] [--label NAME]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch

from assets.modalities.image import feature_extractor, generate
from bench.image_benchmark import DEFAULT_DATA, load_split
from bench.image_step_speed import parse_overrides, report
from gan_models.image import ImageGAN, ImageGANConfig, sample_grid
from pipelines.config import SamplingConfig
from quality.checks.fidelity import c2st_auc, frechet_distance, image_fidelity_check
from quality.report.plots import image_png


def sample_quality(model: ImageGAN, split) -> dict:
    """The fidelity check's figures for the images ``generate`` gives, against train and against validation."""
    synthetic = generate(model, split, SamplingConfig())
    extractor = feature_extractor(split)
    check = image_fidelity_check(extractor, split.train_images, split.train_labels, synthetic.images,
                                 synthetic.labels, validation_images=split.validation_images,
                                 validation_labels=split.validation_labels)
    fake = extractor.embed(synthetic.images)
    validation = extractor.embed(split.validation_images[np.isin(split.validation_labels, synthetic.labels)])
    return {
        "fid_vs_train": round(float(check.metrics["fid"]), 3),
        "c2st_auc_vs_train": round(float(check.metrics["c2st_auc"]), 4),
        "c2st_auc_train_vs_validation": check.metrics["c2st_train_vs_validation"],
        "precision": round(float(check.metrics["precision"]), 3),
        "recall": round(float(check.metrics["recall"]), 3),
        "fid_vs_validation": round(float(frechet_distance(validation, fake)), 3),
        "c2st_auc_vs_validation": round(float(c2st_auc(validation, fake, 0)), 4),
        "validation_images_compared": int(len(validation)),
        "synthetic_images": int(len(synthetic.labels)),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--set", action="append", default=[], dest="overrides")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--every", type=int, default=0, help="also measure every N steps (a multiple of log_every)")
    parser.add_argument("--grid", type=Path, default=None)
    parser.add_argument("--label", default="")
    parser.add_argument("--results", type=Path, default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    overrides = parse_overrides(args.overrides)
    split = load_split(args.data)
    config = ImageGANConfig(**{"device": "cpu", **overrides})
    if args.every and args.every % config.log_every:
        parser.error(f"--every must be a multiple of log_every ({config.log_every})")
    feature_extractor(split)  # trained before the GAN, so measuring mid-run costs only the samples
    model = ImageGAN(config)
    started = time.perf_counter()

    def record(label: str) -> dict:
        return {"label": label, "overrides": overrides, "steps_done": model.steps_done,
                "seconds": round(time.perf_counter() - started, 1), **sample_quality(model, split),
                "threads": args.threads, "load_average": [round(x, 2) for x in os.getloadavg()],
                "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime())}

    def measure_midway(step: int, total: int, losses: dict) -> None:
        if args.every and step % args.every == 0 and step < total:
            rng_state = torch.get_rng_state()  # sampling and curation must not move the run's own draws
            report(record(f"{args.label}@{step}"), args.results)
            torch.set_rng_state(rng_state)

    model.fit(split.train_images, split.train_labels, n_classes=split.n_classes, progress=measure_midway)
    images_per_second = model.steps_done * config.batch_size / model.train_seconds
    result = {**record(args.label), "fit_seconds": round(model.train_seconds, 1),
              "images_per_second": round(images_per_second, 1)}
    if args.grid is not None:
        grid = sample_grid(split.train_images, split.train_labels, model, per_class=8)
        args.grid.write_bytes(image_png(grid))
    report(result, args.results)


if __name__ == "__main__":
    main()
