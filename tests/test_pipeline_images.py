"""End to end for images: the same assets and CLI on the built-in digits and on BreastMNIST."""

import json

import pandas as pd
import pytest

from pipelines.cli import main
from quality.publish.store import latest_publication

FAST = ["--image-steps", "30", "--lift-seeds", "5", "--lift-epochs", "1"]  # a pipeline test: one CNN epoch is enough
SMALL = ["--image-size", "16"]  # digits are 8x8: 16 px shows the pipeline as well as 28 px, at a third of the cost


def run_cli(capsys, *args) -> tuple[int, dict]:
    code = main(["run", *args, "--json"])
    out = capsys.readouterr().out.strip().splitlines()
    return code, (json.loads(out[-1]) if code == 0 and out else {})


@pytest.mark.slow
def test_digits_run_reports_every_image_check_and_both_baselines(tmp_path, capsys, any_min_lift):
    code, outcome = run_cli(capsys, "digits", "--out", str(tmp_path), *FAST, *SMALL, "--min-lift", "-1")
    assert code == 0 and outcome["modality"] == "image"
    before, after = outcome["class_counts_before"], outcome["class_counts_after"]
    assert min(before.values()) < max(before.values())
    assert len(set(after.values())) == 1  # balanced
    checks = {c["name"]: c for c in outcome["checks"]}
    assert set(checks) == {"validity", "fidelity", "diversity", "privacy"}
    assert "frechet_distance" in json.dumps(checks["fidelity"]["metrics"]).lower() or checks["fidelity"]["metrics"]
    scores = outcome["lift"].get("decision", {}).get("scores", {})
    if any(c["blocking"] and not c["passed"] for c in outcome["checks"]):
        assert outcome["decision"] == "rejected"
        return
    assert {"real_only", "real+oversampling", "real+classic", "real+synthetic"} <= set(scores)
    assert outcome["decision"] == "published"
    version = latest_publication(tmp_path / "published", "digits")
    manifest = pd.read_parquet(version / "manifest.parquet")
    assert manifest["synthetic"].sum() == sum(after.values()) - sum(before.values())
    real = manifest[~manifest["synthetic"]]  # every deciding image: train and validation
    assert len(real) == sum(before.values()) and set(real["split"]) == {"train", "validation"}
    assert manifest["label"].value_counts().nunique() == 1 and manifest["path"].is_unique
    assert all((version / path).exists() for path in manifest["path"].head(20))
    from PIL import Image

    assert Image.open(version / manifest["path"].iloc[-1]).size == (16, 16)  # --image-size reached the GAN
    assert (version / "sample_grid.png").exists()
    card = json.loads((version / "data_card.json").read_text())
    assert card["baselines"]["classic_augmentation"]["transform"]  # albumentations pipeline serialised
    chosen = card["baselines"]["classic_baseline"]  # on validation; the holdout report measures the same one
    assert card["baselines"]["holdout"]["best_classic_baseline"] == chosen
    assert any(l["reference"] == chosen for l in card["lift"]["final"]["lifts"])


@pytest.mark.slow
def test_breastmnist_uses_the_official_splits(tmp_path, capsys, breastmnist_path):
    # ten GAN steps and two lift seeds: this run is about the splits, and a short run measures them all the same
    code, outcome = run_cli(capsys, str(breastmnist_path), "--out", str(tmp_path), *FAST, "--image-steps", "10",
                            "--lift-seeds", "2")
    assert code == 0
    # the official train (147 / 399) and val (21 / 57) images decide and are published; test only reports
    assert outcome["class_counts_before"] == {"0": 168, "1": 456}
    final = outcome["lift"].get("final")
    if final:
        assert final["evaluated_on"] == "holdout" and final["n_eval_rows"] == 156


def test_a_corrupt_npz_is_named_and_nothing_is_published(tmp_path, capsys):
    bad = tmp_path / "scans.npz"
    bad.write_bytes(b"not a zip")
    code = main(["run", str(bad), "--out", str(tmp_path / "out"), "--json"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and "scans.npz" in err[-1]
    assert not (tmp_path / "out" / "published").exists()


def test_one_interrupt_stops_every_training_part_of_a_per_class_run(tmp_path, capsys, monkeypatch):
    """After one part fails on Ctrl-C, the in-process executor would go on training the other classes."""
    import assets.modalities.image as steps

    parts = []

    def interrupted(data, config, part, *rest, **kwargs):
        parts.append(part)
        raise KeyboardInterrupt

    monkeypatch.setattr(steps, "train_part", interrupted)
    code = main(["run", "digits", "--per-class", "--image-steps", "1", "--out", str(tmp_path), "--json"])
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 2 and parts == [0]
    assert json.loads(out[-1])["error"].endswith("interrupted; nothing was published")


@pytest.mark.parametrize("size, message", [("18", "must be a multiple of 4"), ("12", "must be at least 16")])
def test_an_image_size_the_gan_cannot_grow_is_refused_before_anything_runs(tmp_path, capsys, size, message):
    code = main(["run", "digits", "--image-size", size, "--out", str(tmp_path), "--json"])
    assert code == 2 and message in capsys.readouterr().err
