"""deploy/: the Kubernetes definitions run the same graph one pod per step, give the GAN training steps
(and only them) a GPU on a GPU node, put them in the gpu pool, and the instance config limits that pool."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

pytest.importorskip("dagster_k8s", reason="dagster-k8s is not installed: pip install -e '.[k8s]'")

from dagster import DagsterInstance  # noqa: E402
from dagster._core.code_pointer import load_python_file  # noqa: E402
# The execution plan holds the steps exactly as an executor receives them (tags, pool, op name).
from dagster._core.execution.api import create_execution_plan  # noqa: E402
from dagster._core.workspace.autodiscovery import loadable_targets_from_loaded_module  # noqa: E402
from dagster_k8s import k8s_job_executor  # noqa: E402
from dagster_k8s.container_context import K8sContainerContext  # noqa: E402
from dagster_k8s.job import UserDefinedDagsterK8sConfig, get_user_defined_k8s_config  # noqa: E402

from pipelines.definitions import defs as local_defs  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
TRAINING_OP = "train_generator_part"


@pytest.fixture(scope="module")
def k8s():
    """deploy/k8s_definitions.py loaded the way `dagster api grpc --python-file` loads it."""
    return load_python_file(str(DEPLOY / "k8s_definitions.py"), str(REPO))


@pytest.fixture(scope="module")
def job(k8s):
    return k8s.defs.resolve_job_def("augmentation_job")


@pytest.fixture(scope="module")
def steps(job):
    return list(create_execution_plan(job).step_dict.values())


def executor_config(job) -> dict:
    return job.executor_def.config_schema.resolve_config({}).value["config"]


def step_k8s_config(job, step) -> UserDefinedDagsterK8sConfig:
    """What the k8s executor gives a step's pod: the op's dagster-k8s/config tag, then the executor's
    per-op config on top (the merge K8sStepHandler._get_container_context does)."""
    per_op = executor_config(job)["per_step_k8s_config"].get(step.node_handle.name, {})
    from_tags = K8sContainerContext(run_k8s_config=get_user_defined_k8s_config(step.tags or {}))
    from_executor = K8sContainerContext(run_k8s_config=UserDefinedDagsterK8sConfig.from_dict(per_op))
    return from_tags.merge(from_executor).run_k8s_config


def gpu_limit(config: UserDefinedDagsterK8sConfig):
    return config.container_config.get("resources", {}).get("limits", {}).get("nvidia.com/gpu")


def load_yaml(name: str) -> dict:
    return yaml.safe_load((DEPLOY / name).read_text())


def test_dagster_finds_exactly_one_definitions_object_in_the_file(k8s):
    targets = loadable_targets_from_loaded_module(k8s)
    assert [(t.attribute, t.target_definition) for t in targets] == [("defs", k8s.defs)]


def test_k8s_definitions_hold_the_same_assets_checks_jobs_and_automation(k8s):
    local_graph, k8s_graph = local_defs.resolve_asset_graph(), k8s.defs.resolve_asset_graph()
    assert k8s_graph.get_all_asset_keys() == local_graph.get_all_asset_keys()
    assert set(k8s_graph.asset_check_keys) == set(local_graph.asset_check_keys)
    assert {j.name for j in k8s.defs.resolve_all_job_defs()} == {j.name for j in local_defs.resolve_all_job_defs()}
    assert {s.name for s in k8s.defs.schedules} == {s.name for s in local_defs.schedules}
    assert {s.name for s in k8s.defs.sensors} == {s.name for s in local_defs.sensors}
    assert set(k8s.defs.resources) == set(local_defs.resources)


def test_every_job_runs_one_pod_per_step_on_the_k8s_executor(k8s, job):
    assert job.executor_def.name == k8s_job_executor.name == "k8s"
    assert job.executor_def.executor_creation_fn is k8s_job_executor.executor_creation_fn
    assert all(j.executor_def.name == "k8s" for j in k8s.defs.resolve_all_job_defs())
    # The local definitions keep Dagster's default (multiprocess) executor.
    assert local_defs.resolve_job_def("augmentation_job").executor_def.name != "k8s"


def test_the_training_step_requests_one_gpu_on_a_gpu_node_and_no_other_step_does(job, steps):
    configs = {step.node_handle.name: step_k8s_config(job, step) for step in steps}
    gpu_steps = {name for name, config in configs.items() if gpu_limit(config) is not None}
    assert gpu_steps == {TRAINING_OP}
    training = configs[TRAINING_OP]
    assert gpu_limit(training) == 1
    assert training.pod_spec_config["node_selector"] == {"nvidia.com/gpu.present": "true"}
    gpu_taint = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    assert gpu_taint in training.pod_spec_config["tolerations"]
    assert all(not config.pod_spec_config for name, config in configs.items() if name != TRAINING_OP)


def test_gpu_steps_sit_in_the_gpu_pool(k8s, steps):
    gpu_steps = [step for step in steps if step.node_handle.name in k8s.gpu_op_names(k8s.defs)]
    assert gpu_steps, "no step is marked as needing a GPU"
    pools = {step.node_handle.name: step.pool for step in gpu_steps}
    assert pools == {name: k8s.GPU_POOL for name in pools}, (
        f"GPU steps must declare pool={k8s.GPU_POOL!r} on their op so dagster.yaml's pool limit applies: {pools}"
    )


def test_gpu_placement_is_read_from_the_environment(k8s, monkeypatch):
    monkeypatch.setenv("SYNTHLIFT_GPU_NODE_SELECTOR", '{"cloud.google.com/gke-accelerator": "nvidia-l4"}')
    monkeypatch.setenv("SYNTHLIFT_GPU_TOLERATIONS", "[]")
    config = k8s.gpu_step_k8s_config()
    assert config["pod_spec_config"] == {"node_selector": {"cloud.google.com/gke-accelerator": "nvidia-l4"},
                                         "tolerations": []}
    monkeypatch.setenv("SYNTHLIFT_GPU_TOLERATIONS", "nvidia.com/gpu")
    with pytest.raises(ValueError, match="SYNTHLIFT_GPU_TOLERATIONS must be JSON"):
        k8s.gpu_step_k8s_config()
    monkeypatch.setenv("SYNTHLIFT_GPU_NODE_SELECTOR", '["nvidia-l4"]')
    with pytest.raises(ValueError, match="SYNTHLIFT_GPU_NODE_SELECTOR must be a JSON object"):
        k8s.gpu_step_k8s_config()


def test_dagster_yaml_lets_one_gpu_step_hold_the_pool_at_a_time(tmp_path):
    shutil.copy(DEPLOY / "dagster.yaml", tmp_path / "dagster.yaml")
    with DagsterInstance.from_config(str(tmp_path)) as instance:
        pools = instance.get_concurrency_config().pool_config
        assert pools.default_pool_limit == 1 and pools.pool_granularity.value == "op"
        storage = instance.event_log_storage
        storage.initialize_concurrency_limit_to_default("gpu")
        class_0, class_1 = "gan_generator.train_generator_part[class_0]", "gan_generator.train_generator_part[class_1]"
        first = storage.claim_concurrency_slot("gpu", "run-a", class_0)
        second = storage.claim_concurrency_slot("gpu", "run-b", class_1)
        assert (first.slot_status.value, second.slot_status.value) == ("CLAIMED", "BLOCKED")
        storage.free_concurrency_slot_for_step("run-a", class_0)
        assert storage.claim_concurrency_slot("gpu", "run-b", class_1).slot_status.value == "CLAIMED"


def test_helm_values_mount_the_storage_root_and_match_dagster_yaml(k8s):
    values, instance = load_yaml("values.yaml"), load_yaml("dagster.yaml")
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    env = {item["name"]: item["value"] for item in deployment["env"]}
    mounts = {mount["mountPath"]: mount["name"] for mount in deployment["volumeMounts"]}
    claims = {volume["name"] for volume in deployment["volumes"] if "persistentVolumeClaim" in volume}
    assert mounts.get(env["SYNTHLIFT_HOME"]) in claims, "SYNTHLIFT_HOME must be a mounted persistent volume"
    assert deployment["includeConfigInLaunchedRuns"]["enabled"], "step pods need the volume and env too"
    assert "deploy/k8s_definitions.py" in deployment["dagsterApiGrpcArgs"]
    helm_pools, yaml_pools = values["concurrency"]["pools"], instance["concurrency"]["pools"]
    assert helm_pools["defaultLimit"] == yaml_pools["default_limit"]
    assert helm_pools["granularity"] == yaml_pools["granularity"]
    assert values["concurrency"]["runs"]["maxConcurrentRuns"] == instance["concurrency"]["runs"]["max_concurrent_runs"]
    # The placement written in the chart is the one the definitions fall back to.
    assert yaml.safe_load(env["SYNTHLIFT_GPU_NODE_SELECTOR"]) == k8s.DEFAULT_GPU_NODE_SELECTOR
    assert yaml.safe_load(env["SYNTHLIFT_GPU_TOLERATIONS"]) == k8s.DEFAULT_GPU_TOLERATIONS
