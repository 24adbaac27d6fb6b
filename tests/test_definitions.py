from dagster import AssetKey

from pipelines.definitions import defs

ASSETS = ["raw_dataset", "evaluation_plan", "gan_generator", "synthetic_samples", "lift_report", "published_dataset"]


def test_definitions_load_with_the_whole_asset_graph():
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert set(ASSETS) <= keys
    parents = {key: {p.to_user_string() for p in graph.get(AssetKey(key)).parent_keys} for key in ASSETS}
    assert parents["gan_generator"] == {"evaluation_plan"}
    assert parents["published_dataset"] >= {"synthetic_samples", "lift_report"}
    assert defs.resolve_job_def("augmentation_job") is not None


SAMPLE_CHECKS = ("validity_check", "diversity_check", "privacy_check", "fidelity_check")


def test_the_lift_and_the_publication_wait_for_every_check_of_the_samples():
    graph = defs.resolve_asset_graph()
    checks = {key.name: graph.get_check_spec(key) for key in graph.asset_check_keys}
    assert set(SAMPLE_CHECKS) <= set(checks)
    assert all(checks[name].blocking for name in SAMPLE_CHECKS)
    dependencies = defs.resolve_job_def("augmentation_job").graph.dependency_structure
    for step in ("lift_report", "published_dataset"):
        upstream = {output.node.name for output in dependencies.all_upstream_outputs_from_node(step)}
        assert {f"synthetic_samples_{name}" for name in SAMPLE_CHECKS} <= upstream, step


def test_step_processes_fork_from_a_preloading_server_unless_the_run_config_chose_a_start_method():
    from pipelines.executor import step_executor, with_forkserver_default

    assert defs.resolve_job_def("augmentation_job").executor_def is step_executor
    forked = with_forkserver_default({"multiprocess": {"max_concurrent": 2}})
    assert forked["multiprocess"] == {"max_concurrent": 2,
                                      "start_method": {"forkserver": {"preload_modules": ["pipelines.definitions"]}}}
    spawned = {"multiprocess": {"start_method": {"spawn": {}}}}
    assert with_forkserver_default(spawned) == spawned
    assert with_forkserver_default({"in_process": {}}) == {"in_process": {}}
