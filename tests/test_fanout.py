"""per_class mode trains each class in its own step; the multiprocess executor runs them in parallel."""

from pathlib import Path

import numpy as np
import pytest
from dagster import AssetKey, DagsterEventType, execute_job, instance_for_test, reconstructable

from gan_models.image import PerClassImageGAN
from pipelines.partitions import DATASETS


def augmentation_job():
    from pipelines.definitions import defs

    return defs.resolve_job_def("augmentation_job")


def two_class_npz(path):
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 30)
    images = (rng.random((60, 28, 28)) * 60 + labels[:, None, None] * 150).astype(np.uint8)
    np.savez(path, train_images=images, train_labels=labels)


@pytest.mark.slow
def test_two_classes_train_in_two_processes(tmp_path, monkeypatch):
    from pipelines.definitions import defs

    # The GAN's inputs are materialized in this process, so that only the GAN's own steps run in step processes
    # (forked from the executor's preloading server). This process's Definitions kept the storage root they were
    # first imported with; the step processes import them afresh, so they are pointed at the same root.
    home = Path(defs.resources["artifact_io"].storage.root)
    monkeypatch.setenv("SYNTHLIFT_HOME", str(home))
    two_class_npz(tmp_path / "shapes.npz")
    tags = {"dagster/partition": "shapes"}
    inputs = {"ops": {"raw_dataset": {"config": {"source": str(tmp_path / "shapes.npz")}}},
              "execution": {"config": {"in_process": {}}}}
    run_config = {
        "ops": {"gan_generator": {"config": {"per_class": True, "image_steps": 4}}},
        "execution": {"config": {"multiprocess": {"max_concurrent": 2}}},
    }
    with instance_for_test() as instance:
        instance.add_dynamic_partitions(DATASETS, ["shapes"])
        upstream = [AssetKey("raw_dataset"), AssetKey("evaluation_plan")]
        with execute_job(reconstructable(augmentation_job), instance, run_config=inputs, asset_selection=upstream,
                         tags=tags) as result:
            assert result.success
        with execute_job(reconstructable(augmentation_job), instance, run_config=run_config,
                         asset_selection=[AssetKey("gan_generator")], tags=tags) as result:
            assert result.success
            starts = instance.all_logs(result.run_id, of_type=DagsterEventType.STEP_START)
            pids = {entry.dagster_event.step_key: entry.dagster_event.pid for entry in starts}
    # the stored artefact, as the step processes wrote it
    model = PerClassImageGAN.load(home / "artifacts" / "gan_generator" / "shapes")
    part_pids = {pids[key] for key in pids if key.startswith("gan_generator.train_generator_part[class_")}
    assert len(part_pids) == 2, pids
    assert sorted(model.models) == [0, 1]
