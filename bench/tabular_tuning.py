"""Choose tabular GAN settings on the VALIDATION split only (the holdout split is never read here).

For each named config, on breast_cancer and wine, each split seed and each GAN seed: fit synthlift's
TabularGAN, balance the classes, and score real_only, real+synthetic and real+smote with the product's
downstream protocol on the validation rows. A cell (dataset x split seed x classifier) compares the
synthetic rows' balanced-accuracy lift with SMOTE's, averaged over the GAN seeds. The benchmark's
holdout figures (``bench.tabular_benchmark``) are then measured once, for the chosen defaults.

    python -m bench.tabular_tuning --config default='{}' \\
        --config no_classifier='{"classifier_weight": 0}' [--gan-seeds 0 1 2 3] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from bench import common
from bench.common import table_split
from gan_models.sampling import samples_to_generate
from gan_models.tabular import TabularGAN, TabularGANConfig
from quality.data.tables import load_table
from quality.lift.tables import REAL_ONLY, REAL_PLUS_SMOTE, REAL_PLUS_SYNTHETIC, tabular_lift_report

DATASETS = ("breast_cancer", "wine")
CLASSIFIER_SEEDS = (0, 1, 2)


def validation_lifts(split, config: dict, gan_seed: int) -> list[dict]:
    """One GAN fit on ``split.train``; per classifier, the validation BA lifts of synthetic rows and SMOTE."""
    label = split.label_column
    needed = {cls: n for cls, n in samples_to_generate(split.class_counts(), "auto").items() if n > 0}
    started = time.process_time()
    model = TabularGAN(TabularGANConfig(seed=gan_seed, **config)).fit(split.train, label)
    fit_seconds = time.process_time() - started
    synthetic = pd.concat(list(model.sample(needed, seed=gan_seed)), ignore_index=True)
    report = tabular_lift_report(split.train, synthetic, split.validation, label, seeds=CLASSIFIER_SEEDS, n_boot=1)
    scores = report.per_classifier
    return [
        {
            "classifier": classifier,
            "fit_cpu_s": fit_seconds,
            "synthetic_lift": scores[REAL_PLUS_SYNTHETIC][classifier]["balanced_accuracy"] - scores[REAL_ONLY][classifier]["balanced_accuracy"],
            "smote_lift": scores[REAL_PLUS_SMOTE][classifier]["balanced_accuracy"] - scores[REAL_ONLY][classifier]["balanced_accuracy"],
        }
        for classifier in report.classifiers
    ]


def evaluate(name: str, config: dict, split_seeds: list[int], gan_seeds: list[int]) -> dict:
    rows = []
    for dataset in DATASETS:
        data = load_table(dataset)
        for split_seed in split_seeds:
            split = table_split(data, seed=split_seed)
            for gan_seed in gan_seeds:
                common.log(f"{name}: {dataset} split {split_seed} GAN seed {gan_seed}")
                for row in validation_lifts(split, config, 100 * gan_seed + split_seed):
                    rows.append({"dataset": dataset, "split": split_seed, "gan_seed": gan_seed, **row})
    frame = pd.DataFrame(rows)
    frame["difference"] = frame.synthetic_lift - frame.smote_lift
    cells = frame.groupby(["dataset", "split", "classifier"])["difference"].mean()
    return {
        "name": name,
        "config": config,
        "mean_lift_minus_smote": float(frame.difference.mean()),
        "mean_by_classifier": {k: float(v) for k, v in frame.groupby("classifier").difference.mean().items()},
        "cells_at_least_smote": int((cells >= 0).sum()),
        "cells": int(len(cells)),
        "fit_cpu_s": {k: float(v) for k, v in frame.groupby("dataset").fit_cpu_s.mean().items()},
        "runs": rows,
    }


def markdown_row(result: dict) -> str:
    by_classifier = result["mean_by_classifier"]
    fit = result["fit_cpu_s"]
    return (
        f"| {result['name']} | `{json.dumps(result['config'])}` | {result['mean_lift_minus_smote']:+.4f} | "
        f"{by_classifier.get('logistic_regression', np.nan):+.4f} | {by_classifier.get('random_forest', np.nan):+.4f} | "
        f"{result['cells_at_least_smote']} of {result['cells']} | {fit.get('breast_cancer', np.nan):.2f} / {fit.get('wine', np.nan):.2f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", action="append", required=True, metavar="NAME=JSON",
                        help="a named TabularGANConfig override, e.g. small='{\"generator_dims\": [64, 64]}'")
    parser.add_argument("--split-seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--gan-seeds", nargs="+", type=int, default=[0, 1, 2, 3])
    parser.add_argument("--out", default="bench/results/tabular_tuning.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    clock = common.RunClock()
    results = []
    for spec in args.config:
        name, _, config = spec.partition("=")
        results.append(evaluate(name, json.loads(config or "{}"), args.split_seeds, args.gan_seeds))
    run = clock.record("bench.tabular_tuning", None, common.machine_info())
    Path(args.out).write_text(json.dumps({"run": run, "results": results}, indent=1))
    print("| name | config | mean (synthetic − SMOTE) lift | LR | RF | cells ≥ SMOTE | fit CPU s bc / wine |")
    print("|---|---|---|---|---|---|---|")
    for result in results:
        print(markdown_row(result))


if __name__ == "__main__":
    main()
