"""The image implementation of each pipeline step: glue between config, gan_models and quality."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import pandas as pd
from dagster import MetadataValue

from assets.metadata import png_markdown
from assets.progress import count_progress
from gan_models.sampling import part_samples_to_generate, samples_to_generate
from gan_models.image import ImageGAN, ImageGANConfig, PerClassImageGAN, image_grid, sample_grid, train_single_class
from gan_models.runtime import state_fingerprint
from pipelines.config import DatasetConfig, GeneratorConfig, LiftConfig, PlanConfig, QualityThresholds, SamplingConfig
from quality.data.plan import DEMO_HOLDOUT_FRACTION, IMAGES_KEEP_THEIR_SPLIT
from quality.checks import diversity, fidelity, privacy, validity
from quality.report import plots
from quality.data.artifacts import LiftResult, SyntheticImages
from quality.checks.image_features import FeatureExtractor, train_feature_extractor
from quality.curation.images import curate_images
from quality.data.image_folders import load_image_folder
from quality.data.images import (
    DIGITS_GAN_STEPS, DIGITS_SCARCE_TRAIN_ROWS, ImageDataset, ImageSplit, load_digits_builtin, load_medmnist_npz,
    constant_classes, publication_folder_name, split_images,
)
from quality.lift.images import image_lift_reports
from quality.report.markdown import markdown_table
from quality.checks.result import CheckResult

MODALITY = "image"
ALL_CLASSES = -1  # the training part of the joint conditional GAN
DIGITS_SOURCE = "builtin:digits"  # what load_digits_builtin records as its source
GRID_ROWS_PER_CLASS = 8


def load(config: DatasetConfig, name: str) -> ImageDataset:
    source = config.source
    if source == "digits":
        dataset = load_digits_builtin(size=config.image_size)
    elif source.lower().endswith(".npz"):
        dataset = load_medmnist_npz(source)
        _check_trainable_size(dataset.images, source)
    else:
        dataset = load_image_folder(source, size=config.image_size)
    dataset.name = name
    return dataset


def _check_trainable_size(images: np.ndarray, source: str) -> None:
    """Refuse, when the file is read, an image size the GAN cannot grow (instead of failing in training)."""
    from gan_models.image.architectures import resolution_plan

    height, width = images.shape[1:3]
    try:
        if height != width:
            raise ValueError("images must be square")
        resolution_plan(int(height))
    except ValueError:
        raise ValueError(f"{source}: images are {height}x{width}; the image GAN needs square images whose side is "
                         "a multiple of 4 and at least 16 (e.g. 28, 32, 64, 128); resize or pad them first") from None


def dataset_metadata(dataset: ImageDataset) -> dict[str, Any]:
    counts = np.bincount(dataset.labels, minlength=len(dataset.class_names))
    return {
        "modality": MODALITY,
        "images": len(dataset.labels),
        "image_shape": MetadataValue.json(list(dataset.images.shape[1:])),
        "official_splits": MetadataValue.json(sorted(dataset.official_splits)),
        "class_counts": MetadataValue.md(markdown_table(["class", "images"], list(zip(dataset.class_names, counts.tolist())))),
    }


def input_warnings(dataset: ImageDataset) -> list[str]:
    warnings = []
    present = sorted(dataset.official_splits)
    if len(present) == 1:  # split_images pools a lone official split with train and re-splits everything
        warnings.append(f"the file has an official '{present[0]}' split but no "
                        f"'{'test' if present[0] == 'val' else 'val'}' split: its '{present[0]}' images are pooled "
                        "with train and re-split, so some of them train the GAN")
    constant = constant_classes(dataset)
    if constant:  # legitimate for a class that is not generated (blank pages); fatal for one that is
        warnings.append(f"every training image of class(es) {constant} is constant (a single pixel value): images "
                        "generated for such a class fail the validity check, which requires non-constant images")
    return warnings


def plan(dataset: ImageDataset, config: PlanConfig) -> ImageSplit:
    if config.folds > 1 or config.repeats > 1:
        asked = f"folds={config.folds}" if config.folds > 1 else f"repeats={config.repeats}"
        raise ValueError(f"{asked}: {IMAGES_KEEP_THEIR_SPLIT}. Use folds 0 or 1 and repeats 1")
    holdout = DEMO_HOLDOUT_FRACTION if config.holdout_fraction is None else config.holdout_fraction
    official = {"val", "test"} <= set(dataset.official_splits)
    if official and config.holdout_fraction is not None:
        raise ValueError(f"{dataset.source}: holdout_fraction applies to images without official splits; this "
                         "file's own val and test splits decide and report (leave --holdout-fraction out)")
    if holdout <= 0 and not official:
        raise ValueError("images need an outer holdout (--holdout-fraction above 0) unless the file has official "
                         "val and test splits")
    return split_images(dataset, config.seed, config.validation_fraction, holdout,
                        train_caps=_train_caps(dataset, config.scarce_train_rows))


def plan_summary(data: ImageSplit) -> dict[str, Any]:
    return {**data.protocol.to_dict(), "deciding_rows": int(len(data.train_labels) + len(data.validation_labels)),
            "holdout_rows": int(len(data.holdout_labels))}


def _train_caps(dataset: ImageDataset, scarce_train_rows: Optional[int]) -> Optional[dict[int, int]]:
    if scarce_train_rows is None:
        return dict(DIGITS_SCARCE_TRAIN_ROWS) if dataset.source == DIGITS_SOURCE else None
    if scarce_train_rows == 0:
        return None
    majority = int(np.bincount(dataset.labels).argmax())
    return {c: scarce_train_rows for c in range(len(dataset.class_names)) if c != majority}


def plan_sizes(data: ImageSplit) -> dict[str, dict[str, int]]:
    return {part: _named_counts(getattr(data, f"{part}_labels"), data.class_names)
            for part in ("train", "validation", "holdout")}


def class_counts(data: ImageSplit) -> dict[str, int]:
    """Images per class that decide (train and validation): the real images published."""
    return _named_counts(_deciding_labels(data), data.class_names)


def _named_counts(labels: np.ndarray, class_names: list[str]) -> dict[str, int]:
    counts = np.bincount(labels, minlength=len(class_names))
    return {name: int(n) for name, n in zip(class_names, counts)}


def gan_config(config: GeneratorConfig, data: ImageSplit) -> ImageGANConfig:
    return ImageGANConfig(architecture=config.architecture, loss=config.loss, regulariser=config.regulariser,
                          steps=config.image_steps or default_gan_steps(data),
                          budget_minutes=config.image_minutes or 0.0, seed=config.seed, device=config.device,
                          checkpoint_every=config.checkpoint_every)


def default_gan_steps(data: ImageSplit) -> int:
    """The GAN's steps when none are asked for: ``DIGITS_GAN_STEPS`` for the built-in digits."""
    return DIGITS_GAN_STEPS if data.source == DIGITS_SOURCE else ImageGANConfig.steps


def training_parts(data: ImageSplit, config: GeneratorConfig) -> dict[str, int]:
    """One joint conditional GAN (``ALL_CLASSES``), or one GAN per class in per_class mode."""
    if not config.per_class:
        return {"all_classes": ALL_CLASSES}
    return {f"class_{index}": index for index in range(data.n_classes)}


def train_part(data: ImageSplit, config: GeneratorConfig, part: int, progress: Callable,
               checkpoint_dir: Optional[Path]) -> ImageGAN:
    """The joint conditional GAN (part -1) or the GAN of one class."""
    if part == ALL_CLASSES:
        return ImageGAN(gan_config(config, data)).fit(data.train_images, data.train_labels, n_classes=data.n_classes,
                                                progress=progress, checkpoint_dir=checkpoint_dir)
    return train_single_class(data.train_images[data.train_labels == part], part, gan_config(config, data),
                              progress=progress, checkpoint_dir=checkpoint_dir)


def resumed_from_step(model: ImageGAN) -> int:
    return int(model.training_info.get("resumed_from_step", 0))


def combine_parts(data: ImageSplit, parts: list[ImageGAN]):
    if len(parts) == 1 and len(parts[0].classes) != 1:
        return parts[0]
    return PerClassImageGAN({model.classes[0]: model for model in parts})


def model_version(model) -> str:
    if isinstance(model, PerClassImageGAN):
        digest = hashlib.sha256("".join(model_version(m) for _, m in sorted(model.models.items())).encode())
        return digest.hexdigest()[:12]
    return state_fingerprint(model.generator_ema.state_dict())


def generator_summary(model) -> dict[str, Any]:
    """The GAN configuration(s) and training facts, for the data card (no loss curves)."""
    models = model.models if isinstance(model, PerClassImageGAN) else {"all_classes": model}
    return {str(name): {"config": part.config.to_dict(),
                        **{k: v for k, v in part.metadata().items() if k != "loss_history"}}
            for name, part in models.items()}


def training_metadata(model, data: ImageSplit) -> dict[str, Any]:
    grid = sample_grid(data.train_images, data.train_labels, model, per_class=GRID_ROWS_PER_CLASS)
    metadata: dict[str, Any] = {
        "model_version": model_version(model),
        "sample_grid": png_markdown(plots.image_png(grid), "real (left) beside synthetic (right), per class"),
    }
    for name, value in model.metadata().items():
        if isinstance(value, (int, float, str)) and not isinstance(value, bool):
            metadata[name] = value
    if isinstance(model, ImageGAN):  # did the wall-clock budget (image_minutes) end training before its steps?
        metadata["stopped_by_budget"] = bool(model.stopped_by_budget)
    history = _loss_history(model)
    if history:
        metadata["loss_curves"] = png_markdown(plots.loss_curves_png(history, x_key="step"), "loss curves")
    return metadata


def _loss_history(model) -> list[dict]:
    if isinstance(model, PerClassImageGAN):
        return []
    return model.loss_history


def rows_to_generate(data: ImageSplit, config: SamplingConfig) -> dict[int, int]:
    """New images per class index (zero included) that the sampling strategy asks of every deciding image (train
    and validation): the ones published beside them. The strategy must also fit the train images alone, which the
    lift balances: that is checked here too, so a strategy that does not is refused before the GAN trains."""
    _lift_rows_to_generate(data, config)
    return samples_to_generate(_counts_by_index(_deciding_labels(data), data), _strategy(data, config))


def _lift_rows_to_generate(data: ImageSplit, config: SamplingConfig) -> dict[int, int]:
    """New images per class index that the lift adds to the train images (:func:`part_samples_to_generate`)."""
    return part_samples_to_generate(_counts_by_index(_deciding_labels(data), data),
                                    _counts_by_index(data.train_labels, data), _strategy(data, config))


def _counts_by_index(labels: np.ndarray, data: ImageSplit) -> dict[int, int]:
    return dict(enumerate(np.bincount(labels, minlength=data.n_classes).tolist()))


def _strategy(data: ImageSplit, config: SamplingConfig):
    return _strategy_by_index(config.parsed_strategy(), data.class_names)


def _deciding_labels(data: ImageSplit) -> np.ndarray:
    return np.concatenate([data.train_labels, data.validation_labels])


def generate(model, data: ImageSplit, config: SamplingConfig) -> SyntheticImages:
    """One pool of samples per class, curated when asked: the publication takes the first ``rows_to_generate`` of
    each class (they balance every deciding image), the lift the first that balance the train images it trains on."""
    published, for_lift = rows_to_generate(data, config), _lift_rows_to_generate(data, config)
    wanted = {cls: max(n, for_lift[cls]) for cls, n in published.items() if max(n, for_lift[cls]) > 0}
    images, labels = _sampled(model, data, {cls: n * config.image_curation for cls, n in wanted.items()}, config)
    summary = {}
    if config.image_curation > 1 and wanted:
        curation = curate_images(feature_extractor(data), data.train_images, data.train_labels, images, labels, wanted)
        images, labels = images[curation.keep], labels[curation.keep]
        summary = {"factor": config.image_curation, **curation.summary(data.class_names)}
        _refuse_a_shortfall(curation, wanted, data.class_names)
    shown, lifted = _first_of_each_class(labels, published), _first_of_each_class(labels, for_lift)
    return SyntheticImages(images=images[shown], labels=labels[shown], class_names=data.class_names,
                           model_version=model_version(model), seed=config.seed,
                           counts={data.class_names[c]: n for c, n in published.items()}, curation=summary,
                           lift_images=images[lifted], lift_labels=labels[lifted])


def _refuse_a_shortfall(curation, wanted: dict[int, int], class_names: list[str]) -> None:
    short = {class_names[cls]: (curation.kept[cls], n) for cls, n in wanted.items() if curation.kept[cls] < n}
    if short:
        detail = "; ".join(f"class {name!r}: {kept} of {n}" for name, (kept, n) in short.items())
        raise ValueError(f"curation kept too few synthetic images ({detail}): the other candidates are near-copies of "
                         "train images, which no publication may hold. Retrain the GAN (another --seed, fewer "
                         "--image-steps) or ask for fewer images (--sampling-strategy)")


def _first_of_each_class(labels: np.ndarray, counts: dict[int, int]) -> np.ndarray:
    """Positions of the first ``counts[c]`` images of each class ``c``, in their order."""
    keep = np.zeros(len(labels), dtype=bool)
    for cls, n in counts.items():
        keep[np.flatnonzero(labels == cls)[:n]] = True
    return np.flatnonzero(keep)


def curation_summary(synthetic: SyntheticImages) -> dict[str, Any]:
    """What curation kept of the candidates, per class; empty when every sample was kept."""
    return synthetic.curation


def _sampled(model, data: ImageSplit, wanted: dict[int, int], config: SamplingConfig) -> tuple[np.ndarray, np.ndarray]:
    chunks = list(model.sample(wanted, chunk_size=config.chunk_size, seed=config.seed)) if wanted else []
    height, width, channels = data.train_images.shape[1:]
    images = np.concatenate([c[0] for c in chunks]) if chunks else np.zeros((0, height, width, channels), np.uint8)
    labels = np.concatenate([c[1] for c in chunks]) if chunks else np.zeros(0, np.int64)
    return images, labels


def _strategy_by_index(strategy, class_names: list[str]):
    """Dict strategies name classes; the GAN speaks class indices."""
    if not isinstance(strategy, dict):
        return strategy
    index = {name: i for i, name in enumerate(class_names)}
    unknown = [name for name in strategy if str(name) not in index]
    if unknown:
        raise ValueError(f"sampling_strategy names class(es) {unknown}, which are not among the classes {class_names}")
    return {index[str(name)]: count for name, count in strategy.items()}


_EXTRACTORS: dict[str, FeatureExtractor] = {}


def feature_extractor(data: ImageSplit) -> FeatureExtractor:
    """The CNN feature space of the checks, trained on the real train split only; the checks of one
    process share it (keyed by the exact train images and labels)."""
    labels = np.ascontiguousarray(data.train_labels, dtype=np.int64)
    key = hashlib.sha256(np.ascontiguousarray(data.train_images).tobytes() + labels.tobytes()).hexdigest()
    if key not in _EXTRACTORS:
        _EXTRACTORS.clear()
        _EXTRACTORS[key] = train_feature_extractor(data.train_images, labels, seed=0, n_classes=data.n_classes)
    return _EXTRACTORS[key]


def run_check(name: str, data: ImageSplit, synthetic: SyntheticImages, thresholds: QualityThresholds) -> CheckResult:
    if name == "validity":
        expected = {data.class_names.index(c): n for c, n in synthetic.counts.items() if n > 0}
        return validity.image_validity_check(data.train_images, synthetic.images, synthetic.labels,
                                             data.n_classes, expected_counts=expected)
    extractor = feature_extractor(data)
    if name == "fidelity":
        return fidelity.image_fidelity_check(extractor, data.train_images, data.train_labels, synthetic.images,
                                             synthetic.labels, validation_images=data.validation_images,
                                             validation_labels=data.validation_labels,
                                             max_c2st_auc=thresholds.max_image_c2st_auc)
    if name == "diversity":
        return diversity.image_diversity_check(extractor, data.train_images, data.train_labels, synthetic.images,
                                               synthetic.labels, max_near_duplicate_rate=thresholds.max_duplicate_rate,
                                               min_spread_ratio=thresholds.min_image_spread_ratio)
    if name == "privacy":
        return privacy.image_privacy_check(extractor, data.train_images, data.validation_images, synthetic.images,
                                           validation_labels=data.validation_labels,
                                           synthetic_labels=synthetic.labels,
                                           quantile=thresholds.privacy_quantile,
                                           max_close_fraction=thresholds.max_close_fraction)
    raise KeyError(f"no image check named {name!r}")


def comparison_metadata(data: ImageSplit, synthetic: SyntheticImages) -> dict[str, Any]:
    grid = _grid_from_arrays(data, synthetic)
    return {"synthetic_images": len(synthetic.labels),
            "real_vs_synthetic": png_markdown(plots.image_png(grid), "real (left) beside synthetic (right)")}


def _grid_from_arrays(data: ImageSplit, synthetic: SyntheticImages) -> np.ndarray:
    """Per class, real train images beside synthetic ones."""
    return image_grid(data.train_images, data.train_labels, synthetic.images, synthetic.labels,
                      list(range(data.n_classes)), per_class=GRID_ROWS_PER_CLASS)


def measure_lift(data: ImageSplit, synthetic: SyntheticImages, config: LiftConfig, log: Callable) -> LiftResult:
    # One CNN per method and seed predicts both splits; the holdout report takes the baseline chosen on validation.
    log(f"training the downstream CNN over seeds {config.seeds} ({config.image_epochs} epochs), "
        "evaluating on the validation and holdout splits")
    results = image_lift_reports(
        data.train_images, data.train_labels, *synthetic.for_lift(),
        {part: (getattr(data, f"{part}_images"), getattr(data, f"{part}_labels")) for part in ("validation", "holdout")},
        seeds=tuple(config.seeds), epochs=config.image_epochs, n_boot=config.n_boot, n_jobs=config.jobs,
        progress=count_progress(log, "lift: downstream CNNs of a method and seed"),
    )
    decision_report, decision_extras = results["validation"]
    final_report, final_extras = results["holdout"]
    return LiftResult(
        decision_report=decision_report.to_dict(),
        final_report=final_report.to_dict(),
        extras={
            "classic_baseline": decision_extras["best_classic_baseline"],
            "classic_baseline_chosen_on": "validation",
            "classic_augmentation": decision_extras["augmentation_pipeline"],
            "validation": _jsonable(decision_extras),
            "holdout": _jsonable(final_extras),
            "holdout_is_official": data.holdout_is_official,
        },
    )


def _jsonable(extras: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in extras.items() if isinstance(v, (str, int, float, bool, list, dict, type(None)))}


def write_publication(directory: Path, data: ImageSplit, synthetic: SyntheticImages) -> dict[str, str]:
    """ImageFolder layout (every deciding real image, train and validation, and the synthetic ones that balance
    them), a Parquet manifest (``split``: where a real image came from) and the sample grid."""
    from PIL import Image

    rows = []
    sources = [("real", "train", data.train_images, data.train_labels, None, None),
               ("real", "validation", data.validation_images, data.validation_labels, None, None),
               ("synthetic", None, synthetic.images, synthetic.labels, synthetic.seed, synthetic.model_version)]
    if synthetic.lift_images is None:  # stored before the publication held validation images: they balance train only
        del sources[1]
    for kind, split, images, labels, seed, version in sources:
        prefix = kind if split in (None, "train") else f"{kind}_{split}"
        for index, (image, label) in enumerate(zip(images, labels)):
            class_name = data.class_names[int(label)]
            relative = Path("images") / publication_folder_name(class_name) / f"{prefix}_{index:06d}.png"
            (directory / relative).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(directory / relative)
            rows.append({"path": str(relative), "label": class_name, "label_index": int(label),
                         "synthetic": kind == "synthetic", "split": split, "seed": seed, "model_version": version})
    pd.DataFrame(rows).astype({"seed": "Int64"}).to_parquet(directory / "manifest.parquet", index=False)
    (directory / "sample_grid.png").write_bytes(plots.image_png(_grid_from_arrays(data, synthetic)))
    return {"images": "images/", "manifest": "manifest.parquet", "sample_grid": "sample_grid.png"}

