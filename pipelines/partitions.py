"""One partition per dataset: the catalog sensor and the CLI register them by name."""

from dagster import DynamicPartitionsDefinition

DATASETS = "datasets"

dataset_partitions = DynamicPartitionsDefinition(name=DATASETS)
