"""Jobs: one asset job that runs the whole graph for one dataset partition."""

from typing import Any

from dagster import AssetSelection, PartitionedConfig, define_asset_job

from pipelines.partitions import dataset_partitions
from pipelines.resources import default_catalog


def catalog_run_config(partition_key: str) -> dict[str, Any]:
    """The launchpad's config for a partition: its catalog entry's whole run config (budget, balancing target,
    thresholds, gate), so a run launched from the UI judges a dataset as the sensor and the schedule do; empty
    (the steps' defaults) when the catalog cannot be read or has no valid entry of that name."""
    try:
        entry = default_catalog().entry(partition_key)
    except (OSError, ValueError):  # an unreadable catalog: the sensor reports it; the launchpad keeps defaults
        return {}
    return entry.run_config() if entry is not None else {}


augmentation_job = define_asset_job(
    "augmentation_job",
    selection=AssetSelection.all(),
    partitions_def=dataset_partitions,
    config=PartitionedConfig(partitions_def=dataset_partitions, run_config_for_partition_key_fn=catalog_run_config),
    description="Ingest, train, generate, check, measure lift and publish one dataset (one partition); the "
    "launchpad fills in the config of the dataset's catalog entry.",
)
