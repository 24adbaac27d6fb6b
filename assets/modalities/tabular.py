"""The tabular implementation of each pipeline step: glue between config, gan_models and quality."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Optional

import pandas as pd
from dagster import MetadataValue

from assets.metadata import png_markdown
from gan_models.sampling import samples_to_generate
from gan_models.runtime import state_fingerprint
from gan_models.tabular import TabularGAN, TabularGANConfig
from pipelines.config import DatasetConfig, GeneratorConfig, LiftConfig, QualityThresholds, SamplingConfig, SplitConfig
from quality.report import plots
from quality.checks import diversity, fidelity, privacy, validity
from quality.data.artifacts import PROVENANCE_COLUMNS, LiftResult, SyntheticTable
from quality.report.markdown import markdown_table
from quality.checks.result import CheckResult
from quality.data.tables import TabularDataset, TabularSplit, load_table, split_table
from quality.data.tables import input_warnings as tabular_input_warnings  # the step below has the same name
from quality.lift.tables import hardest_classic_baseline, tabular_lift_report

MODALITY = "tabular"


def load(config: DatasetConfig, name: str) -> TabularDataset:
    return load_table(config.source, config.label or None, name)


def dataset_metadata(dataset: TabularDataset) -> dict[str, Any]:
    counts = dataset.frame[dataset.label_column].value_counts().sort_index()
    return {
        "modality": MODALITY,
        "rows": len(dataset.frame),
        "columns": MetadataValue.json([str(c) for c in dataset.frame.columns]),
        "class_counts": MetadataValue.md(markdown_table(["class", "rows"], [[c, n] for c, n in counts.items()])),
    }


def input_warnings(dataset: TabularDataset) -> list[str]:
    return tabular_input_warnings(dataset.frame, dataset.label_column)


def split(dataset: TabularDataset, config: SplitConfig) -> TabularSplit:
    return split_table(dataset, config.seed, config.validation_fraction, config.holdout_fraction,
                       config.scarce_train_rows)


def split_sizes(data: TabularSplit) -> dict[str, dict[Any, int]]:
    return {part: getattr(data, part)[data.label_column].value_counts().to_dict()
            for part in ("train", "validation", "holdout")}


def class_counts(data: TabularSplit) -> dict[str, int]:
    return {str(c): n for c, n in data.class_counts().items()}


def class_indices(data: TabularSplit) -> list[int]:
    return list(range(len(data.class_counts())))


def train_part(data: TabularSplit, config: GeneratorConfig, part: int, progress: Callable,
               checkpoint_dir: Optional[Path]) -> TabularGAN:
    """Tables train one conditional GAN over all classes; per-class GANs are an image feature."""
    if part != -1:
        raise ValueError("per_class mode is available for images only; tables train one conditional GAN")
    gan_config = TabularGANConfig(epochs=config.epochs, batch_size=config.batch_size, seed=config.seed,
                                  device=config.device, checkpoint_every=config.checkpoint_every)
    return TabularGAN(gan_config).fit(data.train, data.label_column, progress=progress, checkpoint_dir=checkpoint_dir)


def model_version(model: TabularGAN) -> str:
    """The generator's weights and the encoding that maps them to columns and classes."""
    return state_fingerprint(model.generator.state_dict(), json.dumps(model.encoder.to_state(), sort_keys=True))


def resumed_from_step(model: TabularGAN) -> int:
    return int(model.training_info.get("resumed_from_step", 0))


def combine_parts(parts: list[TabularGAN]) -> TabularGAN:
    (model,) = parts
    return model


def generator_summary(model: TabularGAN) -> dict[str, Any]:
    """The GAN's configuration and training facts, for the data card."""
    return {"config": model.config.to_dict(), "training": model.training_info}


def training_metadata(model: TabularGAN, data: TabularSplit) -> dict[str, Any]:
    info = model.training_info
    return {
        "device": info.get("device", str(model.device)),
        "epochs": model.config.epochs,
        "steps": info.get("steps", 0),
        "wall_seconds": round(info.get("wall_seconds", 0.0), 2),
        "model_version": model_version(model),
        "loss_curves": png_markdown(plots.loss_curves_png(model.loss_history, x_key="epoch"), "loss curves"),
    }


def rows_to_generate(data: TabularSplit, config: SamplingConfig) -> dict:
    """New rows per class (zero included) that the sampling strategy asks of the train split."""
    return samples_to_generate(data.class_counts(), config.parsed_strategy())


def generate(model: TabularGAN, data: TabularSplit, config: SamplingConfig) -> SyntheticTable:
    needed = rows_to_generate(data, config)
    wanted = {cls: n for cls, n in needed.items() if n > 0}
    return SyntheticTable(
        label_column=data.label_column,
        model_version=model_version(model),
        seed=config.seed,
        counts={str(c): n for c, n in needed.items()},
        chunks=model.sample(wanted, chunk_size=config.chunk_size, seed=config.seed) if wanted else None,
        columns_template=data.train.iloc[:0],
    )


def synthetic_frame(synthetic: SyntheticTable):
    return synthetic.frame().drop(columns=list(PROVENANCE_COLUMNS))


def comparison_metadata(data: TabularSplit, synthetic: SyntheticTable) -> dict[str, Any]:
    """Real-vs-synthetic marginals and a preview of synthetic rows, for the fidelity check."""
    frame = synthetic_frame(synthetic)
    numeric = [c for c in data.train.select_dtypes("number").columns if c != data.label_column]
    metadata: dict[str, Any] = {"synthetic_rows": len(frame)}
    if len(frame):
        shown = numeric[:6] or [c for c in data.train.columns if c != data.label_column][:6]
        metadata["marginals"] = png_markdown(plots.marginals_png(data.train, frame, shown), "real vs synthetic")
        metadata["preview"] = MetadataValue.md(markdown_table(list(map(str, frame.columns)), frame.head(10).values.tolist()))
    return metadata


CHECKS: dict[str, Callable[[TabularSplit, Any, QualityThresholds], CheckResult]] = {
    "validity": lambda d, s, t: validity.validity_check(d.train, s, d.label_column),
    "fidelity": lambda d, s, t: fidelity.fidelity_check(d.train, s, d.label_column, max_c2st_auc=t.max_table_c2st_auc),
    "diversity": lambda d, s, t: diversity.diversity_check(
        d.train, s, d.label_column, max_duplicate_rate=t.max_duplicate_rate, min_spread_ratio=t.min_table_spread_ratio),
    "privacy": lambda d, s, t: privacy.privacy_check(
        d.train, d.validation, s, d.label_column, quantile=t.privacy_quantile,
        max_close_fraction=t.max_close_fraction),
}


def run_check(name: str, data: TabularSplit, synthetic: SyntheticTable, thresholds: QualityThresholds) -> CheckResult:
    return CHECKS[name](data, synthetic_frame(synthetic), thresholds)


def measure_lift(data: TabularSplit, synthetic: SyntheticTable, config: LiftConfig, log: Callable) -> LiftResult:
    frame = synthetic_frame(synthetic)
    reports = {}
    for part in ("validation", "holdout"):
        log(f"training downstream classifiers over seeds {config.seeds}, evaluating on the {part} split")
        reports[part] = tabular_lift_report(data.train, frame, getattr(data, part), data.label_column,
                                            seeds=tuple(config.seeds), evaluated_on=part, n_boot=config.n_boot)
    # the baseline to beat is chosen on the validation split, like every other decision
    return LiftResult(decision_report=reports["validation"].to_dict(), final_report=reports["holdout"].to_dict(),
                      extras={"classic_baseline": hardest_classic_baseline(reports["validation"]),
                              "classic_baseline_chosen_on": "validation",
                              "classic_baseline_rule": "the lowest lower bound of the lift over it"})


def write_publication(directory: Path, data: TabularSplit, synthetic: SyntheticTable) -> dict[str, str]:
    """The augmented train set (real + synthetic, flagged) and the synthetic rows alone, as Parquet."""
    frame = synthetic.frame()
    real = data.train.assign(synthetic=False, model_version=pd.Series(dtype="object"),
                             seed=pd.Series(dtype="Int64"))
    augmented = pd.concat([real, frame.astype({"seed": "Int64"})], ignore_index=True)
    augmented.to_parquet(directory / "augmented.parquet", index=False)
    frame.to_parquet(directory / "synthetic.parquet", index=False)
    return {"augmented": "augmented.parquet", "synthetic": "synthetic.parquet"}
