import json

import pytest

from quality.publish.store import latest_publication, publish_version, record_rejection
from quality.publish.card import protocol_lines, render_data_card


def _writer(text):
    def write(directory):
        (directory / "data.txt").write_text(text)
    return write


def test_versions_increase_and_latest_points_at_the_newest(tmp_path):
    first = publish_version(tmp_path, "cancer", _writer("one"))
    second = publish_version(tmp_path, "cancer", _writer("two"))
    assert (first.name, second.name) == ("v0001", "v0002")
    assert latest_publication(tmp_path, "cancer") == second
    assert (first / "data.txt").read_text() == "one"


def test_a_failed_write_leaves_the_last_publication_intact(tmp_path):
    good = publish_version(tmp_path, "cancer", _writer("good"))

    def crash(directory):
        (directory / "half.parquet").write_text("partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        publish_version(tmp_path, "cancer", crash)
    assert latest_publication(tmp_path, "cancer") == good
    assert sorted(p.name for p in (tmp_path / "cancer").iterdir()) == ["LATEST", "v0001"]


def test_rejections_are_recorded_beside_and_do_not_move_latest(tmp_path):
    good = publish_version(tmp_path, "cancer", _writer("good"))
    path = record_rejection(tmp_path, "cancer", {"decision": "rejected", "reasons": ["privacy failed"]})
    assert json.loads(path.read_text())["reasons"] == ["privacy failed"]
    assert latest_publication(tmp_path, "cancer") == good


def test_data_card_markdown_lists_decision_checks_and_lift():
    card = {
        "dataset": "cancer", "decision": "published", "reasons": ["lift holds"],
        "class_counts_before": {"malignant": 20}, "class_counts_after": {"malignant": 200},
        "checks": [{"name": "privacy", "passed": True, "blocking": True, "metrics": {"copies": 0}, "details": "ok"}],
        "lift": {"decision": {"evaluated_on": "validation", "n_eval_rows": 10, "seeds": [0], "classifiers": ["lr"],
                              "scores": {"real_only": {"balanced_accuracy": 0.8}},
                              "lifts": [{"method": "real+synthetic", "reference": "real_only",
                                         "metric": "balanced_accuracy", "mean": 0.05, "ci_low": 0.01, "ci_high": 0.09}]}},
    }
    text = render_data_card(card)
    assert "| privacy | pass | yes | copies=0 | ok |" in text
    assert "+0.0500" in text and "evaluated on the validation" in text


def test_the_card_compares_the_gan_with_each_classic_baseline_and_says_when_one_did_better():
    lift = {"method": "real+synthetic", "metric": "balanced_accuracy"}
    card = {"dataset": "cancer", "decision": "published",
            "gate": {**lift, "reference": "real_only", "mean": 0.05, "ci_low": 0.01, "ci_high": 0.09},
            "lift": {"decision": {"evaluated_on": "5-fold cross-fit", "n_eval_rows": 270, "seeds": [0, 1, 2, 3, 4],
                                  "classifiers": ["lr"], "scores": {"real_only": {"balanced_accuracy": 0.8}}, "lifts": [
                {**lift, "reference": "real_only", "mean": 0.05, "ci_low": 0.01, "ci_high": 0.09},
                {**lift, "reference": "real+smote", "mean": -0.02, "ci_low": -0.06, "ci_high": 0.01},
                {**lift, "reference": "real+class_weights", "mean": 0.01, "ci_low": -0.02, "ci_high": 0.04},
                {**lift, "reference": "real+smote", "metric": "auc", "mean": -0.5, "ci_low": -0.6, "ci_high": -0.4}]}}}
    line = protocol_lines(card)[-1]
    assert "-0.020 [-0.060, +0.010] over real+smote; +0.010 [-0.020, +0.040] over real+class_weights" in line
    assert "real+smote did better than real+synthetic here (by 0.020)" in line and "auc" not in line
    assert line in render_data_card(card)

    card["lift"]["decision"]["lifts"][1].update(mean=0.02, ci_low=-0.01, ci_high=0.05)
    assert "did better" not in protocol_lines(card)[-1]
    assert not any("classic baselines" in line for line in protocol_lines({**card, "lift": {}}))


def test_a_damaged_latest_card_does_not_stop_the_next_run(tmp_path):
    from quality.publish.store import latest_data_card

    version = tmp_path / "wine" / "v0001"
    version.mkdir(parents=True)
    (tmp_path / "wine" / "LATEST").write_text("v0001\n")
    for content in (b'{"modality": "tab', b"[]", b"\xff\xfe"):
        (version / "data_card.json").write_bytes(content)
        assert latest_data_card(tmp_path, "wine") is None
    (tmp_path / "wine" / "LATEST").write_text("v0009\n")  # points at a missing version
    assert latest_data_card(tmp_path, "wine") is None
