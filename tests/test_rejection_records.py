"""A run stopped by a blocking check is recorded by the checks themselves, from that run's results only."""

import json
from types import SimpleNamespace

import pytest

from assets.cards import stored_checks
from assets.asset_checks import record_if_blocked
from pipelines.resources import SynthliftStorage
from quality.data.tables import load_table, plan_table


@pytest.fixture(scope="module")
def split():
    return plan_table(load_table("breast_cancer", name="bc"), seed=0)


def _result(name: str, passed: bool, run_id: str, blocking: bool = True) -> dict:
    return {"name": name, "passed": passed, "blocking": blocking, "metrics": {}, "details": f"{name} of {run_id}",
            "model_version": "mv", "run_id": run_id}


def _record(storage: SynthliftStorage, run_id: str):
    path = storage.publish_root / "bc" / "rejections" / f"{run_id}.json"
    return json.loads(path.read_text()) if path.exists() else None


def test_only_the_runs_own_failures_are_recorded(tmp_path, split):
    storage = SynthliftStorage(root=str(tmp_path))
    synthetic = SimpleNamespace(model_version="mv", counts={})
    run = SimpleNamespace(run_id="run_b", run_config={})
    storage.write_check_result("bc", "privacy", _result("privacy", False, "run_a"))  # an older run, same model
    storage.write_check_result("bc", "validity", _result("validity", True, "run_b"))
    record_if_blocked(run, storage, "bc", split, synthetic)
    assert _record(storage, "run_b") is None

    storage.write_check_result("bc", "diversity", _result("diversity", False, "run_b"))
    record_if_blocked(run, storage, "bc", split, synthetic)
    record = _record(storage, "run_b")
    assert {c["name"] for c in record["checks"]} == {"validity", "diversity"}
    assert any("'diversity' failed: diversity of run_b" in r for r in record["reasons"])
    assert not any("run_a" in r for r in record["reasons"])


def test_the_record_states_the_runs_own_gate(tmp_path, split):
    storage = SynthliftStorage(root=str(tmp_path))
    run = SimpleNamespace(run_id="run_c", run_config={
        "ops": {"published_dataset": {"config": {"min_lift": 0.05, "require_beat_baseline": True}}}})
    storage.write_check_result("bc", "privacy", _result("privacy", False, "run_c"))
    record_if_blocked(run, storage, "bc", split, SimpleNamespace(model_version="mv", counts={}))
    gate = _record(storage, "run_c")["gate"]
    assert gate["min_lift"] == 0.05 and gate["reference"] == "the hardest classic baseline"


def test_a_publication_judges_each_check_by_its_latest_result_for_the_model_whichever_run_made_it(tmp_path):
    """A re-execution (run_b) that re-ran only privacy keeps the fidelity result of the run before it; a
    publication materialized on its own reads the same results."""
    storage = SynthliftStorage(root=str(tmp_path))
    storage.write_check_result("bc", "fidelity", _result("fidelity", False, "run_a", blocking=False))
    storage.write_check_result("bc", "privacy", _result("privacy", True, "run_b"))
    judged = stored_checks(storage, "bc", "mv")
    assert [(c.name, c.details) for c in judged] == [("fidelity", "fidelity of run_a"), ("privacy", "privacy of run_b")]
    assert stored_checks(storage, "bc", "another_model") == []
