"""One partition per dataset: the catalog sensor and the CLI register them by name."""

import warnings
from typing import Any, Callable

from dagster import AssetCheckResult, AssetChecksDefinition, DynamicPartitionsDefinition, PreviewWarning, asset_check

DATASETS = "datasets"

dataset_partitions = DynamicPartitionsDefinition(name=DATASETS)


def dataset_asset_check(**kwargs: Any) -> Callable[[Callable[..., AssetCheckResult]], AssetChecksDefinition]:
    """``asset_check`` partitioned by dataset, like the assets it checks.

    Partitioned asset checks are a preview feature in Dagster 1.13. They are used knowingly (one evaluation per
    dataset, reading that dataset's inputs), so their PreviewWarning is silenced instead of being printed on
    every load of the definitions. ``kwargs`` are ``asset_check``'s.
    """

    def decorate(function: Callable[..., AssetCheckResult]) -> AssetChecksDefinition:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PreviewWarning)
            return asset_check(partitions_def=dataset_partitions, **kwargs)(function)

    return decorate
