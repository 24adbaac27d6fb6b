"""raw_dataset and evaluation_plan: read the source, then plan which rows judge which models."""

from pathlib import Path

from dagster import AssetCheckResult, AssetExecutionContext, MetadataValue, asset

from assets.modalities import modality_for, modality_for_source
from pipelines.partitions import dataset_asset_check, dataset_partitions
from pipelines.config import DatasetConfig, PlanConfig
from pipelines.catalog import BUILTIN_SOURCES, check_options_for_modality, check_partition_key
from pipelines.resources import DatasetCatalog, SynthliftStorage
from quality.publish.store import latest_data_card, published_source_warnings
from quality.report.markdown import markdown_table
from quality.data.sources import canonical_path, modality_of

GROUP = "synthlift"


@asset(group_name=GROUP, partitions_def=dataset_partitions, io_manager_key="artifact_io", kinds={"python"})
def raw_dataset(context: AssetExecutionContext, config: DatasetConfig, catalog: DatasetCatalog,
                storage: SynthliftStorage):
    """The labelled data as read from its source and validated: tables (CSV, Parquet, built-in
    breast_cancer/wine) or images (MedMNIST .npz, class folders, built-in digits). With no source in
    the run config, the catalog entry named like the partition says where to read. A dataset name whose
    latest publication holds the other kind of data is refused: its readers would get tables in place of
    images, or the reverse."""
    try:  # the partition key names storage folders: refuse one that could leave them
        check_partition_key(context.partition_key)
    except ValueError as err:
        raise ValueError(f"dataset name {err}") from None
    config = resolved_dataset_config(config, context.partition_key, catalog)
    modality = modality_for_source(config.source)
    dataset = modality.load(config, name=context.partition_key)
    warnings = modality.input_warnings(dataset) + published_source_warnings(
        latest_data_card(storage.publish_root, context.partition_key), modality.MODALITY, dataset.source,
        context.partition_key)
    for warning in warnings:
        context.log.warning(f"{config.source}: {warning}")
    context.add_output_metadata({**modality.dataset_metadata(dataset),
                                 "warnings": MetadataValue.md("\n".join(f"- {w}" for w in warnings) or "none")})
    return dataset


def resolved_dataset_config(config: DatasetConfig, partition: str, catalog: DatasetCatalog) -> DatasetConfig:
    """Fill an empty source from the catalog entry named like the partition; a file or folder source is made
    absolute (as the catalog does), so that data cards record one spelling per file. Columns to drop or keep
    are refused for images (the CLI and the catalog refuse them earlier; a hand-written run config may not)."""
    if config.source:
        # a missing path is reported by the loader, as given
        if config.source not in BUILTIN_SOURCES and Path(config.source).expanduser().exists():
            config = config.model_copy(update={"source": str(canonical_path(config.source))})
    else:
        entry = catalog.entry(partition)
        if entry is None:
            raise ValueError(
                f"dataset {partition!r}: no source in the run config (raw_dataset.config.source) and no valid "
                f"entry named {partition!r} in the catalog {catalog.path}"
            )
        config = DatasetConfig(source=entry.source, label=entry.label or "", drop_columns=list(entry.drop_columns),
                               keep_columns=list(entry.keep_columns), image_size=entry.image_size)
    if config.drop_columns or config.keep_columns:
        check_options_for_modality(modality_of(config.source), {"drop_columns": config.drop_columns or None,
                                                                "keep_columns": config.keep_columns or None})
    return config


@asset(group_name=GROUP, partitions_def=dataset_partitions, io_manager_key="artifact_io", kinds={"python"})
def evaluation_plan(context: AssetExecutionContext, config: PlanConfig, raw_dataset):
    """How the lift is proved on this dataset: K cross-fitted folds or one validation split over the rows that
    decide, plus an optional outer holdout that only reports. A row never reaches the generator, encoder,
    scaler or threshold of the fold that judges it."""
    modality = modality_for(raw_dataset)
    plan = modality.plan(raw_dataset, config)
    summary = modality.plan_summary(plan)
    sizes = modality.plan_sizes(plan)
    classes = sorted({c for counts in sizes.values() for c in counts}, key=str)
    table = markdown_table(["class", *sizes], [[c, *[sizes[p].get(c, 0) for p in sizes]] for c in classes])
    context.log.info(f"{summary['kind']} ({summary['folds']} fold(s)): {summary['reason']}")
    context.add_output_metadata({"protocol": summary["kind"], "folds": summary["folds"], "why": summary["reason"],
                                 "deciding_rows": summary["deciding_rows"], "holdout_rows": summary["holdout_rows"],
                                 "rows_per_part": MetadataValue.md(table)})
    return plan


@dataset_asset_check(asset=evaluation_plan, blocking=True,
                     description="Every class is present in every part of the plan (an empty holdout aside).")
def every_class_in_every_part(evaluation_plan) -> AssetCheckResult:
    sizes = modality_for(evaluation_plan).plan_sizes(evaluation_plan)
    classes = {c for counts in sizes.values() for c in counts}
    missing = {part: sorted(map(str, classes - {c for c, n in counts.items() if n > 0}))
               for part, counts in sizes.items() if sum(counts.values())}
    missing = {part: names for part, names in missing.items() if names}
    return AssetCheckResult(
        passed=not missing,
        metadata={"classes": len(classes), "missing": MetadataValue.json(missing)},
        description="every class in every part" if not missing else f"classes missing from parts: {missing}",
    )
