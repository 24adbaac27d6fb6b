"""Jobs: one asset job that runs the whole graph for one dataset partition."""

from dagster import AssetSelection, define_asset_job

augmentation_job = define_asset_job(
    "augmentation_job",
    selection=AssetSelection.all(),
    description="Ingest, train, generate, check, measure lift and publish one dataset (one partition).",
)
