"""The CUDA path on a GPU machine: device choice, bf16 autocast, GPU-trained models used on the CPU,
flat-memory sampling, resume after a crash, and fit time on the GPU against the same machine's CPU.

Needs only ``gan_models`` and ``quality``'s loaders (no Dagster), so it runs wherever torch sees a GPU:

    python -m bench.gpu_check [--data ../shared/data/breastmnist.npz] [--out BENCHMARKS.md]
    python -m bench.gpu_check --from-json bench/results/gpu_check.json   # re-render the section only

Times are wall seconds of one run each, each after a short warm-up fit on the same device (so CUDA start-up
and first-call costs are not counted).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

from bench import common
from bench.common import TableSplit, table_split
from gan_models.image import ImageGAN, ImageGANConfig
from gan_models.runtime import select_device, state_fingerprint
from gan_models.tabular import TabularGAN, TabularGANConfig, training_plan
from quality.data.images import load_medmnist_npz, split_images
from quality.data.tables import load_table

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO_ROOT / ".." / "shared" / "data" / "breastmnist.npz"
RESULTS_PATH = Path("bench/results/gpu_check.json")
SECTION_HEADING = "## GPU (CUDA path)"
SAMPLE_SIZES = (100_000, 1_000_000)
CPU_IMAGE_STEPS = 100
AGREEMENT_ROWS_PER_CLASS = 2_000


class _Crash(Exception):
    """Raised from a progress callback to stop a fit part-way, as a killed run would stop."""


def timed(work: Callable[[], Any]) -> tuple[Any, float]:
    """Run ``work``; return its result and its wall seconds, queued CUDA kernels included."""
    started = time.perf_counter()
    result = work()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return result, time.perf_counter() - started


def layer_dtypes(work: Callable[[], Any]) -> list[str]:
    """The dtypes of every ``nn.Linear``/``nn.Conv2d`` output while ``work`` runs (bf16: autocast was on).
    Kept out of the timed fits: a global forward hook slows every module call."""
    dtypes: set[str] = set()

    def record(module: torch.nn.Module, _inputs: Any, output: Any) -> None:
        if isinstance(module, (torch.nn.Linear, torch.nn.Conv2d)) and isinstance(output, torch.Tensor):
            dtypes.add(str(output.dtype).removeprefix("torch."))

    handle = torch.nn.modules.module.register_module_forward_hook(record)
    try:
        work()
    finally:
        handle.remove()
    return sorted(dtypes)


@contextlib.contextmanager
def cpu_threads(threads: int) -> Iterator[None]:
    """Run the block with ``threads`` torch CPU threads, then restore the previous count."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


# -------------------------------------------------------------------------------------- tabular
def fit_tabular(split: TableSplit, epochs: int, device: str, checkpoint_dir: Path | None = None,
                stop_at_step: int | None = None) -> tuple[TabularGAN, float]:
    model = TabularGAN(TabularGANConfig(epochs=epochs, device=device, checkpoint_every=10 if checkpoint_dir else 0))

    def progress(step: int, _total: int, _losses: dict) -> None:
        if stop_at_step is not None and step >= stop_at_step:
            raise _Crash

    return timed(lambda: model.fit(split.train, split.label_column, progress=progress, checkpoint_dir=checkpoint_dir))


def label_agreement(model: TabularGAN, split: TableSplit) -> float:
    """Share of generated rows that a logistic regression fitted on the real train rows puts in the
    class they were generated for (all benchmark tables are numeric)."""
    features = split.train.drop(columns=[split.label_column])
    classifier = LogisticRegression(max_iter=5000).fit(features, split.train[split.label_column])
    rows = next(model.sample({c: AGREEMENT_ROWS_PER_CLASS for c in model.classes},
                             chunk_size=AGREEMENT_ROWS_PER_CLASS * len(model.classes)))
    predicted = classifier.predict(rows[features.columns])
    return float(np.mean(predicted == rows[split.label_column].to_numpy()))


def sampling_memory(model: TabularGAN) -> list[dict[str, Any]]:
    """Seconds and GPU memory to generate each of SAMPLE_SIZES rows in the default chunks: what was
    allocated before sampling (weights and everything else alive) and the peak while sampling."""
    figures = []
    for total in SAMPLE_SIZES:
        per_class = {c: total // len(model.classes) for c in model.classes}
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        rows, seconds = timed(lambda: sum(len(chunk) for chunk in model.sample(per_class)))
        figures.append({"rows": rows, "seconds": seconds, "gpu_mib_before": before / 2**20,
                        "peak_gpu_mib": torch.cuda.max_memory_allocated() / 2**20})
    return figures


def resume_on_gpu(split: TableSplit, epochs: int, uninterrupted: TabularGAN) -> dict[str, Any]:
    """Stop a CUDA fit half-way, resume it from its checkpoint, and compare with the uninterrupted fit."""
    with tempfile.TemporaryDirectory() as directory:
        total_steps = training_plan(len(split.train), TabularGANConfig(epochs=epochs)).total_steps
        try:
            fit_tabular(split, epochs, "cuda", Path(directory), stop_at_step=total_steps // 2)
        except _Crash:
            pass
        resumed, _ = fit_tabular(split, epochs, "cuda", Path(directory))
    return {"resumed_from_step": resumed.training_info["resumed_from_step"],
            "same_weights_as_uninterrupted": _fingerprint(resumed) == _fingerprint(uninterrupted)}


def gpu_model_on_cpu(model: TabularGAN | ImageGAN, sample: Callable[[Any], Any]) -> dict[str, Any]:
    """Save a CUDA-trained model, load it with ``device="cpu"`` and sample from it there."""
    with tempfile.TemporaryDirectory() as directory:
        model.save(Path(directory))
        loaded = type(model).load(Path(directory), device="cpu")
        return {"loaded_on": str(loaded.device), "sampled": sample(loaded)}


def _fingerprint(model: TabularGAN) -> str:
    return state_fingerprint(model.generator.state_dict())


def tabular_figures(dataset: str, epochs: int) -> dict[str, Any]:
    common.log(f"tabular {dataset}: {epochs} epochs on CUDA and on one CPU thread")
    split = table_split(load_table(dataset), seed=0)
    gpu_dtypes = layer_dtypes(lambda: fit_tabular(split, 2, "cuda"))  # also the warm-up
    gpu, gpu_seconds = fit_tabular(split, epochs, "cuda")
    again, _ = fit_tabular(split, epochs, "cuda")
    with cpu_threads(1):
        cpu_dtypes = layer_dtypes(lambda: fit_tabular(split, 2, "cpu"))  # also the warm-up
        cpu, cpu_seconds = fit_tabular(split, epochs, "cpu")
    return {
        "dataset": dataset, "train_rows": len(split.train), "epochs": epochs,
        "gpu_seconds": gpu_seconds, "cpu_1thread_seconds": cpu_seconds,
        "gpu_linear_dtypes": gpu_dtypes, "cpu_linear_dtypes": cpu_dtypes,
        "gpu_device": gpu.training_info["device"],
        "gpu_repeat_same_weights": _fingerprint(gpu) == _fingerprint(again),
        "label_agreement_gpu": label_agreement(gpu, split),
        "label_agreement_cpu": label_agreement(cpu, split),
        "sampling": sampling_memory(gpu),
        "resume": resume_on_gpu(split, epochs, gpu),
        "on_cpu": gpu_model_on_cpu(gpu, lambda m: len(next(m.sample({c: 50 for c in m.classes})))),
    }


# --------------------------------------------------------------------------------------- images
def image_figures(data_path: Path) -> dict[str, Any]:
    split = split_images(load_medmnist_npz(data_path), seed=0)
    images, labels = split.train_images, split.train_labels
    config = ImageGANConfig()
    common.log(f"images {data_path.name}: {config.steps} steps on CUDA, {CPU_IMAGE_STEPS} on the CPU")

    def fit(steps: int, device: str) -> tuple[ImageGAN, float]:
        model = ImageGAN(ImageGANConfig(steps=steps, device=device))
        return timed(lambda: model.fit(images, labels, n_classes=split.n_classes))

    gpu_dtypes = layer_dtypes(lambda: fit(20, "cuda"))  # also the warm-up
    gpu, gpu_seconds = fit(config.steps, "cuda")
    fit(5, "cpu")  # warm-up
    _, cpu_seconds = fit(CPU_IMAGE_STEPS, "cpu")
    return {
        "data": data_path.name, "train_images": len(images), "image_shape": list(images.shape[1:]),
        "batch_size": config.batch_size,
        "gpu_steps": config.steps, "gpu_seconds": gpu_seconds, "gpu_steps_per_second": config.steps / gpu_seconds,
        "cpu_steps": CPU_IMAGE_STEPS, "cpu_threads": torch.get_num_threads(), "cpu_seconds": cpu_seconds,
        "cpu_steps_per_second": CPU_IMAGE_STEPS / cpu_seconds,
        "gpu_conv_linear_dtypes": gpu_dtypes, "gpu_device": str(gpu.device),
        "on_cpu": gpu_model_on_cpu(gpu, lambda m: list(next(m.sample({c: 8 for c in m.classes}))[0].shape)),
    }


# --------------------------------------------------------------------------------------- report
def render(run: dict[str, Any]) -> str:
    machine = run["machine"]
    lines = [
        SECTION_HEADING, "",
        f"`{run['command']}`, {run['started']} UTC, on {machine['gpu']} with {machine['nproc']} CPU cores "
        f"({machine['cpu_model']}), torch {machine['torch']}. `select_device('auto')` chose `{run['auto_device']}`. "
        "Wall seconds of one run each, each after a short warm-up fit on the same device.", "",
        "| table | rows | epochs | GPU s | CPU s (1 thread, same machine) | layer dtypes on GPU | "
        "label agreement GPU / CPU | GPU repeat identical | resumed after crash: from step, identical |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for t in run["tabular"]:
        lines.append(
            f"| {t['dataset']} | {t['train_rows']} | {t['epochs']} | {t['gpu_seconds']:.2f} | "
            f"{t['cpu_1thread_seconds']:.2f} | {', '.join(t['gpu_linear_dtypes'])} | "
            f"{t['label_agreement_gpu']:.2f} / {t['label_agreement_cpu']:.2f} | {t['gpu_repeat_same_weights']} | "
            f"{t['resume']['resumed_from_step']}, {t['resume']['same_weights_as_uninterrupted']} |")
    lines += ["", "| table | rows sampled on GPU | seconds | GPU MiB allocated before | peak GPU MiB while sampling |",
              "|---|---|---|---|---|"]
    for t in run["tabular"]:
        for s in t["sampling"]:
            lines.append(f"| {t['dataset']} | {s['rows']:,} | {s['seconds']:.2f} | {s['gpu_mib_before']:.0f} | "
                         f"{s['peak_gpu_mib']:.0f} |")
    image = run.get("image")
    if image:
        lines += [
            "", f"Images ({image['data']}, {image['train_images']} train images {image['image_shape']}, batch "
            f"{image['batch_size']}): GPU {image['gpu_steps']} steps in {image['gpu_seconds']:.1f} s "
            f"({image['gpu_steps_per_second']:.1f} steps/s, layer dtypes {', '.join(image['gpu_conv_linear_dtypes'])}); "
            f"CPU ({image['cpu_threads']} threads) {image['cpu_steps']} steps in {image['cpu_seconds']:.1f} s "
            f"({image['cpu_steps_per_second']:.1f} steps/s).",
        ]
    loaded = [f"{t['dataset']} → {t['on_cpu']['loaded_on']}, {t['on_cpu']['sampled']} rows" for t in run["tabular"]]
    if image:
        loaded.append(f"{image['data']} → {image['on_cpu']['loaded_on']}, images {image['on_cpu']['sampled']}")
    lines += ["", "GPU-trained models saved, loaded with `device='cpu'` and sampled there: " + "; ".join(loaded) + "."]
    if run.get("note"):
        lines += ["", run["note"]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="MedMNIST .npz for the image part")
    parser.add_argument("--datasets", nargs="+", default=["breast_cancer", "wine"])
    parser.add_argument("--epochs", type=common.positive_int, default=300)
    common.add_report_arguments(parser, RESULTS_PATH)
    args = parser.parse_args(argv)
    if args.from_json:
        run = json.loads(args.from_json.read_text())
    else:
        if not torch.cuda.is_available():
            sys.exit("bench.gpu_check needs a CUDA GPU; torch sees none on this machine")
        clock = common.RunClock()
        auto_device = str(select_device("auto"))
        tabular = [tabular_figures(dataset, args.epochs) for dataset in args.datasets]
        image = image_figures(args.data) if args.data.is_file() else None
        if image is None:
            common.log(f"no image data at {args.data}: the image part is skipped")
        run = clock.record("bench.gpu_check", argv, common.machine_info(),
                           auto_device=auto_device, tabular=tabular, image=image, note=args.note)
        args.results.parent.mkdir(parents=True, exist_ok=True)
        args.results.write_text(json.dumps(run, indent=1, default=common.json_default))
    common.replace_section(args.out, SECTION_HEADING, render(run))
    print(render(run))


if __name__ == "__main__":
    main()
