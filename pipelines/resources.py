"""Resources: where artefacts and publications live, and which torch device trains."""

import contextlib
import fcntl
import json
import os
from pathlib import Path
from typing import Any, Iterator, Optional

from dagster import ConfigurableResource

from quality.publish.store import replace_text


class SynthliftStorage(ConfigurableResource):
    """One storage root for every artefact, check result and publication.

    Everything goes through this resource, so a deployment can point it at a mounted volume (or
    replace it with an object-store implementation of the same methods) without touching assets.
    """

    root: str = "synthlift_output"

    @property
    def artifacts_root(self) -> Path:
        return Path(self.root) / "artifacts"

    @property
    def publish_root(self) -> Path:
        return Path(self.root) / "published"

    def checkpoint_dir(self, partition: Optional[str]) -> Path:
        return Path(self.root) / "checkpoints" / (partition or "default")

    def check_results_dir(self, partition: Optional[str]) -> Path:
        return Path(self.root) / "checks" / (partition or "default")

    def write_check_result(self, partition: Optional[str], name: str, result: dict[str, Any]) -> None:
        folder = self.check_results_dir(partition)
        folder.mkdir(parents=True, exist_ok=True)
        replace_text(folder / f"{name}.json", json.dumps(result, indent=2, default=str))

    @contextlib.contextmanager
    def check_results_lock(self, partition: Optional[str]) -> Iterator[None]:
        """Hold an exclusive lock on the partition's check results (between processes of one machine)."""
        folder = self.check_results_dir(partition)
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / ".lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes
            yield

    def read_check_results(self, partition: Optional[str]) -> list[dict[str, Any]]:
        folder = self.check_results_dir(partition)
        return [json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))]


def default_storage() -> SynthliftStorage:
    """Storage under $SYNTHLIFT_HOME, or ./synthlift_output when it is unset (as for the CLI)."""
    return SynthliftStorage(root=os.environ.get("SYNTHLIFT_HOME", "synthlift_output"))


class DatasetCatalog(ConfigurableResource):
    """The catalog file of datasets (one partition each); see catalog.example.yaml."""

    path: str = "catalog.example.yaml"

    def load(self):
        from pipelines.catalog import load_catalog

        return load_catalog(self.path)

    def entry(self, name: str):
        """The valid catalog entry called ``name``, or None when the catalog has none."""
        if not Path(self.path).exists():
            return None
        return next((entry for entry in self.load().entries if entry.name == name), None)


def default_catalog() -> DatasetCatalog:
    """The catalog at $SYNTHLIFT_CATALOG, or ./catalog.example.yaml when it is unset."""
    return DatasetCatalog(path=os.environ.get("SYNTHLIFT_CATALOG", "catalog.example.yaml"))
