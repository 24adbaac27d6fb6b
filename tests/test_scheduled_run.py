"""A scheduled run goes through the real job (not `materialize`): checks and assets of one partition."""

import pytest
import yaml
from dagster import DagsterRunStatus, build_schedule_context, execute_job, instance_for_test, reconstructable

from pipelines.resources import DatasetCatalog


def augmentation_job():
    from pipelines.definitions import defs

    return defs.resolve_job_def("augmentation_job")


@pytest.mark.slow
def test_a_schedule_request_runs_the_whole_job_for_its_partition(tmp_path):
    from pipelines.automation import augmentation_schedule

    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(yaml.safe_dump({"datasets": [
        {"name": "cancer", "source": "breast_cancer", "training": {"epochs": 5}, "lift_seeds": 2, "folds": 1}]}))
    with instance_for_test() as instance:
        context = build_schedule_context(instance=instance, resources={"catalog": DatasetCatalog(path=str(catalog))})
        (request,) = augmentation_schedule(context)
        run_config = {**request.run_config, "execution": {"config": {"in_process": {}}}}
        tags = {**request.tags, "dagster/partition": request.partition_key}
        with execute_job(reconstructable(augmentation_job), instance, run_config=run_config, tags=tags) as result:
            assert result.success
            checks = {e.asset_check_key.name for e in result.get_asset_check_evaluations()}
            record = result.output_for_node("published_dataset")
        assert {"every_class_in_every_part", "validity_check", "privacy_check"} <= checks
        assert instance.get_run_by_id(result.run_id).status == DagsterRunStatus.SUCCESS
        # the run covers this content: the next evaluation has nothing to do
        again = augmentation_schedule(build_schedule_context(instance=instance,
                                                             resources={"catalog": DatasetCatalog(path=str(catalog))}))
        assert not isinstance(again, list)
    assert record.decision in ("published", "rejected") and record.card["dataset"] == "cancer"
