"""End to end: the Dagster assets through `synthlift run`, on a small table, as a user runs them."""

import json

import pandas as pd
import pytest

from pipelines.cli import main
from quality.publication import latest_publication

FAST = ["--epochs", "30", "--lift-seeds", "5"]


def run_cli(capsys, *args) -> tuple[int, dict, str]:
    code = main(["run", *args, "--json"])
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    outcome = json.loads(lines[-1]) if code == 0 and lines else {}
    return code, outcome, captured.err


@pytest.mark.slow
def test_cli_runs_the_assets_and_reports_every_figure(tmp_path, capsys, patients_csv):
    code, outcome, _ = run_cli(capsys, str(patients_csv), "--label", "outcome", "--out", str(tmp_path), *FAST,
                               "--min-lift", "-1")
    assert code == 0
    assert outcome["class_counts_before"]["sick"] < outcome["class_counts_before"]["well"]
    assert outcome["class_counts_after"]["sick"] == outcome["class_counts_after"]["well"]
    assert {c["name"] for c in outcome["checks"]} == {"validity", "fidelity", "diversity", "privacy"}
    assert all("passed" in c and c["metrics"] for c in outcome["checks"])
    gated = outcome["gate"]
    assert gated["evaluated_on"] == "validation" and gated["ci_low"] <= gated["mean"] <= gated["ci_high"]
    assert outcome["lift"]["final"]["evaluated_on"] == "holdout"
    methods = set(outcome["lift"]["decision"]["scores"])
    assert {"real_only", "real+synthetic", "real+smote"} <= methods

    blocking_failed = [c for c in outcome["checks"] if c["blocking"] and not c["passed"]]
    if blocking_failed:  # min_lift=-1 means only a failed blocking check can reject
        assert outcome["decision"] == "rejected"
        return
    assert outcome["decision"] == "published"
    version = latest_publication(tmp_path / "published", "patients")
    assert str(version) == outcome["output"]
    augmented = pd.read_parquet(version / "augmented.parquet")
    synthetic = pd.read_parquet(version / "synthetic.parquet")
    assert augmented["synthetic"].sum() == len(synthetic) > 0
    counts = augmented["outcome"].value_counts()
    assert counts["sick"] == counts["well"]
    card = json.loads((version / "data_card.json").read_text())
    assert card["decision"] == "published" and card["model_version"] == synthetic["model_version"].iloc[0]
    assert (version / "data_card.md").read_text().startswith("# Data card: patients")


@pytest.mark.slow
def test_a_rejected_run_leaves_the_last_publication_untouched(tmp_path, capsys, patients_csv):
    out = ["--out", str(tmp_path), "--label", "outcome", *FAST]
    code, first, _ = run_cli(capsys, str(patients_csv), *out, "--min-lift", "-1")
    assert code == 0
    before = latest_publication(tmp_path / "published", "patients")
    code, second, _ = run_cli(capsys, str(patients_csv), *out, "--min-lift", "1.0", "--seed", "1")
    assert code == 0 and second["decision"] == "rejected" and second["output"] is None
    assert any("does not exceed min_lift=1.0" in r or "blocking check" in r for r in second["reasons"])
    assert latest_publication(tmp_path / "published", "patients") == before
    assert list((tmp_path / "published" / "patients" / "rejections").glob("*.json"))


@pytest.mark.parametrize(
    "args, message",
    [
        (["missing.csv", "--label", "y"], "missing.csv: no such file"),
        (["{csv}", "--label", "diagnosis"], "label column 'diagnosis' not found; columns are"),
    ],
)
def test_bad_input_exits_non_zero_with_one_line_and_publishes_nothing(tmp_path, capsys, patients_csv, args, message):
    args = [a.replace("{csv}", str(patients_csv)) for a in args]
    code = main(["run", *args, "--out", str(tmp_path), "--json"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert message in err[-1] and err[-1].startswith("synthlift: error: raw_dataset:")
    assert not (tmp_path / "published").exists()
