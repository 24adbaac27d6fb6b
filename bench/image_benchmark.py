"""Image benchmark on BreastMNIST: synthlift's ImageGAN against oversampling and albumentations.

Splits are MedMNIST's own: train (546 images) teaches the GAN, the feature extractor and every
downstream CNN; validation (78) decides publication exactly as the product does; test (156) gives the
final figures and decides nothing. Steps:

1. train ``ImageGAN`` at the product defaults (``ImageGANConfig()``, ``--gan-steps`` may override the
   step count) on the train split, recording wall time and discriminator throughput;
2. sample the images that balance the classes (the product's ``generate``: ``samples_to_generate``
   with ``"auto"``);
3. run the product's four checks (``assets.modalities.image.run_check``, default thresholds), the
   validation-split lift and ``decide`` with the product's default gate;
4. measure the lift on the test split; the "best classic baseline" of the final comparison is the one
   chosen on the VALIDATION split, whatever the test split would have chosen.

    python -m bench.image_benchmark [--data PATH] [--seeds 0 1 2 3 4] [--epochs 15] [--gan-steps N]
        [--out BENCHMARKS.md] [--results bench/results/images.json]
    python -m bench.image_benchmark --from-json bench/results/images.json   # re-render the section only
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Optional, Sequence
from unittest import mock

import numpy as np
import torch

from gan_models.image import ImageGAN, ImageGANConfig
from quality.lift import images as image_lift
from bench import common
from quality.publish.decision import decide
from quality.data.images import ImageSplit, load_medmnist_npz, split_images
from quality.lift.statistics import RunPrediction, build_lift_report
from quality.checks.result import CheckResult
from quality.lift.report import LiftReport

# The product's wiring (Dagster is imported with it; the benchmark uses its plain functions only).
from assets.asset_checks import BLOCKING_CHECKS, REPORTED_CHECKS
from assets.modalities.image import generate, run_check
from pipelines.config import PublishConfig, QualityThresholds, SamplingConfig

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO_ROOT / ".." / "shared" / "data" / "breastmnist.npz"
RESULTS_PATH = Path("bench/results/images.json")
SECTION_HEADING = "## Images"
N_BOOT = 1000
REAL_ONLY = "real_only"
GAN_METHODS = image_lift.SYNTHETIC_METHODS
CLASS_NAMES = {0: "malignant", 1: "benign"}  # BreastMNIST's label meaning (MedMNIST v2 info)
PUBLISHED_ANCHORS = "MedMNIST v2 (Yang et al. 2023), BreastMNIST ResNet-18 at 28 px: test AUC 0.901, ACC 0.863"


# ------------------------------------------------------------------------------------------ steps
def load_split(data_path: Path) -> ImageSplit:
    """The official MedMNIST splits: train / validation = official val / holdout = official test."""
    split = split_images(load_medmnist_npz(data_path), seed=0)
    if not split.holdout_is_official:
        raise ValueError(f"{data_path} lacks official val/test splits; this benchmark needs a MedMNIST file with both")
    split.name = "breastmnist"
    return split


def train_gan(split: ImageSplit, gan_steps: Optional[int]) -> tuple[ImageGAN, dict[str, Any]]:
    """Fit the product-default ImageGAN on the train split; return it and its timing facts."""
    config = ImageGANConfig() if gan_steps is None else ImageGANConfig(steps=gan_steps)
    started = time.perf_counter()
    model = ImageGAN(config).fit(split.train_images, split.train_labels, n_classes=split.n_classes)
    wall = time.perf_counter() - started
    meta = model.metadata()
    seen = meta["steps_done"] * config.batch_size * config.discriminator_steps
    facts = {
        "config": config.to_dict(),
        "device": str(model.device),
        "steps_done": int(meta["steps_done"]),
        "train_seconds": float(meta["train_seconds"]),
        "wall_seconds": wall,
        "real_images_seen_by_discriminator": int(seen),
        "real_images_per_second": seen / float(meta["train_seconds"]),
        "final_losses": model.loss_history[-1] if model.loss_history else {},
    }
    return model, facts


def product_checks(split: ImageSplit, synthetic) -> list[CheckResult]:
    """The four checks as ``assets/asset_checks.py`` runs them: the product's function, default thresholds,
    each result renamed to its check name (what ``decide`` expects)."""
    thresholds = QualityThresholds()
    return [replace(run_check(name, split, synthetic, thresholds), name=name)
            for name in (*BLOCKING_CHECKS, *REPORTED_CHECKS)]


def lift_with_runs(split: ImageSplit, synthetic, part: str, seeds: Sequence[int], epochs: int
                   ) -> tuple[LiftReport, dict[str, Any], list[RunPrediction]]:
    """``image_lift_report`` on one split exactly as the product calls it, also keeping the per-run
    predictions it hands to ``build_lift_report`` (needed to re-reference the test lifts)."""
    captured: list[RunPrediction] = []

    def recording_build_lift_report(y_true, runs, *args, **kwargs):
        captured.extend(runs)
        return build_lift_report(y_true, runs, *args, **kwargs)

    with mock.patch.object(image_lift, "build_lift_report", recording_build_lift_report):
        report, extras = image_lift.image_lift_report(
            split.train_images, split.train_labels, synthetic.images, synthetic.labels,
            getattr(split, f"{part}_images"), getattr(split, f"{part}_labels"),
            seeds=tuple(seeds), epochs=epochs, evaluated_on=part, n_boot=N_BOOT,
        )
    return report, extras, captured


def rereferenced_report(split: ImageSplit, runs: list[RunPrediction], minority_class: int,
                        classic_baseline: str) -> LiftReport:
    """The test-split report with the validation-chosen classic baseline as reference (same bootstrap
    draws as ``image_lift_report``: same rows, same default seed)."""
    return build_lift_report(split.holdout_labels, runs, classes=list(range(split.n_classes)),
                             minority_class=minority_class, references=[REAL_ONLY, classic_baseline],
                             evaluated_on="holdout", n_boot=N_BOOT)


def run_benchmark(args: argparse.Namespace, log) -> dict[str, Any]:
    split = load_split(args.data)
    train_counts = np.bincount(split.train_labels, minlength=split.n_classes).tolist()
    log(f"train class counts {train_counts}; training ImageGAN ({args.gan_steps or 'default'} steps)")
    model, gan = train_gan(split, args.gan_steps)
    log(f"GAN: {gan['steps_done']} steps in {gan['train_seconds']:.0f} s "
        f"({gan['real_images_per_second']:.0f} real images/s seen by D)")

    synthetic = generate(model, split, SamplingConfig())
    log(f"generated {np.bincount(synthetic.labels, minlength=split.n_classes).tolist()} synthetic images per class; "
        "running checks")
    checks = product_checks(split, synthetic)
    for check in checks:
        log(f"check {check.name}: {'passed' if check.passed else 'FAILED'} — {check.details}")

    log(f"validation lift: {len(args.seeds)} seeds x 6 methods, {args.epochs} epochs")
    validation, validation_extras, _ = lift_with_runs(split, synthetic, "validation", args.seeds, args.epochs)
    gate_reference = validation_extras["best_classic_baseline"] if PublishConfig().require_beat_baseline else REAL_ONLY
    decision = decide(checks, validation, min_lift=PublishConfig().min_lift, reference=gate_reference,
                      expected_checks=(*BLOCKING_CHECKS, *REPORTED_CHECKS))
    log(f"gate: {decision.label} — {'; '.join(decision.reasons)}")

    log("test lift (final figures)")
    holdout, holdout_extras, holdout_runs = lift_with_runs(split, synthetic, "holdout", args.seeds, args.epochs)
    classic = validation_extras["best_classic_baseline"]
    final = rereferenced_report(split, holdout_runs, holdout_extras["minority_class"], classic)
    return {
        "data": str(args.data),
        "class_names": {str(k): v for k, v in CLASS_NAMES.items()},
        "split_sizes": {part: np.bincount(getattr(split, f"{part}_labels"), minlength=split.n_classes).tolist()
                        for part in ("train", "validation", "holdout")},
        "gan": gan,
        "synthetic_counts": {str(k): int(v) for k, v in zip(*np.unique(synthetic.labels, return_counts=True))},
        "model_version": synthetic.model_version,
        "checks": [check.to_dict() for check in checks],
        "decision": decision.to_dict(),
        "validation": {"report": validation.to_dict(), "extras": validation_extras},
        "holdout": {"report_with_baseline_chosen_on_holdout": holdout.to_dict(), "extras": holdout_extras,
                    "best_classic_chosen_on_holdout": holdout_extras["best_classic_baseline"]},
        "final": {"report": final.to_dict(), "classic_baseline": classic, "classic_baseline_chosen_on": "validation"},
        "holdout_runs": [{"method": r.method, "seed": r.seed, "y_pred": r.y_pred.tolist(),
                          "y_proba": np.round(r.y_proba, 6).tolist()} for r in holdout_runs],
    }


# ---------------------------------------------------------------------------------- machine facts
def machine_info() -> dict[str, Any]:
    import albumentations

    return common.machine_info(albumentations=albumentations.__version__, numpy=np.__version__)


# --------------------------------------------------------------------------------------- markdown
def _ci(estimate) -> str:
    return f"{estimate.mean:+.3f} [{estimate.ci_low:+.3f}, {estimate.ci_high:+.3f}]"


def method_table(report: LiftReport, classic: str) -> list[str]:
    """Rows: methods; columns: BA, AUC, malignant recall and the BA lifts over real-only and ``classic``."""
    lines = ["| method | BA | AUC | malignant recall | BA lift vs real_only [95% CI] "
             f"| BA lift vs {classic} [95% CI] |", "|---|---|---|---|---|---|"]
    for method in [m for m in image_lift.METHODS if m in report.scores]:
        scores = report.scores[method]
        vs_real = "—" if method == REAL_ONLY else _ci(report.lift(method, REAL_ONLY, "balanced_accuracy"))
        vs_classic = "—" if method == classic else _ci(report.lift(method, classic, "balanced_accuracy"))
        lines.append(f"| {method} | {scores['balanced_accuracy']:.3f} | {scores['auc']:.3f} "
                     f"| {scores['minority_recall']:.3f} | {vs_real} | {vs_classic} |")
    return lines


def checks_table(checks: list[dict]) -> list[str]:
    lines = ["| check | blocking | outcome | details |", "|---|---|---|---|"]
    for check in checks:
        details = check["details"].replace("|", "\\|")
        lines.append(f"| {check['name']} | {'yes' if check['blocking'] else 'no (reported)'} "
                     f"| {'passed' if check['passed'] else 'FAILED'} | {details} |")
    return lines


def verdict(results: dict[str, Any]) -> list[str]:
    """Plain words: did a GAN method beat the validation-chosen classic baseline on test BA with CI > 0,
    and did the gate do the right thing?"""
    final = LiftReport.from_dict(results["final"]["report"])
    classic = results["final"]["classic_baseline"]
    published = results["decision"]["published"]
    winners, lines = [], []
    for method in [m for m in GAN_METHODS if m in final.scores]:
        lift = final.lift(method, classic, "balanced_accuracy")
        beats = lift.ci_low > 0
        winners += [method] if beats else []
        lines.append(f"- `{method}` vs `{classic}` on test balanced accuracy: {_ci(lift)} — "
                     + ("CI above zero: beats it." if beats else "CI not above zero: does NOT beat it."))
    if not [m for m in GAN_METHODS if m in final.scores]:
        lines.append("- No synthetic images were generated, so no GAN method was measured.")
    met = bool(winners)
    lines.append("")
    lines.append(
        f"**Target {'met' if met else 'NOT met'}**: the target is that GAN (+classic) beats the best classic "
        f"baseline (oversampling ± albumentations; here `{classic}`, chosen on validation) on balanced accuracy "
        f"with a CI above zero. " + (f"{', '.join(f'`{m}`' for m in winners)} does." if met else
                                     "No GAN method does on this run.")
    )
    gate = f"The product's gate **{'published' if published else 'rejected'}** this augmentation"
    if met and published:
        lines.append(f"{gate}, consistent with the test result.")
    elif not met and not published:
        lines.append(f"{gate}, so nothing that misses the target was published (the gate's own reason is "
                     "in the section above).")
    elif not met and published:
        lines.append(f"{gate} although the GAN does NOT beat the best classic baseline on test: the default gate "
                     "compares real+synthetic with real_only on the validation split "
                     "(`PublishConfig.require_beat_baseline=False`), not with the classic baseline. "
                     "This is a gap between the gate and the target.")
    else:
        lines.append(f"{gate} although a GAN method beats the best classic baseline on test: the validation "
                     "split (78 images) did not show a lift whose CI clears zero, or a blocking check failed.")
    return lines


def _config_origin(gan_steps: Optional[int]) -> str:
    return "product defaults" if gan_steps is None else f"product defaults except steps={gan_steps}"


def render_section(results: dict[str, Any], run: dict[str, Any]) -> str:
    machine, gan = run["machine"], results["gan"]
    validation = LiftReport.from_dict(results["validation"]["report"])
    final = LiftReport.from_dict(results["final"]["report"])
    classic = results["final"]["classic_baseline"]
    on_holdout = results["holdout"]["best_classic_chosen_on_holdout"]
    decision = results["decision"]
    sizes = results["split_sizes"]
    lines = [
        SECTION_HEADING, "",
        "BreastMNIST (28×28 grayscale ultrasound; label 0 = malignant, the minority; 1 = benign), MedMNIST's "
        f"official splits: train {sum(sizes['train'])} ({sizes['train'][0]} malignant / {sizes['train'][1]} benign) "
        f"teaches the GAN, the checks' feature CNN and every downstream CNN; validation {sum(sizes['validation'])} "
        f"decides publication; test {sum(sizes['holdout'])} gives the figures below and decides nothing.",
        "",
        "```", run["command"], "```", "",
        f"- Date (UTC): {run['started']} → {run['finished']} ({run['total_minutes']:.1f} min in all)",
        f"- Machine: {machine['nproc']} CPU cores ({machine['cpu_model']}), {machine['ram_gib']} GiB RAM, "
        f"{machine['gpu']}; torch {machine['torch']} with `torch.set_num_threads(1)`, "
        f"albumentations {machine['albumentations']}, numpy {machine['numpy']}, Python {machine['python']}",
        f"- Load average (1/5/15 min) at start {run['load_start']}, at end {run['load_end']}: the machine is shared "
        "with other work, so timings are noisy.",
        "- No GPU was lent to this task: every figure is CPU. The CUDA path (bf16 autocast, device selection) is "
        "untested on a GPU here.",
        f"- Downstream protocol: the product's small CNN, {run['epochs']} epochs, seeds {run['seeds']}, paired "
        f"bootstrap ({N_BOOT} resamples of test rows and seeds), 95% CIs.",
        "",
        "### GAN training",
        "",
        f"`ImageGANConfig` used ({_config_origin(run['gan_steps'])}):",
        "", "```json", json.dumps(gan["config"], sort_keys=True), "```", "",
        f"- {gan['steps_done']} steps on {gan['device']} in {gan['train_seconds']:.1f} s of training "
        f"({gan['wall_seconds']:.1f} s wall for `fit`)",
        f"- Throughput: {gan['real_images_per_second']:.1f} real images/s seen by the discriminator "
        "(steps × batch_size × discriminator_steps / training seconds)",
        f"- Synthetic images generated to balance the classes: {results['synthetic_counts']} "
        "(class index → images)",
        "",
        "### Final figures (test split)",
        "",
        f"Best classic baseline chosen on VALIDATION: `{classic}`"
        + (f" (the test split alone would have picked `{on_holdout}`; the comparison below keeps the "
           "validation choice)." if on_holdout != classic else " (the test split picks the same one)."),
        "",
        *method_table(final, classic),
        "",
        f"Published anchor, for context only (different model and metric protocol): {PUBLISHED_ANCHORS}.",
        "",
        "### Checks and the publication gate (validation split)",
        "",
        *checks_table(results["checks"]),
        "",
        *method_table(validation, results["validation"]["extras"]["best_classic_baseline"]),
        "",
        f"Gate (product default: every blocking check passes and the lower 95% CI bound of the BA lift of "
        f"real+synthetic over {decision['gate'].get('reference', REAL_ONLY)} on validation > "
        f"{decision['gate'].get('min_lift', 0.0)}): **{decision['decision']}**.",
        "",
        *[f"- {reason}" for reason in decision["reasons"]],
        "",
        "### Verdict",
        "",
        *verdict(results),
    ]
    if run.get("note"):
        lines += ["", f"Note: {run['note']}"]
    lines += ["", f"Raw results: `{run['results_path']}`."]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------ main
def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--epochs", type=common.positive_int, default=15)
    parser.add_argument("--gan-steps", type=common.positive_int, default=None, help="Override ImageGANConfig().steps.")
    common.add_report_arguments(parser, RESULTS_PATH)
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    if args.from_json is not None:
        saved = json.loads(args.from_json.read_text())
        common.replace_section(args.out, SECTION_HEADING, render_section(saved["results"], saved["run"]))
        return
    torch.set_num_threads(1)  # on the shared 2-core machine more threads are much slower
    log = common.log
    clock = common.RunClock()
    results = run_benchmark(args, log)
    run = clock.record(
        "bench.image_benchmark", argv, machine_info(),
        seeds=args.seeds, epochs=args.epochs, gan_steps=args.gan_steps, note=args.note, results_path=str(args.results),
    )
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps({"run": run, "results": results}, indent=1, default=common.json_default))
    section = render_section(results, run)
    common.replace_section(args.out, SECTION_HEADING, section)
    log(f"wrote {args.results} and the '{SECTION_HEADING}' section of {args.out}")
    print(section)


if __name__ == "__main__":
    main()
