"""Tabular benchmark: synthlift's TabularGAN against SMOTE, random oversampling and SDV's CTGAN.

For every dataset and split seed (a different scarce training set each), five methods are scored on
the same HOLDOUT rows with the product's downstream protocol (quality/tabular_lift.py): real_only,
real+random_oversampling, real+smote, real+synthlift and real+ctgan. All five go into one paired
bootstrap report, so every lift is measured on the same resampled rows. Separately, the product's
checks and validation-split gate are run on synthlift's samples to learn whether the product would
have published them, and that is compared with the holdout lift.

SDV's ``ctgan`` is Business Source Licensed: it is imported here only, never by the package.

    python -m bench.tabular_benchmark [--datasets breast_cancer wine] [--split-seeds 0 1 2]
        [--seeds 0 1 2 3 4] [--epochs 300] [--gan-seed-offset 0] [--skip-ctgan] [--out BENCHMARKS.md]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np
import pandas as pd

from gan_models.sampling import samples_to_generate
from gan_models.tabular import TabularGAN, TabularGANConfig
from quality.checks import diversity, fidelity, privacy, validity
from bench import common
from bench.common import TableSplit, table_split
from quality.publish.decision import decide
from quality.lift.statistics import RunPrediction, build_lift_report
from quality.lift.report import LiftReport
from quality.data.tables import load_table
# The protocol's own feature cast, probability alignment and label order too, so the benchmark's runs
# are exactly the product's runs (same inputs to the same pipelines).
from quality.lift.tables import (
    CLASSIFIERS,
    aligned_proba,
    downstream_pipeline,
    minority_class,
    model_frame,
    sorted_labels,
    tabular_lift_report,
)

REAL_ONLY = "real_only"
RANDOM_OVERSAMPLING = "real+random_oversampling"
SMOTE = "real+smote"
SYNTHLIFT = "real+synthlift"
CTGAN_METHOD = "real+ctgan"
METHODS = (REAL_ONLY, RANDOM_OVERSAMPLING, SMOTE, SYNTHLIFT, CTGAN_METHOD)
# The product's checks and which of them block publication (assets/asset_checks.py; not imported, to keep
# Dagster out of the benchmark process).
BLOCKING_CHECKS = ("validity", "diversity", "privacy")
REPORTED_CHECKS = ("fidelity",)
MIN_LIFT = 0.0
N_BOOT = 1000
SECTION_HEADING = "## Tabular"
RESULTS_PATH = Path("bench/results/tabular.json")

Generators = dict[str, Callable[[pd.DataFrame, str, dict, int, int], tuple[pd.DataFrame, float]]]


# ----------------------------------------------------------------------------------- generators
def synthlift_samples(train: pd.DataFrame, label: str, needed: dict, epochs: int, seed: int) -> tuple[pd.DataFrame, float]:
    """Fit synthlift's TabularGAN at the product's default config; return (synthetic rows, fit seconds)."""
    model = TabularGAN(TabularGANConfig(epochs=epochs, seed=seed))
    started = time.perf_counter()
    model.fit(train, label)
    seconds = time.perf_counter() - started
    wanted = {cls: n for cls, n in needed.items() if n > 0}
    chunks = list(model.sample(wanted, seed=seed)) if wanted else []
    return _concat_like(chunks, train), seconds


def ctgan_samples(train: pd.DataFrame, label: str, needed: dict, epochs: int, seed: int) -> tuple[pd.DataFrame, float]:
    """Fit SDV's CTGAN (its defaults, ``epochs`` as given) and sample each class conditionally.

    The label of each row is CTGAN's own output (conditioning raises, but does not force, the
    requested class); how often it matches the request is recorded by :func:`label_match_rate`.
    """
    from ctgan import CTGAN

    model = CTGAN(epochs=epochs)
    model.set_random_state(seed)
    started = time.perf_counter()
    model.fit(train, discrete_columns=[label])
    seconds = time.perf_counter() - started
    frames = [
        model.sample(n, condition_column=label, condition_value=cls).assign(_requested=cls)
        for cls, n in needed.items() if n > 0
    ]
    return _concat_like(frames, train, keep=["_requested"]), seconds


GENERATORS: Generators = {SYNTHLIFT: synthlift_samples, CTGAN_METHOD: ctgan_samples}


def _concat_like(frames: list[pd.DataFrame], train: pd.DataFrame, keep: Sequence[str] = ()) -> pd.DataFrame:
    if not frames:
        return train.iloc[:0].copy()
    rows = pd.concat(frames, ignore_index=True)
    return rows[list(train.columns) + list(keep)].astype(train.dtypes.to_dict())


def label_match_rate(samples: pd.DataFrame, label: str) -> Optional[float]:
    """Fraction of conditionally sampled rows whose label is the class that was asked for."""
    if "_requested" not in samples or samples.empty:
        return None
    return float((samples[label].astype(str) == samples["_requested"].astype(str)).mean())


# ------------------------------------------------------------------------------------ downstream
def holdout_runs(split: TableSplit, synthetic: dict[str, pd.DataFrame], seeds: Sequence[int]) -> list[RunPrediction]:
    """Every classifier x seed x method trained with the product's pipeline and scored on the holdout rows."""
    train, label, holdout = split.train, split.label_column, split.holdout
    classes = sorted_labels(train[label].unique().tolist())
    training_rows = {REAL_ONLY: (train, None), RANDOM_OVERSAMPLING: (train, "random_oversampling"), SMOTE: (train, "smote")}
    for method, rows in synthetic.items():
        training_rows[method] = (pd.concat([train, rows[train.columns]], ignore_index=True), None)
    features = model_frame(holdout, train, label)
    runs = []
    for seed in seeds:
        for classifier in CLASSIFIERS:
            for method, (rows, resampler) in training_rows.items():
                pipeline = downstream_pipeline(train, label, classifier, seed, resampler)
                pipeline.fit(model_frame(rows, train, label), rows[label].to_numpy())
                proba = aligned_proba(pipeline, features, classes)
                predicted = np.asarray(classes, dtype=object)[proba.argmax(axis=1)]
                runs.append(RunPrediction(method, classifier, int(seed), y_pred=predicted, y_proba=proba))
    return runs


def holdout_reports(split: TableSplit, runs: list[RunPrediction]) -> dict[str, LiftReport]:
    """One report averaged over classifiers ("mean") and one per classifier, all with every method
    and the same bootstrap rows (same seed, same row count), so lifts are paired across methods."""
    label = split.label_column
    classes = sorted_labels(split.train[label].unique().tolist())
    groups = {"mean": runs, **{name: [r for r in runs if r.classifier == name] for name in CLASSIFIERS}}
    return {
        group: build_lift_report(
            y_true=split.holdout[label].to_numpy(), runs=group_runs, classes=classes,
            minority_class=minority_class(split.train, label), references=[REAL_ONLY, SMOTE],
            evaluated_on="holdout", n_boot=N_BOOT,
        )
        for group, group_runs in groups.items()
    }


# ------------------------------------------------------------------------------------------ gate
def product_gate(split: TableSplit, synthetic: pd.DataFrame, seeds: Sequence[int]) -> dict[str, Any]:
    """The product's checks (default thresholds) and validation-split lift gate on synthlift's rows."""
    train, label = split.train, split.label_column
    checks = [
        validity.validity_check(train, synthetic, label),
        fidelity.fidelity_check(train, synthetic, label),
        diversity.diversity_check(train, synthetic, label),
        privacy.privacy_check(train, split.validation, synthetic, label),
    ]
    report = tabular_lift_report(train, synthetic, split.validation, label, seeds=tuple(seeds),
                                 evaluated_on="validation", n_boot=N_BOOT)
    decision = decide(checks, report, min_lift=MIN_LIFT, expected_checks=(*BLOCKING_CHECKS, *REPORTED_CHECKS))
    validation_lift = report.lift("real+synthetic", REAL_ONLY, "balanced_accuracy")
    return {
        "published": decision.published,
        "reasons": decision.reasons,
        "checks": {c.name: {"passed": c.passed, "blocking": c.blocking, "details": c.details} for c in checks},
        "validation_ba_lift": validation_lift.to_dict(),
    }


# ----------------------------------------------------------------------------------------- cells
def run_split(dataset_name: str, split_seed: int, seeds: Sequence[int], epochs: int, skip_ctgan: bool, gan_seed: int,
              log: Callable[[str], None]) -> dict[str, Any]:
    """Everything measured on one (dataset, split seed): scores, lifts, fit seconds and the gate."""
    split = table_split(load_table(dataset_name), seed=split_seed)
    label = split.label_column
    needed = samples_to_generate(split.class_counts(), "auto")
    synthetic, fit_seconds, match_rates = {}, {}, {}
    for method, generate in GENERATORS.items():
        if skip_ctgan and method == CTGAN_METHOD:
            continue
        log(f"{dataset_name} split {split_seed}: fitting {method} ({epochs} epochs)")
        rows, seconds = generate(split.train, label, needed, epochs, gan_seed)
        synthetic[method], fit_seconds[method] = rows, seconds
        match_rates[method] = label_match_rate(rows, label)
        log(f"  fit {seconds:.1f} s, {len(rows)} rows")
    log(f"{dataset_name} split {split_seed}: downstream runs on the holdout split")
    reports = holdout_reports(split, holdout_runs(split, synthetic, seeds))
    log(f"{dataset_name} split {split_seed}: product checks and validation gate on synthlift's rows")
    gate = product_gate(split, synthetic[SYNTHLIFT][split.train.columns], seeds)
    holdout_lift = reports["mean"].lift(SYNTHLIFT, REAL_ONLY, "balanced_accuracy")
    gate["holdout_ba_lift"] = holdout_lift.to_dict()
    return {
        "dataset": dataset_name,
        "split_seed": split_seed,
        "label_column": label,
        "train_class_counts": {str(c): n for c, n in split.class_counts().items()},
        "validation_rows": len(split.validation),
        "holdout_rows": len(split.holdout),
        "minority_class": str(minority_class(split.train, label)),
        "synthetic_per_class": {str(c): n for c, n in needed.items()},
        "fit_seconds": fit_seconds,
        "conditional_label_match_rate": match_rates,
        "holdout": {group: report.to_dict() for group, report in reports.items()},
        "gate": gate,
    }


def cell_comparisons(results: list[dict]) -> list[dict[str, Any]]:
    """Per (dataset, split seed, classifier): synthlift's and SMOTE's balanced-accuracy lifts over real_only."""
    cells = []
    for result in results:
        for classifier in CLASSIFIERS:
            report = LiftReport.from_dict(result["holdout"][classifier])
            ours = report.lift(SYNTHLIFT, REAL_ONLY, "balanced_accuracy").mean
            smote = report.lift(SMOTE, REAL_ONLY, "balanced_accuracy").mean
            cells.append({"dataset": result["dataset"], "split_seed": result["split_seed"], "classifier": classifier,
                          "synthlift_lift": ours, "smote_lift": smote, "synthlift_at_least_smote": ours >= smote})
    return cells


# --------------------------------------------------------------------------------------- machine
def machine_info() -> dict[str, Any]:
    import sklearn

    # ctgan may be absent: --skip-ctgan runs still work
    return common.machine_info(ctgan=common.installed_version("ctgan"), sklearn=sklearn.__version__)


def _lift_text(report: LiftReport, method: str) -> str:
    if method == REAL_ONLY:
        return "—"
    lift = report.lift(method, REAL_ONLY, "balanced_accuracy")
    return f"{lift.mean:+.3f} [{lift.ci_low:+.3f}, {lift.ci_high:+.3f}]"


def dataset_table(results: list[dict]) -> list[str]:
    """Rows: split seed x method; columns: averaged and per-classifier scores and lifts, fit seconds."""
    head = ("| split | method | BA (mean) | minority recall (mean) | BA lift vs real-only [95% CI] (mean) "
            "| BA LR / RF | BA lift LR [CI] | BA lift RF [CI] | fit s |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for result in results:
        mean = LiftReport.from_dict(result["holdout"]["mean"])
        lr = LiftReport.from_dict(result["holdout"]["logistic_regression"])
        rf = LiftReport.from_dict(result["holdout"]["random_forest"])
        for method in [m for m in METHODS if m in mean.scores]:
            scores = mean.scores[method]
            seconds = result["fit_seconds"].get(method)
            lines.append(
                f"| {result['split_seed']} | {method} | {scores['balanced_accuracy']:.3f} "
                f"| {scores['minority_recall']:.3f} | {_lift_text(mean, method)} "
                f"| {lr.scores[method]['balanced_accuracy']:.3f} / {rf.scores[method]['balanced_accuracy']:.3f} "
                f"| {_lift_text(lr, method)} | {_lift_text(rf, method)} "
                f"| {'' if seconds is None else f'{seconds:.1f}'} |"
            )
    return lines


def speed_table(results: list[dict]) -> list[str]:
    lines = ["| dataset | split | synthlift fit s | CTGAN fit s | CTGAN / synthlift | CTGAN rows with the requested label |",
             "|---|---|---|---|---|---|"]
    for result in results:
        ours, theirs = result["fit_seconds"].get(SYNTHLIFT), result["fit_seconds"].get(CTGAN_METHOD)
        ratio = f"{theirs / ours:.1f}×" if ours and theirs else "n/a"
        theirs_text = f"{theirs:.1f}" if theirs else "skipped"
        match = result["conditional_label_match_rate"].get(CTGAN_METHOD)
        match_text = "n/a" if match is None else f"{match:.0%}"
        lines.append(f"| {result['dataset']} | {result['split_seed']} | {ours:.1f} | {theirs_text} | {ratio} | {match_text} |")
    return lines


def fit_time_spread(results: list[dict]) -> str:
    """How much the same fit (same dataset, same train size) varied across split seeds: a noise gauge."""
    parts = []
    for dataset in dict.fromkeys(r["dataset"] for r in results):
        for method in GENERATORS:
            seconds = [r["fit_seconds"][method] for r in results if r["dataset"] == dataset and method in r["fit_seconds"]]
            if len(seconds) > 1:
                parts.append(f"{method} on {dataset} {min(seconds):.1f}–{max(seconds):.1f} s")
    if not parts:
        return ""
    return ("Spread of fit seconds for the same dataset across split seeds (same row counts, same step counts): "
            + "; ".join(parts) + ". Where this spread is wide, the ratios reflect the load of the shared machine "
            "as much as the code.")


def gate_table(results: list[dict]) -> list[str]:
    lines = ["| dataset | split | checks (validity / diversity / privacy; fidelity reported) "
             "| validation BA lift [CI] | published? | holdout BA lift [CI] |", "|---|---|---|---|---|---|"]
    for result in results:
        gate = result["gate"]
        checks = " / ".join("pass" if gate["checks"][n]["passed"] else "FAIL" for n in (*BLOCKING_CHECKS, *REPORTED_CHECKS))
        val, hold = gate["validation_ba_lift"], gate["holdout_ba_lift"]
        lines.append(
            f"| {result['dataset']} | {result['split_seed']} | {checks} "
            f"| {val['mean']:+.3f} [{val['ci_low']:+.3f}, {val['ci_high']:+.3f}] "
            f"| {'yes' if gate['published'] else 'no'} "
            f"| {hold['mean']:+.3f} [{hold['ci_low']:+.3f}, {hold['ci_high']:+.3f}] |"
        )
    return lines


def verdict(results: list[dict], cells: list[dict], skip_ctgan: bool) -> list[str]:
    """Plain words against the three targets."""
    ratios = [r["fit_seconds"][CTGAN_METHOD] / r["fit_seconds"][SYNTHLIFT] for r in results
              if r["fit_seconds"].get(CTGAN_METHOD) and r["fit_seconds"].get(SYNTHLIFT)]
    if skip_ctgan or not ratios:
        speed = "(1) speed: not measured (CTGAN skipped)."
    else:
        met = "MET" if min(ratios) >= 10 else "NOT MET"
        speed = (f"(1) ≥10× faster than CTGAN at equal epochs on CPU: **{met}** — ratio {min(ratios):.1f}× "
                 f"to {max(ratios):.1f}× (median {float(np.median(ratios)):.1f}×) across {len(ratios)} fits.")
    wins = sum(c["synthlift_at_least_smote"] for c in cells)
    lift = (f"(2) balanced-accuracy lift ≥ SMOTE's on the majority of cells: **{'MET' if wins * 2 > len(cells) else 'NOT MET'}**"
            f" — {wins} of {len(cells)} cells.")
    published = [r for r in results if r["gate"]["published"]]
    bad = [r for r in published if r["gate"]["holdout_ba_lift"]["mean"] < 0]
    gate = (f"(3) never publishes an augmentation with a negative holdout lift: **{'NOT MET' if bad else 'MET'}** — "
            f"published {len(published)} of {len(results)} (dataset, split) runs; "
            f"{len(bad)} published with a negative holdout balanced-accuracy lift"
            + (": " + ", ".join(f"{r['dataset']} split {r['split_seed']}" for r in bad) if bad else "") + ".")
    if not published:
        gate += " (Met vacuously: the gate published nothing, so it also delivered no augmentation.)"
    return [f"- {speed}", f"- {lift}", f"- {gate}"]


def render_section(results: list[dict], cells: list[dict], run: dict[str, Any]) -> str:
    machine = run["machine"]
    lines = [
        SECTION_HEADING, "",
        f"Command: `{run['command']}`", "",
        f"- Date (UTC): {run['started']} to {run['finished']}; total {run['total_minutes']:.1f} min",
        f"- Machine: {machine['nproc']} CPUs ({machine['cpu_model']}), {machine['ram_gib']} GiB RAM, {machine['gpu']}; "
        f"torch threads {machine['torch_threads']}; shared with other jobs — load average {run['load_start']} at "
        f"start, {run['load_end']} at end, so fit seconds are noisy",
        f"- Libraries: Python {machine['python']}, torch {machine['torch']}, ctgan {machine['ctgan']}, "
        f"scikit-learn {machine['sklearn']}",
        f"- Protocol: split seeds {run['split_seeds']} (each a different scarce train set: every non-majority class cut "
        f"to 20 train rows; validation and holdout keep natural proportions); GAN epochs {run['epochs']} for both "
        f"GANs, GAN seed = split seed + {run.get('gan_seed_offset', 0)}; synthetic rows per class from `samples_to_generate(class_counts, \"auto\")`; "
        f"downstream logistic regression (LR) and random forest (RF) from `quality/tabular_lift.py`, seeds "
        f"{run['seeds']}; all figures below on the HOLDOUT split; one paired bootstrap ({N_BOOT} resamples) over "
        f"all five methods; BA = balanced accuracy; (mean) = averaged over both classifiers and all seeds.",
    ]
    if run.get("note"):
        lines.append(f"- Note: {run['note']}")
    for dataset in dict.fromkeys(r["dataset"] for r in results):
        subset = [r for r in results if r["dataset"] == dataset]
        first = subset[0]
        lines += ["", f"### {dataset}", "",
                  f"Train class counts (split {first['split_seed']}): {first['train_class_counts']}; "
                  f"holdout rows: {first['holdout_rows']}; minority class for recall: `{first['minority_class']}`.", ""]
        lines += dataset_table(subset)
    lines += ["", "### Fit time (wall clock of `fit` only, equal epochs)", "",
              "CTGAN's conditional `sample` raises the chance of the requested class but does not force it; its rows "
              "keep the label CTGAN generated (last column: how many carry the requested one). synthlift sets the "
              "label from the condition, so all of its rows carry the requested class.", ""] + speed_table(results)
    lines += ["", fit_time_spread(results)]
    wins = sum(c["synthlift_at_least_smote"] for c in cells)
    lines += ["", "### synthlift vs SMOTE", "",
              f"synthlift's balanced-accuracy lift ≥ SMOTE's in **{wins} of {len(cells)} cells** "
              "(cell = dataset × split seed × classifier; point estimates on the holdout split).", ""]
    lines += ["| dataset | split | classifier | synthlift lift | SMOTE lift | ≥ SMOTE |", "|---|---|---|---|---|---|"]
    lines += [f"| {c['dataset']} | {c['split_seed']} | {c['classifier']} | {c['synthlift_lift']:+.4f} "
              f"| {c['smote_lift']:+.4f} | {'yes' if c['synthlift_at_least_smote'] else 'no'} |" for c in cells]
    lines += ["", "### The product's gate on synthlift's samples", "",
              "Checks with default thresholds; the gate publishes when every blocking check passes and the lower 95% "
              "bound of the BA lift of real+synthetic over real_only on the VALIDATION split is > 0. The holdout "
              "lift is what the published augmentation actually delivered (real+synthlift over real_only, mean of "
              "both classifiers).", ""]
    lines += gate_table(results)
    lines += ["", "### Verdict", ""] + verdict(results, cells, run["skip_ctgan"])
    lines += ["", f"Raw per-cell results: `{run.get('results_path', RESULTS_PATH)}`.", ""]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ main
def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["breast_cancer", "wine"])
    parser.add_argument("--split-seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--gan-seed-offset", type=int, default=0,
                        help="GAN seed = split seed + this (a second offset shows how much the cells owe to the GAN seed)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--epochs", type=common.positive_int, default=300)
    parser.add_argument("--skip-ctgan", action="store_true")
    common.add_report_arguments(parser, RESULTS_PATH)
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    if args.from_json is not None:
        saved = json.loads(args.from_json.read_text())
        common.replace_section(args.out, SECTION_HEADING, render_section(saved["results"], saved["cells"], saved["run"]))
        return
    log = common.log
    clock = common.RunClock()
    results = []
    for dataset in args.datasets:
        for split_seed in args.split_seeds:
            gan_seed = split_seed + args.gan_seed_offset
            results.append(run_split(dataset, split_seed, args.seeds, args.epochs, args.skip_ctgan, gan_seed, log))
    cells = cell_comparisons(results)
    run = clock.record(
        "bench.tabular_benchmark", argv, machine_info(),
        datasets=args.datasets, split_seeds=args.split_seeds, seeds=args.seeds, epochs=args.epochs,
        skip_ctgan=args.skip_ctgan, gan_seed_offset=args.gan_seed_offset, note=args.note,
        results_path=str(args.results),
    )
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps({"run": run, "cells": cells, "results": results}, indent=2, default=common.json_default))
    section = render_section(results, cells, run)
    common.replace_section(args.out, SECTION_HEADING, section)
    log(f"wrote {args.results} and the '{SECTION_HEADING}' section of {args.out}")
    print(section)


if __name__ == "__main__":
    main()
