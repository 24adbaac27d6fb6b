"""An outer holdout never reaches a GAN, a fitted encoder, a scaler/classifier fit or a quality check: only the
final, reported evaluation reads it."""

import pandas as pd
import pytest
from imblearn.pipeline import Pipeline

from gan_models.tabular import TabularGAN
from gan_models.tabular.encoder import TabularEncoder
from pipelines.cli import build_parser, run_config_from_args
from pipelines.runner import run_augmentation
from quality.checks import diversity, fidelity, privacy, validity


@pytest.mark.slow
def test_holdout_rows_reach_only_the_final_evaluation(tmp_path, monkeypatch, patients_csv):
    seen: dict[str, list[pd.DataFrame]] = {"gan": [], "encoder": [], "checks": [], "classifier_fit": []}

    def spy(kind, function, position=1):
        def wrapper(*args, **kwargs):
            frames = [a for a in (*args, *kwargs.values()) if isinstance(a, pd.DataFrame)]
            seen[kind].extend(frames)
            return function(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(TabularGAN, "fit", spy("gan", TabularGAN.fit))
    monkeypatch.setattr(TabularEncoder, "fit", spy("encoder", TabularEncoder.fit))
    for module, name in ((validity, "validity_check"), (fidelity, "fidelity_check"), (diversity, "diversity_check"),
                         (privacy, "privacy_check")):
        monkeypatch.setattr(module, name, spy("checks", getattr(module, name)))
    monkeypatch.setattr(Pipeline, "fit", spy("classifier_fit", Pipeline.fit))

    # enough epochs for the samples to pass the blocking checks, so that the lift (and its classifiers) runs
    args = build_parser().parse_args(["run", str(patients_csv), "--label", "outcome", "--epochs", "100",
                                      "--lift-seeds", "1", "--holdout-fraction", "0.2", "--folds", "2"])
    run_config = run_config_from_args(args)
    run_config["ops"]["lift_report"]["config"]["jobs"] = 1  # every downstream fit in this process, where the spy is
    run_augmentation(run_config, tmp_path, "patients")

    holdout = pd.read_parquet(tmp_path / "artifacts" / "evaluation_plan" / "patients" / "holdout.parquet")
    holdout_markers = set(holdout["marker"].round(10))
    assert len(holdout_markers) == len(holdout) > 0
    for kind, frames in seen.items():
        assert frames, f"the spy on {kind} saw nothing: the test would prove nothing"
        for frame in frames:
            if "marker" in frame:
                leaked = holdout_markers & set(frame["marker"].dropna().round(10))
                assert not leaked, f"{len(leaked)} holdout row(s) reached {kind}"
