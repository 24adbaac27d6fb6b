"""synthlift on Kubernetes: the same Definitions as pipelines.definitions, one pod per step, and a GPU
for the GAN training steps.

The user-code deployment loads this file (``dagster api grpc -f deploy/k8s_definitions.py``) instead
of pipelines.definitions. Assets, checks, the job, the schedule, the sensor and the resources are the
ones pipelines.definitions builds; only the executor differs:

- ``dagster_k8s.k8s_job_executor`` runs every step as its own Kubernetes Job (one pod per step);
- a step whose op is marked as needing a GPU (op tag ``synthlift/gpu: "true"``, or the ``gpu``
  concurrency pool) gets ``nvidia.com/gpu: 1`` and lands on a GPU node; every other step stays on
  CPU nodes;
- the ``gpu`` pool, limited in dagster.yaml (``concurrency.pools``), caps how many such steps run at
  once across all runs, so queued training waits for a slot rather than for a GPU node.

GPU placement differs between clusters, so the node selector and tolerations of GPU pods are read
from the environment (set in deploy/values.yaml); the defaults fit nodes labelled by NVIDIA's GPU
feature discovery and tainted ``nvidia.com/gpu:NoSchedule``, as managed GPU node pools usually are.
"""

from __future__ import annotations

import json
import os
from typing import Any, Iterable

from dagster import AssetsDefinition, Definitions, ExecutorDefinition, OpDefinition
from dagster_k8s import k8s_job_executor

# The module, not its `defs`: a second Definitions at module scope would make Dagster refuse to load this file.
from pipelines import definitions as local_definitions

GPU_MARKER = ("synthlift/gpu", "true")
GPU_POOL = "gpu"
GPU_RESOURCE = "nvidia.com/gpu"
DEFAULT_GPU_NODE_SELECTOR = {"nvidia.com/gpu.present": "true"}
DEFAULT_GPU_TOLERATIONS = [{"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}]


def needs_gpu(op: OpDefinition) -> bool:
    """An op needs a GPU when it carries the synthlift GPU marker or sits in the GPU pool."""
    key, value = GPU_MARKER
    return op.tags.get(key) == value or op.pool == GPU_POOL


def gpu_op_names(definitions: Definitions) -> list[str]:
    """Names of the ops of every asset and check that need a GPU (nested ops of graph assets included)."""
    nodes = [node for node in [*(definitions.assets or []), *(definitions.asset_checks or [])]
             if isinstance(node, AssetsDefinition) and node.is_executable]
    return sorted({op.name for node in nodes for op in node.node_def.iterate_op_defs() if needs_gpu(op)})


def _json_env(name: str, default: Any, kind: type) -> Any:
    """The JSON value of environment variable ``name`` (``default`` when unset), which must be a ``kind``."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"environment variable {name} must be JSON ({err}): {text!r}") from None
    if not isinstance(value, kind):
        raise ValueError(f"environment variable {name} must be a JSON {'object' if kind is dict else 'list'}: {text!r}")
    return value


def gpu_step_k8s_config() -> dict[str, Any]:
    """Kubernetes config of one GPU step's pod: one GPU, on a GPU node.

    ``SYNTHLIFT_GPU_NODE_SELECTOR`` (a JSON object) and ``SYNTHLIFT_GPU_TOLERATIONS`` (a JSON list)
    override where the pod may run.
    """
    return {
        "container_config": {"resources": {"limits": {GPU_RESOURCE: 1}}},
        "pod_spec_config": {
            "node_selector": _json_env("SYNTHLIFT_GPU_NODE_SELECTOR", DEFAULT_GPU_NODE_SELECTOR, dict),
            "tolerations": _json_env("SYNTHLIFT_GPU_TOLERATIONS", DEFAULT_GPU_TOLERATIONS, list),
        },
    }


def k8s_executor(gpu_ops: Iterable[str]) -> ExecutorDefinition:
    """The k8s executor with the GPU pod config applied to every step of the given ops.

    ``per_step_k8s_config`` is keyed by op name, so every mapped copy of a training op (one per
    class in per_class mode) gets the same GPU request.
    """
    return k8s_job_executor.configured({"per_step_k8s_config": {name: gpu_step_k8s_config() for name in gpu_ops}})


defs = local_definitions.build_definitions(k8s_executor(gpu_op_names(local_definitions.defs)))
