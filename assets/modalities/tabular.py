"""The tabular implementation of each pipeline step: glue between config, gan_models and quality."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Optional

import pandas as pd
from dagster import MetadataValue

from assets.metadata import png_markdown
from assets.progress import count_progress
from gan_models.sampling import part_samples_to_generate, samples_to_generate
from gan_models.runtime import state_fingerprint
from gan_models.tabular import TabularGAN, TabularGANConfig
from pipelines.config import DatasetConfig, GeneratorConfig, LiftConfig, PlanConfig, QualityThresholds, SamplingConfig
from quality.report import plots
from quality.checks import diversity, fidelity, privacy, validity
from quality.data.artifacts import PROVENANCE_COLUMNS, LiftResult, SyntheticTable, TabularGenerators
from quality.data.plan import CROSS_FIT, SPLIT, judged_on, part_key, part_name
from quality.report.markdown import markdown_table
from quality.checks.result import CheckResult
from quality.data.tables import TabularDataset, TabularPlan, load_table, plan_table
from quality.data.tables import input_warnings as tabular_input_warnings  # the step below has the same name
from quality.lift.tables import cross_fitted_lift_report, hardest_classic_baseline, tabular_lift_report

MODALITY = "tabular"
FINAL_PART = -1  # the training part of the published generator, refitted on every deciding row


def load(config: DatasetConfig, name: str) -> TabularDataset:
    return load_table(config.source, config.label or None, name, drop_columns=config.drop_columns,
                      keep_columns=config.keep_columns)


def dataset_metadata(dataset: TabularDataset) -> dict[str, Any]:
    counts = dataset.frame[dataset.label_column].value_counts().sort_index()
    return {
        "modality": MODALITY,
        "rows": len(dataset.frame),
        "columns": MetadataValue.json([str(c) for c in dataset.frame.columns]),
        "class_counts": MetadataValue.md(markdown_table(["class", "rows"], [[c, n] for c, n in counts.items()])),
        "dropped_columns": MetadataValue.json(dataset.dropped_columns),
    }


def input_warnings(dataset: TabularDataset) -> list[str]:
    return tabular_input_warnings(dataset.frame, dataset.label_column, dataset.dropped_columns)


def plan(dataset: TabularDataset, config: PlanConfig) -> TabularPlan:
    return plan_table(dataset, config.seed, config.folds, holdout_fraction=config.holdout_fraction,
                      validation_fraction=config.validation_fraction, scarce_rows=config.scarce_train_rows,
                      repeats=config.repeats)


def plan_summary(data: TabularPlan) -> dict[str, Any]:
    """How the lift is proved: the protocol, why, and how many real rows decide and only report."""
    return {**data.protocol.to_dict(), "deciding_rows": len(data.rows), "holdout_rows": len(data.holdout)}


def plan_sizes(data: TabularPlan) -> dict[str, dict[Any, int]]:
    """Real rows per class: each part's (the rows it judges: every fold of every repetition, or the validation
    split), and the outer holdout's."""
    label = data.label_column
    sizes = {("validation" if data.protocol.kind == SPLIT else part_name(data.protocol, part)):
             data.fold_rows(part)[label].value_counts().to_dict() for part in range(data.n_parts)}
    if data.protocol.kind == SPLIT:
        sizes = {"train": data.fold_training_rows(0)[label].value_counts().to_dict(), **sizes}
    sizes["holdout"] = data.holdout[label].value_counts().to_dict()
    return sizes


def class_counts(data: TabularPlan) -> dict[str, int]:
    return {str(c): n for c, n in data.class_counts().items()}


def training_parts(data: TabularPlan, config: GeneratorConfig) -> dict[str, int]:
    """One GAN per fold of each repetition (fold k's never sees fold k's rows) and, when cross-fitting, the
    published one trained on every deciding row (``FINAL_PART``). Tables train one conditional GAN over all
    classes."""
    if config.per_class:
        raise ValueError("per_class mode is available for images only; tables train one conditional GAN")
    parts = {part_key(data.protocol, part): part for part in range(data.n_parts)}
    if data.protocol.kind == CROSS_FIT:
        parts["final"] = FINAL_PART
    return parts


def train_part(data: TabularPlan, config: GeneratorConfig, part: int, progress: Callable,
               checkpoint_dir: Optional[Path]) -> TabularGAN:
    rows = data.rows if part == FINAL_PART else data.fold_training_rows(part)
    gan_config = TabularGANConfig(epochs=config.epochs, max_steps=config.max_steps, batch_size=config.batch_size,
                                  seed=config.seed,
                                  device=config.device, checkpoint_every=config.checkpoint_every)
    model = TabularGAN(gan_config).fit(rows, data.label_column, progress=progress, checkpoint_dir=checkpoint_dir)
    model.training_info["part"] = part
    return model


def combine_parts(data: TabularPlan, parts: list[TabularGAN]) -> TabularGenerators:
    by_part = {model.training_info["part"]: model for model in parts}
    folds = [by_part[part] for part in range(data.n_parts)]
    return TabularGenerators(final=by_part.get(FINAL_PART, folds[0]), folds=folds)


def model_version(models: TabularGenerators) -> str:
    """The published generator's weights and the encoding that maps them to columns and classes."""
    model = models.final
    return state_fingerprint(model.generator.state_dict(), json.dumps(model.encoder.to_state(), sort_keys=True))


def resumed_from_step(model: TabularGAN) -> int:
    return int(model.training_info.get("resumed_from_step", 0))


def generator_summary(models: TabularGenerators) -> dict[str, Any]:
    """The published GAN's configuration and training facts, and each fold GAN's, for the data card."""
    return {"config": models.final.config.to_dict(), "training": models.final.training_info,
            "folds": [model.training_info for model in models.folds],
            "published_generator": "fold_0 (the model the split judged)" if models.final_is_fold
            else "refitted on every deciding row"}


def training_metadata(models: TabularGenerators, data: TabularPlan) -> dict[str, Any]:
    info = models.final.training_info
    seconds = sum(model.training_info.get("wall_seconds", 0.0) for model in models.trained)
    return {
        "device": info.get("device", str(models.final.device)),
        "epochs": models.final.config.epochs,
        "steps": info.get("steps", 0),
        "generators_trained": len(models.trained),
        "wall_seconds": round(seconds, 2),
        "model_version": model_version(models),
        "loss_curves": png_markdown(plots.loss_curves_png(models.final.loss_history, x_key="epoch"),
                                    "loss curves of the published generator"),
    }


def rows_to_generate(data: TabularPlan, config: SamplingConfig) -> dict:
    """New rows per class (zero included) that the sampling strategy asks for every deciding row."""
    return samples_to_generate(data.class_counts(), config.parsed_strategy())


def generate(models: TabularGenerators, data: TabularPlan, config: SamplingConfig) -> SyntheticTable:
    """The published generator's rows, balancing every deciding row, and each fold generator's rows,
    balancing that fold's training rows (the lift trains on those)."""
    needed = rows_to_generate(data, config)
    fold_chunks = {}
    for fold, model in enumerate(models.folds):
        counts = part_samples_to_generate(data.class_counts(), _class_counts(data.fold_training_rows(fold), data),
                                          config.parsed_strategy())
        fold_chunks[fold] = _chunks(model, counts, config)
    return SyntheticTable(
        label_column=data.label_column,
        model_version=model_version(models),
        seed=config.seed,
        counts={str(c): n for c, n in needed.items()},
        chunks=_chunks(models.final, needed, config),
        columns_template=data.rows.iloc[:0],
        fold_chunks=fold_chunks,
    )


def curation_summary(synthetic: SyntheticTable) -> dict[str, Any]:
    """Tables keep every sample: nothing is curated."""
    return {}


def _class_counts(rows: pd.DataFrame, data: TabularPlan) -> dict:
    counts = rows[data.label_column].value_counts()
    return {cls: int(counts.get(cls, 0)) for cls in data.class_counts()}


def _chunks(model: TabularGAN, counts: dict, config: SamplingConfig):
    wanted = {cls: n for cls, n in counts.items() if n > 0}
    return model.sample(wanted, chunk_size=config.chunk_size, seed=config.seed) if wanted else None


def synthetic_frame(synthetic: SyntheticTable):
    return synthetic.frame().drop(columns=list(PROVENANCE_COLUMNS))


def comparison_metadata(data: TabularPlan, synthetic: SyntheticTable) -> dict[str, Any]:
    """Real-vs-synthetic marginals and a preview of synthetic rows, for the fidelity check."""
    frame = synthetic_frame(synthetic)
    real = data.generator_rows
    numeric = [c for c in real.select_dtypes("number").columns if c != data.label_column]
    metadata: dict[str, Any] = {"synthetic_rows": len(frame)}
    if len(frame):
        shown = numeric[:6] or [c for c in real.columns if c != data.label_column][:6]
        metadata["marginals"] = png_markdown(plots.marginals_png(real, frame, shown), "real vs synthetic")
        metadata["preview"] = MetadataValue.md(markdown_table(list(map(str, frame.columns)), frame.head(10).values.tolist()))
    return metadata


def _baseline_pairs(data: TabularPlan) -> list[tuple[pd.DataFrame, pd.DataFrame]]:
    """(training rows, judged rows) of every fold of the first repetition: the privacy baseline is how close
    real rows that a model never saw lie to that model's training rows (a repetition would count each row
    again)."""
    return [(data.fold_training_rows(fold), data.fold_rows(fold)) for fold in range(data.n_folds)]


CHECKS: dict[str, Callable[[TabularPlan, Any, QualityThresholds], CheckResult]] = {
    "validity": lambda d, s, t: validity.validity_check(d.generator_rows, s, d.label_column),
    "fidelity": lambda d, s, t: fidelity.fidelity_check(d.generator_rows, s, d.label_column,
                                                              max_c2st_auc=t.max_table_c2st_auc),
    "diversity": lambda d, s, t: diversity.diversity_check(
        d.generator_rows, s, d.label_column, max_duplicate_rate=t.max_duplicate_rate,
        min_spread_ratio=t.min_table_spread_ratio),
    "privacy": lambda d, s, t: privacy.privacy_check(
        d.generator_rows, _baseline_pairs(d), s, d.label_column, quantile=t.privacy_quantile,
        max_close_fraction=t.max_close_fraction),
}


def run_check(name: str, data: TabularPlan, synthetic: SyntheticTable, thresholds: QualityThresholds) -> CheckResult:
    return CHECKS[name](data, synthetic_frame(synthetic), thresholds)


def measure_lift(data: TabularPlan, synthetic: SyntheticTable, config: LiftConfig, log: Callable) -> LiftResult:
    """The gate's lift, judged on every row of every fold; and, when there is an outer holdout, the published
    procedure (every deciding row plus the published generator's rows) judged on it."""
    seeds = tuple(config.seeds)
    log(f"{data.protocol.kind}: training downstream classifiers over seeds {seeds} on each of {data.n_parts} "
        f"fold(s), judging {int((data.folds[0] >= 0).sum())} real rows")
    decision = cross_fitted_lift_report(
        data.rows, data.folds, {part: synthetic.fold_frame(part) for part in range(data.n_parts)},
        data.label_column, seeds=seeds, evaluated_on=judged_on(data.protocol), n_boot=config.n_boot, n_jobs=config.jobs,
        progress=count_progress(log, "lift: downstream fits of a fold, seed and method"))
    final = None
    if len(data.holdout):
        log(f"training downstream classifiers over seeds {seeds} on every deciding row, evaluating on the holdout")
        final = tabular_lift_report(data.rows, synthetic_frame(synthetic), data.holdout, data.label_column,
                                    seeds=seeds, evaluated_on="holdout", n_boot=config.n_boot, n_jobs=config.jobs,
                                    progress=count_progress(log, "final figures: downstream fits of a seed and method"),
                                    ).to_dict()
    # the baseline to beat is chosen on the rows that decide, like every other decision
    return LiftResult(decision_report=decision.to_dict(), final_report=final,
                      extras={"classic_baseline": hardest_classic_baseline(decision),
                              "classic_baseline_chosen_on": decision.evaluated_on,
                              "classic_baseline_rule": "the lowest lower bound of the lift over it"})


def write_publication(directory: Path, data: TabularPlan, synthetic: SyntheticTable) -> dict[str, str]:
    """Every deciding real row and the published generator's rows, flagged, and the synthetic rows alone."""
    frame = synthetic.frame()
    real = data.rows.assign(synthetic=False, model_version=pd.Series(dtype="object"),
                            seed=pd.Series(dtype="Int64"))
    augmented = pd.concat([real, frame.astype({"seed": "Int64"})], ignore_index=True)
    augmented.to_parquet(directory / "augmented.parquet", index=False)
    frame.to_parquet(directory / "synthetic.parquet", index=False)
    return {"augmented": "augmented.parquet", "synthetic": "synthetic.parquet"}
