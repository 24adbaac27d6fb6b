"""What curation and the GAN's regulariser buy on BreastMNIST: one GAN per seed, then the downstream lift.

For each GAN seed, trains the product's image GAN (``--set key=value`` overrides any ``GeneratorConfig`` field,
e.g. ``regulariser=lecam``) on the official train split, generates the images that balance the classes three
ways (every sample; curated from ``--curation`` candidates per image, the product's ``quality.curation``; the
same but the confident candidates taken in generation order instead of by coverage), and for each reports the
product's fidelity check (C2ST AUC, FID) and the balanced accuracy of real only, real + random oversampling
(the classic baseline that wins BreastMNIST's validation split) and real + synthetic on the validation and the
official test split, with the lift of real + synthetic over oversampling (mean, lower 95% bound). The CNNs of
the lift are the product's (5 seeds, two processes). ``--ways`` narrows the three ways.

    python -m bench.image_selection --seeds 0 1 [--set regulariser=lecam] [--ways all] --out FILE.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from assets.modalities import image as modality
from bench.image_benchmark import DEFAULT_DATA
from bench.image_step_speed import parse_overrides
from pipelines.config import DatasetConfig, GeneratorConfig, PlanConfig, QualityThresholds, SamplingConfig
from quality.curation import images as curation
from quality.lift.images import image_lift_reports

WAYS = ("all", "curated", "confident_in_order")
METHODS = ("real_only", "real+oversampling", "real+synthetic")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--set", action="append", default=[], dest="overrides")
    parser.add_argument("--curation", type=int, default=4)
    parser.add_argument("--ways", nargs="+", choices=WAYS, default=list(WAYS))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    data = modality.plan(modality.load(DatasetConfig(source=str(args.data)), "breastmnist"), PlanConfig())
    records = []
    for seed in args.seeds:
        started = time.perf_counter()
        config = GeneratorConfig(**{**parse_overrides(args.overrides), "seed": seed})
        gan = modality.train_part(data, config, modality.ALL_CLASSES, lambda *_, **__: None, None)
        fit_seconds = round(time.perf_counter() - started, 1)
        for way in args.ways:
            record = {"seed": seed, "overrides": args.overrides, "way": way, "fit_seconds": fit_seconds,
                      **measure(data, generated(gan, data, seed, way, args.curation))}
            records.append(record)
            print(json.dumps(record), flush=True)
    args.out.write_text(json.dumps(records, indent=1))


def generated(gan, data, seed: int, way: str, factor: int):
    if way == "all":
        return modality.generate(gan, data, SamplingConfig(seed=seed))
    if way == "curated":
        return modality.generate(gan, data, SamplingConfig(seed=seed, image_curation=factor))
    in_order = curation._farthest_points
    curation._farthest_points = lambda candidates, anchors, n: np.arange(min(n, len(candidates)))
    try:
        return modality.generate(gan, data, SamplingConfig(seed=seed, image_curation=factor))
    finally:
        curation._farthest_points = in_order


def measure(data, synthetic) -> dict:
    fidelity = modality.run_check("fidelity", data, synthetic, QualityThresholds()).metrics
    reports = image_lift_reports(
        data.train_images, data.train_labels, synthetic.images, synthetic.labels,
        {split: (getattr(data, f"{split}_images"), getattr(data, f"{split}_labels")) for split in ("validation", "holdout")},
        methods=METHODS, classic_reference="real+oversampling", n_jobs=2)
    result = {"c2st_auc": fidelity.get("c2st_auc"), "fid": fidelity.get("fid"), "curation": synthetic.curation}
    for split, (report, _) in reports.items():
        result[split] = {method: round(scores["balanced_accuracy"], 4) for method, scores in report.scores.items()}
        lift = report.lift("real+synthetic", "real+oversampling", "balanced_accuracy")
        result[f"{split}_lift_over_oversampling"] = [round(lift.mean, 4), round(lift.ci_low, 4)]
    return result


if __name__ == "__main__":
    main()
