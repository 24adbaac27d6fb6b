"""raw_dataset and dataset_split: read the source, then split it so the holdout stays untouched."""

from pathlib import Path

from dagster import AssetCheckResult, AssetExecutionContext, MetadataValue, asset

from assets.modalities import modality_for, modality_for_source
from pipelines.partitions import dataset_asset_check, dataset_partitions
from pipelines.config import DatasetConfig, SplitConfig
from pipelines.catalog import BUILTIN_SOURCES, check_partition_key
from pipelines.resources import DatasetCatalog, SynthliftStorage
from quality.publish.store import latest_data_card, published_source_warnings
from quality.report.markdown import markdown_table
from quality.data.sources import canonical_path

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
    absolute (as the catalog does), so that data cards record one spelling per file."""
    if config.source:
        if config.source in BUILTIN_SOURCES or not Path(config.source).expanduser().exists():
            return config  # a missing path is reported by the loader, as given
        return DatasetConfig(source=str(canonical_path(config.source)), label=config.label,
                             image_size=config.image_size)
    entry = catalog.entry(partition)
    if entry is None:
        raise ValueError(
            f"dataset {partition!r}: no source in the run config (raw_dataset.config.source) and no valid "
            f"entry named {partition!r} in the catalog {catalog.path}"
        )
    return DatasetConfig(source=entry.source, label=entry.label or "", image_size=entry.image_size)


@asset(group_name=GROUP, partitions_def=dataset_partitions, io_manager_key="artifact_io", kinds={"python"})
def dataset_split(context: AssetExecutionContext, config: SplitConfig, raw_dataset):
    """Stratified train / validation / holdout split. Only train reaches a GAN, an encoder or a
    threshold; validation decides publication; holdout gives the final figures only."""
    modality = modality_for(raw_dataset)
    split = modality.split(raw_dataset, config)
    sizes = modality.split_sizes(split)
    classes = sorted({c for counts in sizes.values() for c in counts}, key=str)
    table = markdown_table(["class", *sizes], [[c, *[sizes[p].get(c, 0) for p in sizes]] for c in classes])
    context.add_output_metadata({"rows_per_split": MetadataValue.md(table)})
    return split


@dataset_asset_check(asset=dataset_split, blocking=True, description="Every class is present in every split.")
def every_class_in_every_split(dataset_split) -> AssetCheckResult:
    sizes = modality_for(dataset_split).split_sizes(dataset_split)
    classes = {c for counts in sizes.values() for c in counts}
    missing = {part: sorted(map(str, classes - {c for c, n in counts.items() if n > 0}))
               for part, counts in sizes.items()}
    missing = {part: names for part, names in missing.items() if names}
    return AssetCheckResult(
        passed=not missing,
        metadata={"classes": len(classes), "missing": MetadataValue.json(missing)},
        description="every class in every split" if not missing else f"classes missing from splits: {missing}",
    )
