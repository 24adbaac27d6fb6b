"""Protocol benchmark: does the cross-fitted gate publish the augmentations that help on rows it never saw?

For every dataset (``bench/datasets.py``) and split seed (a cell):

1. a stratified outer TEST split (``TEST_FRACTION`` of each class) is set aside and never given to synthlift;
   the rest, with every class but the majority cut to the table's ``scarce_rows``, are the USER rows;
2. the user rows are written to a CSV and synthlift is run on it end to end, as a user would
   (``synthlift run CSV --label LABEL --seed SEED``: product defaults, no thresholds), recording the decision,
   the gate, the protocol and the step timings, and checking that a publication holds exactly the user rows;
3. on TEST, the product's own downstream protocol (``tabular_lift_report``) trains real_only, real+synthetic
   (the user rows plus the samples the product published, or would have published when it rejected) and the
   classic baselines (class weights, SMOTE, random oversampling) in one paired report.

The four targets of the issue "Prove the lift with every real row" are then counted for the TUNING and the
HELD-BACK tables separately and overall.

    python -m bench.protocol_benchmark [--datasets ...] [--seeds 0 1 2] [--out bench/results/protocol.json]
    python -m bench.protocol_benchmark --quick            # smoke run: breast_cancer, seed 0, 20 epochs
    python -m bench.protocol_benchmark --from-json bench/results/protocol.json   # re-render the Markdown only
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import pandas as pd

from bench import common
from bench.datasets import HELD_BACK, TABLES, TUNING, BenchTable
from quality.data.artifacts import PROVENANCE_COLUMNS, SyntheticTable
from quality.data.splitting import cap_class_rows
from quality.lift.tables import (
    REAL_CLASS_WEIGHTS,
    REAL_ONLY,
    REAL_PLUS_RANDOM_OVERSAMPLING,
    REAL_PLUS_SMOTE,
    REAL_PLUS_SYNTHETIC,
    tabular_lift_report,
)
from quality.publish.card import baseline_lifts

TEST_FRACTION = 0.3
LIFT_SEEDS = (0, 1, 2, 3, 4)  # the product's default downstream seeds
METRIC = "balanced_accuracy"
SMOTE_HELPS = 0.03  # target 1 counts the cells where SMOTE's held-out lift is at least this
QUICK_EPOCHS = 20
RESULTS_PATH = Path("bench/results/protocol.json")
QUICK_RESULTS_PATH = Path("/tmp/protocol_quick.json")
METHODS = {"synthlift": REAL_PLUS_SYNTHETIC, "smote": REAL_PLUS_SMOTE, "class_weights": REAL_CLASS_WEIGHTS,
           "ros": REAL_PLUS_RANDOM_OVERSAMPLING}
GROUPS = {"tuning": (TUNING,), "held-back": (HELD_BACK,), "overall": (TUNING, HELD_BACK)}


# ----------------------------------------------------------------------------------------- cells
def cell_rows(table: BenchTable, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(user rows, test rows) of one cell: a stratified test split, then the scarcity cut on the rest."""
    from sklearn.model_selection import train_test_split

    frame = table.load().reset_index(drop=True)
    labels = frame[table.label_column].to_numpy()
    user, test = train_test_split(np.arange(len(frame)), test_size=TEST_FRACTION, stratify=labels,
                                  random_state=seed)
    if table.scarce_rows:
        counts = pd.Series(labels[user]).value_counts()
        caps = {cls: table.scarce_rows for cls in counts.index if cls != counts.idxmax()}
        user = cap_class_rows(np.sort(user), labels, caps, seed)
    return frame.iloc[np.sort(user)].reset_index(drop=True), frame.iloc[np.sort(test)].reset_index(drop=True)


def as_read_back(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Write ``frame`` as a CSV and read it back: the rows exactly as synthlift reads the user's file."""
    frame.to_csv(path, index=False)
    return pd.read_csv(path)


def run_product(csv: Path, label: str, seed: int, out: Path, name: str, epochs: Optional[int],
                repeats: int = 1) -> dict[str, Any]:
    """``synthlift run CSV --label LABEL --seed SEED`` in this process; the outcome summary (or the error)."""
    from pipelines.cli import build_parser, run_config_from_args
    from pipelines.runner import RunFailed, run_augmentation

    argv = ["run", str(csv), "--label", label, "--seed", str(seed), "--out", str(out), "--name", name]
    if epochs is not None:
        argv += ["--epochs", str(epochs)]
    if repeats != 1:
        argv += ["--repeats", str(repeats)]
    args = build_parser().parse_args(argv)
    started = time.perf_counter()
    try:
        outcome = run_augmentation(run_config_from_args(args), out, name, tracebacks=False)
    except RunFailed as failure:
        outcome = {"decision": "error", "error": str(failure), "output": None}
    outcome["wall_seconds"] = round(time.perf_counter() - started, 1)
    outcome["argv"] = "synthlift " + " ".join(shlex.quote(a) for a in argv)
    return outcome


def synthetic_rows(outcome: dict[str, Any], out: Path, name: str) -> Optional[pd.DataFrame]:
    """The synthetic rows the product published or, when it did not, would have published (run artefacts)."""
    if outcome.get("output"):
        rows = pd.read_parquet(Path(outcome["output"]) / "synthetic.parquet")
    else:
        directory = out / "artifacts" / "synthetic_samples" / name
        if not (directory / "meta.json").exists():
            return None
        rows = SyntheticTable.load(directory).frame()
    return rows.drop(columns=[c for c in PROVENANCE_COLUMNS if c in rows])


def publication_check(outcome: dict[str, Any], user: pd.DataFrame) -> Optional[dict[str, Any]]:
    """Whether ``augmented.parquet``'s real rows are exactly the user rows (count and content); None unpublished."""
    if not outcome.get("output"):
        return None
    augmented = pd.read_parquet(Path(outcome["output"]) / "augmented.parquet")
    real = augmented[~augmented["synthetic"].astype(bool)].drop(columns=list(PROVENANCE_COLUMNS))
    result = {"real_rows": len(real), "user_rows": len(user), "same_columns": list(real.columns) == list(user.columns),
              "synthetic_rows": int(augmented["synthetic"].astype(bool).sum())}
    result["same_content"] = result["same_columns"] and len(real) == len(user) and _same_rows(real, user)
    result["all_real_rows"] = bool(result["same_content"])
    return result


def _same_rows(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    """The same multiset of rows, in any order (floats to 1e-9 relative; missing equals missing)."""
    def canonical(frame: pd.DataFrame) -> pd.DataFrame:
        cast = frame.apply(lambda col: col.astype(float) if pd.api.types.is_numeric_dtype(col)
                           else col.astype(object).where(col.notna(), None).map(str, na_action="ignore"))
        return cast.sort_values(list(cast.columns), na_position="last", kind="mergesort").reset_index(drop=True)

    try:
        pd.testing.assert_frame_equal(canonical(a), canonical(b), check_dtype=False, rtol=1e-9, atol=0)
    except AssertionError:
        return False
    return True


def held_out_report(user: pd.DataFrame, synthetic: Optional[pd.DataFrame], test: pd.DataFrame,
                    label: str) -> dict[str, Any]:
    """The product's downstream protocol on TEST: every method's score and lift over real_only."""
    if synthetic is None:
        synthetic = user.iloc[:0]
    report = tabular_lift_report(user, synthetic, test, label, seeds=LIFT_SEEDS, evaluated_on="holdout")
    lifts = {key: report.lift(method, REAL_ONLY, METRIC).to_dict() for key, method in METHODS.items()}
    return {"lifts": lifts, "scores": report.scores, "n_eval_rows": report.n_eval_rows,
            "synthlift_over_smote": report.lift(REAL_PLUS_SYNTHETIC, REAL_PLUS_SMOTE, METRIC).to_dict(),
            "synthetic_rows": len(synthetic)}


def run_cell(table: BenchTable, seed: int, epochs: Optional[int], repeats: int = 1) -> dict[str, Any]:
    """Everything measured on one (dataset, seed)."""
    started = time.perf_counter()
    label = table.label_column
    name = f"{table.name}_s{seed}"
    with tempfile.TemporaryDirectory(prefix=f"protocol_{name}_") as folder:
        folder = Path(folder)
        user_frame, test_frame = cell_rows(table, seed)
        user = as_read_back(user_frame, folder / f"{table.name}.csv")
        test = as_read_back(test_frame, folder / "test.csv")
        common.log(f"{name}: {len(user)} user rows {user[label].value_counts().to_dict()}, {len(test)} test rows; "
                   "running synthlift")
        outcome = run_product(folder / f"{table.name}.csv", label, seed, folder / "out", name, epochs, repeats)
        common.log(f"{name}: {outcome['decision']} after {outcome['wall_seconds']} s; held-out evaluation")
        held_started = time.perf_counter()
        try:
            held_out = held_out_report(user, synthetic_rows(outcome, folder / "out", name), test, label)
        except Exception:  # a cell's failure is recorded, the benchmark goes on
            held_out = {"error": traceback.format_exc(limit=3)}
        held_out["wall_seconds"] = round(time.perf_counter() - held_started, 1)
        publication = publication_check(outcome, user)
    counts = user[label].value_counts()
    return {
        "dataset": table.name, "group": table.group, "seed": seed, "label_column": label,
        "user_rows": len(user), "user_class_counts": {str(c): int(n) for c, n in counts.items()},
        "minority_class": str(counts.idxmin()), "minority_rows": int(counts.min()), "test_rows": len(test),
        "command": outcome.get("argv"), "decision": outcome["decision"], "error": outcome.get("error"),
        "reasons": outcome.get("reasons", []), "protocol": outcome.get("protocol"), "gate": outcome.get("gate") or {},
        "gate_versus_baselines": versus_baselines(outcome),
        "checks": {c["name"]: c["passed"] for c in outcome.get("checks", [])},
        "timings": outcome.get("timings", {}), "product_wall_seconds": outcome["wall_seconds"],
        "publication": publication, "held_out": held_out,
        "wall_seconds": round(time.perf_counter() - started, 1),
    }


def versus_baselines(outcome: dict) -> dict[str, dict]:
    """real+synthetic's cross-fitted lift over each classic baseline, as the card's last line gives it."""
    return {lift["reference"]: {key: lift[key] for key in ("mean", "ci_low", "ci_high")}
            for lift in baseline_lifts(outcome)}


# --------------------------------------------------------------------------------------- targets
def _lift(cell: dict, method: str) -> Optional[float]:
    lifts = cell["held_out"].get("lifts")
    return None if lifts is None else lifts[method]["mean"]


def targets(cells: list[dict]) -> dict[str, Any]:
    """The issue's four targets on these cells."""
    scored = [c for c in cells if c["held_out"].get("lifts")]
    smote_helps = [c for c in scored if _lift(c, "smote") >= SMOTE_HELPS]
    published = [c for c in cells if c["decision"] == "published"]
    published_scored = [c for c in published if c in scored]
    negative = [c for c in published_scored if _lift(c, "synthlift") < 0]
    complete = [c for c in published if (c["publication"] or {}).get("all_real_rows")]
    ours = float(np.mean([_lift(c, "synthlift") for c in published_scored])) if published_scored else None
    smote = float(np.mean([_lift(c, "smote") for c in published_scored])) if published_scored else None
    return {
        "cells": len(cells), "errors": sum(c["decision"] == "error" for c in cells), "published": len(published),
        "smote_helps_cells": len(smote_helps),
        "published_where_smote_helps": sum(c["decision"] == "published" for c in smote_helps),
        "target_1_met": bool(smote_helps) and 4 * sum(c["decision"] == "published" for c in smote_helps) >= 3 * len(smote_helps),
        "mean_lift_published": ours, "mean_smote_lift_same_cells": smote,
        "target_2_met": ours is not None and ours >= smote,
        "published_negative": len(negative), "published_negative_cells": [_cell_key(c) for c in negative],
        "target_3_met": not negative,
        "published_with_all_real_rows": len(complete), "target_4_met": len(complete) == len(published),
    }


def _cell_key(cell: dict) -> str:
    return f"{cell['dataset']} seed {cell['seed']}"


def target_lines(summary: dict[str, Any]) -> list[str]:
    def met(flag: bool) -> str:
        return "**MET**" if flag else "**NOT MET**"

    ours, smote = summary["mean_lift_published"], summary["mean_smote_lift_same_cells"]
    first = (f"publishes on ≥ 3 of 4 cells where SMOTE's held-out lift ≥ +{SMOTE_HELPS}: "
             f"{met(summary['target_1_met']) if summary['smote_helps_cells'] else '**n/a** (no such cell)'} — "
             f"{summary['published_where_smote_helps']} of {summary['smote_helps_cells']}")
    second = ("mean held-out lift where it publishes ≥ SMOTE's on the same cells: "
              + (f"{met(summary['target_2_met'])} — {ours:+.4f} vs {smote:+.4f} over {summary['published']} "
                 "published cell(s)" if ours is not None else "**n/a** (published nothing)"))
    third = (f"never publishes a negative held-out lift: {met(summary['target_3_met'])} — "
             f"{summary['published_negative']} of {summary['published']} published"
             + (f" ({', '.join(summary['published_negative_cells'])})" if summary["published_negative_cells"] else ""))
    fourth = (f"every real row the user gave is in the publication: {met(summary['target_4_met'])} — "
              f"{summary['published_with_all_real_rows']} of {summary['published']} publications")
    if not summary["published"]:
        third, fourth = third + " (vacuously)", fourth + " (vacuously)"
    return [f"1. {first}", f"2. {second}", f"3. {third}", f"4. {fourth}"]


# -------------------------------------------------------------------------------------- markdown
def _interval(estimate: dict) -> str:
    return f"{estimate['mean']:+.3f} [{estimate['ci_low']:+.3f}, {estimate['ci_high']:+.3f}]"


def cell_line(cell: dict) -> str:
    gate, held, protocol = cell["gate"], cell["held_out"], cell["protocol"] or {}
    gate_text = _interval(gate) if "ci_low" in gate else "not measured"
    detectable = f"{gate['minimum_detectable_lift']:.3f}" if "minimum_detectable_lift" in gate else "—"
    if held.get("lifts"):
        lifts = [f"{held['lifts'][key]['mean']:+.3f}" for key in METHODS]
        if cell["decision"] != "published":
            lifts[0] = f"({lifts[0]})"  # what the gate kept from the user
    else:
        lifts = ["error"] * len(METHODS)
    kind = f"{protocol.get('kind', '?')} ({protocol.get('folds', '?')})" if protocol else "—"
    decision = cell["decision"] if cell["decision"] != "error" else f"error: {cell['error'][:60]}"
    publication = cell["publication"]
    complete = "—" if publication is None else (
        "yes" if publication["all_real_rows"] else f"NO ({publication['real_rows']} of {publication['user_rows']})")
    return (f"| {cell['dataset']} | {cell['group']} | {cell['seed']} | {cell['user_rows']} / {cell['minority_rows']} "
            f"| {kind} | {decision} | {gate_text} | {detectable} | " + " | ".join(lifts)
            + f" | {complete} | {cell['wall_seconds']:.0f} |")


def render_markdown(results: dict[str, Any]) -> str:
    run, cells = results["run"], results["cells"]
    lines = [
        "## Protocol (cross-fitted gate vs held-out lift)", "",
        f"Command: `{run['command']}`", "",
        f"- Date (UTC): {run['started']} to {run['finished']} ({run['total_minutes']:.1f} min)",
        f"- Machine: `nproc` {run['nproc']}; `free -g`: {run['free_g']}; shared with other jobs — `uptime` at start: "
        f"{run['uptime_start']}; at end: {run['uptime_end']}",
        f"- Libraries: Python {run['machine']['python']}, torch {run['machine']['torch']}, scikit-learn "
        f"{run['machine']['sklearn']}",
        f"- Each cell: a stratified {TEST_FRACTION:.0%} TEST split never given to synthlift; the other rows, every class "
        "but the majority cut to the table's cap, are the USER rows, written to a CSV and run through "
        f"`synthlift run CSV --label L --seed S{_repeats_flag(run)}` (epochs: {run['epochs'] or 'product default'}, 5 lift seeds, no "
        "thresholds). Held-out lifts: the product's `tabular_lift_report` (LR + RF, seeds 0-4) on TEST, balanced "
        "accuracy over real_only, one paired report for all methods; synthlift = user rows + the published "
        "synthetic rows (in parentheses: rejected, the rows the gate kept back).",
        f"- Tuning tables: {', '.join(run['tuning'])}; held-back tables (never used to tune): {', '.join(run['held_back'])}.",
    ]
    if run.get("note"):
        lines.append(f"- Note: {run['note']}")
    head = ("| dataset | set | seed | user rows / minority | protocol (folds) | decision | gate lift [95% CI] "
            "| min. detectable | held-out synthlift | SMOTE | class weights | ROS | all real rows published? | wall s |")
    order = list(TABLES)
    ordered = sorted(cells, key=lambda c: (c["group"] != TUNING, order.index(c["dataset"]) if c["dataset"] in order
                                           else len(order), c["seed"]))
    lines += ["", head, "|" + "---|" * (head.count("|") - 1)] + [cell_line(c) for c in ordered]
    for group, members in GROUPS.items():
        subset = [c for c in cells if c["group"] in members]
        if not subset:
            continue
        summary = targets(subset)
        lines += ["", f"### Targets: {group} ({len(subset)} cells, {summary['errors']} errors)", ""]
        lines += target_lines(summary)
    lines += versus_smote_lines(ordered)
    lines += ["", f"Raw per-cell results: `{run['results_path']}`.", ""]
    return "\n".join(lines)


def versus_smote_lines(cells: list[dict]) -> list[str]:
    """Published cells: does the card's comparison with SMOTE (cross-fitted) point the way the held-out one does?"""
    rows = [c for c in cells if c["decision"] == "published" and REAL_PLUS_SMOTE in c.get("gate_versus_baselines", {})
            and c["held_out"].get("lifts")]
    if not rows:
        return []
    lines = ["", "### real+synthetic minus SMOTE where it published: the card's cross-fitted figure and the held-out one",
             "", "| dataset | seed | cross-fitted [95% CI] (the card) | held-out |", "|---|---|---|---|"]
    for cell in rows:
        held = cell["held_out"]["lifts"]
        lines.append(f"| {cell['dataset']} | {cell['seed']} | {_interval(cell['gate_versus_baselines'][REAL_PLUS_SMOTE])} "
                     f"| {held['synthlift']['mean'] - held['smote']['mean']:+.3f} |")
    return lines


# ------------------------------------------------------------------------------------------ main
def _shell(command: str) -> str:
    try:
        return subprocess.run(command, shell=True, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _free_g() -> str:
    """``free -g``'s memory line as 'name N' pairs (total, used, free, ..., available GiB)."""
    lines = _shell("free -g").splitlines()
    if len(lines) < 2:
        return "unknown"
    names, values = lines[0].split(), lines[1].split()[1:]
    return ", ".join(f"{name} {value}" for name, value in zip(names, values)) + " GiB"


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", choices=sorted(TABLES), default=list(TABLES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", type=common.positive_int, default=None,
                        help="tabular GAN epochs (default: the product's own)")
    parser.add_argument("--repeats", type=common.positive_int, default=1,
                        help="the product's --repeats: draw the cross-fitting folds this many times (default 1)")
    parser.add_argument("--out", type=Path, default=None, help=f"results JSON (default {RESULTS_PATH}); the "
                        "Markdown goes beside it with the suffix .md")
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke run: breast_cancer, seed 0, {QUICK_EPOCHS} epochs (to {QUICK_RESULTS_PATH})")
    parser.add_argument("--note", default="", help="a sentence added to the Markdown header")
    parser.add_argument("--from-json", type=Path, default=None, help="re-render the Markdown of a results JSON")
    args = parser.parse_args(argv)
    if args.quick:
        args.datasets, args.seeds, args.epochs = ["breast_cancer"], [0], args.epochs or QUICK_EPOCHS
    args.out = args.out or (QUICK_RESULTS_PATH if args.quick else RESULTS_PATH)
    return args


def _repeats_flag(run: dict[str, Any]) -> str:
    return f" --repeats {run['repeats']}" if run.get("repeats", 1) != 1 else ""


def write_results(results: dict[str, Any], out: Path) -> str:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=common.json_default))
    markdown = render_markdown(results)
    out.with_suffix(".md").write_text(markdown)
    return markdown


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    if args.from_json is not None:
        print(write_results(json.loads(args.from_json.read_text()), args.from_json))
        return
    import sklearn

    clock = common.RunClock()
    header = {"nproc": _shell("nproc"), "free_g": _free_g(), "uptime_start": _shell("uptime"),
              "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "epochs": args.epochs,
              "repeats": args.repeats,
              "tuning": [t.name for t in TABLES.values() if t.group == TUNING],
              "held_back": [t.name for t in TABLES.values() if t.group == HELD_BACK],
              "note": args.note, "results_path": str(args.out)}
    machine = common.machine_info(sklearn=sklearn.__version__)
    cells: list[dict] = []
    for seed in args.seeds:  # seed-major: a run stopped early still covers every dataset
        for name in args.datasets:
            cells.append(run_cell(TABLES[name], seed, args.epochs, args.repeats))
            # written after every cell, so a run stopped half-way keeps what it measured
            run = clock.record("bench.protocol_benchmark", argv, machine, **header, uptime_end=_shell("uptime"),
                               datasets=args.datasets, seeds=args.seeds)
            write_results({"run": run, "cells": cells, "targets": {g: targets([c for c in cells if c["group"] in m])
                                                                    for g, m in GROUPS.items()}}, args.out)
    print(render_markdown(json.loads(args.out.read_text())))
    common.log(f"wrote {args.out} and {args.out.with_suffix('.md')}")


if __name__ == "__main__":
    sys.exit(main())
