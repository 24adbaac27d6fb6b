from dagster import AssetKey

from pipelines.definitions import defs

ASSETS = ["raw_dataset", "dataset_split", "gan_generator", "synthetic_samples", "lift_report", "published_dataset"]


def test_definitions_load_with_the_whole_asset_graph():
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert set(ASSETS) <= keys
    parents = {key: {p.to_user_string() for p in graph.get(AssetKey(key)).parent_keys} for key in ASSETS}
    assert parents["gan_generator"] == {"dataset_split"}
    assert parents["published_dataset"] >= {"synthetic_samples", "lift_report"}
    assert defs.resolve_job_def("augmentation_job") is not None


def test_validity_diversity_and_privacy_block_and_fidelity_is_reported():
    graph = defs.resolve_asset_graph()
    checks = {key.name: graph.get_check_spec(key) for key in graph.asset_check_keys}
    assert {"validity_check", "diversity_check", "privacy_check", "fidelity_check"} <= set(checks)
    assert all(checks[name].blocking for name in ("validity_check", "diversity_check", "privacy_check"))
    assert not checks["fidelity_check"].blocking
