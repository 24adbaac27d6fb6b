"""`synthlift run SOURCE`: run the Dagster assets in-process and print the decision."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from pipelines.run_config import MAX_SEED
from quality.lift.statistics import MIN_LIFT_SEEDS

DEFAULT_OUT = "synthlift_output"


class ArgumentError(Exception):
    """A bad command line: reported like every other error (one line, and JSON with --json)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would print usage and exit; main reports it instead
        raise ArgumentError(message)


def build_parser() -> argparse.ArgumentParser:
    from pipelines.config import IMAGE_GAN, TABLE_GAN
    from quality.curation.images import DEFAULT_IMAGE_CURATION
    from quality.data.images import DIGITS_GAN_STEPS, FOLDER_IMAGE_SIZE
    from quality.lift.images import CNN_EPOCHS

    parser = _Parser(prog="synthlift", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="augment one dataset and publish it only if it proves its lift")
    run.add_argument("source", help="breast_cancer, wine, digits, or a path to a CSV/Parquet/.npz file or image folder")
    run.add_argument("--label", default="", help="label column of a table")
    run.add_argument("--drop", action="append", metavar="COL",
                     help="tables: leave column COL out (repeat for more), e.g. a record identifier; never the label")
    run.add_argument("--keep", action="append", metavar="COL",
                     help="tables: keep column COL although its distinct whole numbers look like record numbers "
                     "(which are dropped with a warning); repeat for more")
    run.add_argument("--name", type=dataset_name_arg, default=None,
                     help="dataset (partition and publication) name: up to 63 lower-case letters, digits, '-' and '_'; "
                     "default: from the source")
    run.add_argument("--out", default=os.environ.get("SYNTHLIFT_HOME", DEFAULT_OUT),
                     help=f"storage root for artefacts and publications (default: $SYNTHLIFT_HOME or {DEFAULT_OUT})")
    run.add_argument("--epochs", type=at_least(1), help=f"tabular GAN epochs (default {TABLE_GAN.epochs})")
    run.add_argument("--max-steps", type=at_least(0),
                     help=f"tabular GAN: at most this many training steps, whatever the epochs (default "
                     f"{TABLE_GAN.max_steps}; 0: no cap)")
    run.add_argument("--image-steps", type=at_least(1), help=f"image GAN steps (default {IMAGE_GAN.steps}; "
                     f"{DIGITS_GAN_STEPS} for the built-in digits)")
    run.add_argument("--image-minutes", type=minutes_arg,
                     help="image GAN: stop training when this many minutes are spent, or at --image-steps, whichever "
                     f"comes first (default {IMAGE_GAN.budget_minutes:g}; 0: no budget)")
    run.add_argument("--seed", type=at_least(0, at_most=MAX_SEED), default=0,
                     help="seed of the split, the GAN and the sampler")
    run.add_argument("--sampling-strategy", type=sampling_strategy_arg, default="auto",
                     help="'auto', 'minority', a ratio, or a JSON dict")
    run.add_argument("--image-curation", type=at_least(1),
                     help=f"images: generate N candidates per synthetic image kept, and keep those the checks' CNN "
                     "labels as their class, that copy no train image and that add the most coverage (default "
                     f"{DEFAULT_IMAGE_CURATION}; 1 keeps every sample)")
    run.add_argument("--min-lift", type=min_lift_arg, default=0.0,
                     help="lower CI bound the lift must exceed (>= 0; default 0)")
    run.add_argument("--require-beat-baseline", action="store_true",
                     help="gate on the lift over the classic baseline hardest to beat instead of real-only")
    run.add_argument("--folds", type=at_least(0),
                     help="how the lift is proved: 0 by the rule (the default), 1 one validation split, K K-fold "
                     "cross-fitting over every deciding row")
    run.add_argument("--repeats", type=at_least(1), default=1,
                     help="tables: draw the cross-fitting folds R times, judging every row R times (steadier "
                     "figures; each repetition costs K more GANs and K times the lift's fits; default 1)")
    run.add_argument("--holdout-fraction", type=fraction_arg,
                     help="share of rows held out to report final figures only (default: 0.2 for the built-in "
                     "demos, 0 for your own tables)")
    run.add_argument("--lift-seeds", type=at_least(1), default=MIN_LIFT_SEEDS,
                     help=f"downstream training seeds (default {MIN_LIFT_SEEDS}; a lift over fewer than "
                     f"{MIN_LIFT_SEEDS} never publishes)")
    run.add_argument("--checkpoint-every", type=at_least(0), default=0,
                     help="save a resumable training checkpoint every N steps; a re-run resumes from it")
    run.add_argument("--lift-epochs", type=at_least(1), help=f"images: epochs of the downstream CNN (default {CNN_EPOCHS})")
    run.add_argument("--per-class", action="store_true", help="images: one GAN per class, each its own step")
    run.add_argument("--image-size", type=image_size_arg,
                     help=f"images: resize folder images and the built-in digits to this many pixels a side (default "
                     f"{FOLDER_IMAGE_SIZE}; a multiple of 4); MedMNIST files keep their size")
    run.add_argument("--device", type=device_arg, default="auto", help="auto, cpu or cuda (or cuda:N)")
    run.add_argument("--json", action="store_true", help="print the outcome as one JSON object on the last line")
    run.add_argument("--traceback", action="store_true",
                     help="on an error, keep the stack traces Dagster logs (by default each error is one line)")
    return parser


def at_least(minimum: int, at_most: Optional[int] = None) -> Callable[[str], int]:
    """argparse type: an integer no smaller than ``minimum`` (and no larger than ``at_most``)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        if at_most is not None and value > at_most:
            raise argparse.ArgumentTypeError(f"must be at most {at_most}, got {value}")
        return value
    return parse


def minutes_arg(text: str) -> float:
    """argparse type: a number of minutes, at least 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of minutes, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number of minutes >= 0, got {text}")
    return value


def image_size_arg(text: str) -> int:
    """argparse type: a side the image GAN can grow to (a multiple of 4, at least 16)."""
    value = at_least(16)(text)
    if value % 4:
        raise argparse.ArgumentTypeError(f"must be a multiple of 4 (the GAN grows images by 2x steps), got {value}")
    return value


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def fraction_arg(text: str) -> float:
    """argparse type: a share in [0, 0.5)."""
    value = _number(text)
    if not 0 <= value < 0.5:
        raise argparse.ArgumentTypeError(f"must lie in [0, 0.5), got {value}")
    return value


def min_lift_arg(text: str) -> float:
    from pipelines.catalog import check_min_lift

    value = _number(text)
    _checked(check_min_lift, value)
    return value


def dataset_name_arg(text: str) -> str:
    """argparse type: a valid partition key, which also names the publication's folder."""
    from pipelines.catalog import check_partition_key

    return _checked(check_partition_key, text)


def device_arg(text: str) -> str:
    from pipelines.catalog import check_device

    return _checked(check_device, text)


def sampling_strategy_arg(text: str) -> str:
    """argparse type: a sampling strategy of a valid form (its class names are checked against the data)."""
    from gan_models.sampling import check_sampling_strategy_text

    return _checked(check_sampling_strategy_text, text)


def _checked(check: Callable[[Any], None], value: Any) -> Any:
    """``value`` if ``check`` accepts it; its ``ValueError`` becomes argparse's error for the option."""
    try:
        check(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return value


def check_run_options(args: argparse.Namespace) -> None:
    """What parsing alone cannot check, before anything runs: options the source's modality would ignore,
    a CUDA device this machine lacks, and an output folder that cannot be written. Raises ``ValueError``
    (``FileNotFoundError`` for a missing source)."""
    from pipelines.catalog import check_options_for_modality
    from quality.data.sources import modality_of

    modality = modality_of(args.source)
    check_options_for_modality(modality, {
        "--epochs": args.epochs, "--max-steps": args.max_steps, "--image-steps": args.image_steps,
        "--image-minutes": args.image_minutes, "--per-class": args.per_class,
        "--lift-epochs": args.lift_epochs, "--image-size": args.image_size, "--image-curation": args.image_curation, "--drop": args.drop, "--keep": args.keep,
        "--repeats": args.repeats if args.repeats > 1 else None,
    })
    if modality == "image" and args.folds is not None and args.folds > 1:
        from quality.data.plan import IMAGES_KEEP_THEIR_SPLIT

        raise ValueError(f"--folds {args.folds}: {IMAGES_KEEP_THEIR_SPLIT}. Use --folds 0 or 1")
    if args.device.startswith("cuda"):
        from gan_models.runtime import select_device  # imports torch: only when a GPU is asked for

        select_device(args.device)
    _check_writable(Path(args.out))


def _check_writable(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out}: is a file; give a folder (it is created if missing)")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as err:
        raise ValueError(f"--out {out}: cannot create or write there ({err.strerror or err}); give a writable folder") from None


def run_config_from_args(args: argparse.Namespace) -> dict[str, Any]:
    from pipelines.run_config import augmentation_run_config

    return augmentation_run_config(
        source=args.source, label=args.label, drop_columns=args.drop or (), keep_columns=args.keep or (),
        seed=args.seed, device=args.device, epochs=args.epochs, max_steps=args.max_steps,
        image_steps=args.image_steps, image_minutes=args.image_minutes, checkpoint_every=args.checkpoint_every, per_class=args.per_class,
        sampling_strategy=args.sampling_strategy, image_curation=args.image_curation, folds=args.folds, repeats=args.repeats, holdout_fraction=args.holdout_fraction,
        lift_seeds=args.lift_seeds, lift_epochs=args.lift_epochs, image_size=args.image_size,
        min_lift=args.min_lift, require_beat_baseline=args.require_beat_baseline,
    )


def dataset_name(args: argparse.Namespace) -> str:
    from quality.data.sources import default_dataset_name

    return args.name or default_dataset_name(args.source)


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
    except ArgumentError as err:
        return report_error(f"{err} (see synthlift run --help)", "--json" in argv)
    try:
        check_run_options(args)
    except (ValueError, FileNotFoundError) as err:
        return report_error(str(err), args.json)
    from pipelines.runner import RunFailed, run_augmentation  # Dagster is slow to import: after parsing

    try:
        outcome = run_augmentation(run_config_from_args(args), Path(args.out), dataset_name(args),
                                   tracebacks=args.traceback)
    except RunFailed as failure:
        return report_error(str(failure), args.json)
    print_outcome(outcome, as_json=args.json)
    if outcome["decision"] == "rejected":  # after Dagster's error lines for failed checks: say it is a decision
        print(f"synthlift: rejected, an honest decision (exit 0): {len(outcome['reasons'])} reason(s) above; "
              "nothing was published and the last publication is untouched", file=sys.stderr)
    return 0


def report_error(message: str, as_json: bool) -> int:
    """One line on stderr (and, with --json, a JSON object on stdout); exit status 2."""
    print(f"synthlift: error: {message}", file=sys.stderr)
    if as_json:
        print(json.dumps({"decision": None, "error": message}))
    return 2


def print_outcome(outcome: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(outcome, default=str))
        return
    print(f"decision: {outcome['decision']}")
    for reason in outcome["reasons"]:
        print(f"  - {reason}")
    if outcome.get("output"):
        print(f"published to: {outcome['output']}")
    print(f"class counts before: {outcome['class_counts_before']}")
    print(f"class counts after:  {outcome['class_counts_after']}")
    from quality.publish.card import protocol_lines

    for line in protocol_lines(outcome):
        print(line)


if __name__ == "__main__":
    sys.exit(main())
