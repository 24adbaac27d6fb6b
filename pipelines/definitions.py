"""The single Definitions object that `dagster dev` (via workspace.yaml) and the CLI load."""


from typing import Optional

from dagster import AssetSelection, Definitions, define_asset_job

from assets.checks import synthetic_checks
from assets.evaluation import lift_report, published_dataset
from assets.generation import gan_generator, synthetic_samples
from assets.ingest import dataset_split, every_class_in_every_split, raw_dataset
from pipelines.config import QualityThresholds
from pipelines.io_managers import ArtifactIOManager
from pipelines.resources import SynthliftStorage, default_storage

ASSETS = [raw_dataset, dataset_split, gan_generator, synthetic_samples, lift_report, published_dataset]
ASSET_CHECKS = [every_class_in_every_split, *synthetic_checks]

augmentation_job = define_asset_job(
    "augmentation_job",
    selection=AssetSelection.all(),
    description="Ingest, train, generate, check, measure lift and publish one dataset.",
)


def build_resources(storage: Optional[SynthliftStorage] = None) -> dict:
    storage = storage or default_storage()
    return {
        "storage": storage,
        "artifact_io": ArtifactIOManager(storage=storage),
        "thresholds": QualityThresholds(),
    }


defs = Definitions(
    assets=ASSETS,
    asset_checks=ASSET_CHECKS,
    jobs=[augmentation_job],
    resources=build_resources(),
)
