"""The single Definitions object that `dagster dev` (via workspace.yaml) and the CLI load."""

from typing import Optional

from dagster import Definitions, ExecutorDefinition

from assets.asset_checks import synthetic_checks
from assets.evaluation import lift_report, published_dataset
from assets.generation import gan_generator, synthetic_samples
from assets.ingest import evaluation_plan, every_class_in_every_part, raw_dataset
from pipelines.automation import augmentation_schedule, catalog_sensor, source_change_sensor
from pipelines.config import QualityThresholds
from pipelines.executor import step_executor
from pipelines.io_managers import ArtifactIOManager
from pipelines.jobs import augmentation_job
from pipelines.resources import SynthliftStorage, default_catalog, default_storage

ASSETS = [raw_dataset, evaluation_plan, gan_generator, synthetic_samples, lift_report, published_dataset]
ASSET_CHECKS = [every_class_in_every_part, *synthetic_checks]


def build_resources(storage: Optional[SynthliftStorage] = None) -> dict:
    storage = storage or default_storage()
    return {
        "storage": storage,
        "catalog": default_catalog(),
        "artifact_io": ArtifactIOManager(storage=storage),
        "thresholds": QualityThresholds(),
    }


def build_definitions(executor: ExecutorDefinition = step_executor) -> Definitions:
    """Every asset, check, job, schedule, sensor and resource, with ``executor`` as every job's executor."""
    return Definitions(
        assets=ASSETS,
        asset_checks=ASSET_CHECKS,
        jobs=[augmentation_job],
        schedules=[augmentation_schedule],
        sensors=[catalog_sensor, source_change_sensor],
        resources=build_resources(),
        executor=executor,
    )


defs = build_definitions()
