"""When the lift is cross-fitted, a fold's rows never reach that fold's GAN, encoder, scalers or classifiers:
each fold model is fitted on the other folds only, and only the published generator sees every row."""

import numpy as np
import pandas as pd
import pytest
from imblearn.pipeline import Pipeline

from gan_models.tabular import TabularGAN
from gan_models.tabular.encoder import TabularEncoder
from pipelines.cli import build_parser, run_config_from_args
from pipelines.runner import run_augmentation

FOLDS, REPEATS = 2, 2


def _parts_present(frame: pd.DataFrame, part_of_marker: dict) -> set:
    """The (repetition, fold) pairs whose rows appear in ``frame``."""
    markers = {m for m in frame["marker"].dropna().round(10) if m in part_of_marker}
    return {(repeat, part_of_marker[m][repeat]) for m in markers for repeat in range(REPEATS)}


@pytest.mark.slow
def test_each_fold_is_judged_only_by_models_that_never_saw_it(tmp_path, monkeypatch, patients_csv):
    gan_frames, encoder_frames, predicted = [], [], []

    def spy_frames(store, function):
        def wrapper(*args, **kwargs):
            store.extend(a for a in (*args, *kwargs.values()) if isinstance(a, pd.DataFrame) and "marker" in a)
            return function(*args, **kwargs)
        return wrapper

    def spy_fit(self, X, *args, **kwargs):
        self.spied_training_rows = X.copy()  # on the pipeline itself: an id() may be reused once it is freed
        return original_fit(self, X, *args, **kwargs)

    def spy_predict(self, X, *args, **kwargs):
        predicted.append((self.spied_training_rows, X.copy()))
        return original_predict(self, X, *args, **kwargs)

    original_fit, original_predict = Pipeline.fit, Pipeline.predict_proba
    monkeypatch.setattr(TabularGAN, "fit", spy_frames(gan_frames, TabularGAN.fit))
    monkeypatch.setattr(TabularEncoder, "fit", spy_frames(encoder_frames, TabularEncoder.fit))
    monkeypatch.setattr(Pipeline, "fit", spy_fit)
    monkeypatch.setattr(Pipeline, "predict_proba", spy_predict)

    # two folds drawn twice, not the rule's five once (tests/test_plan.py covers the rule): the same mechanism,
    # repetitions included, at a fraction of the cost
    args = build_parser().parse_args(["run", str(patients_csv), "--label", "outcome", "--epochs", "100",
                                      "--lift-seeds", "1", "--folds", str(FOLDS), "--repeats", str(REPEATS)])
    config = run_config_from_args(args)
    config["ops"]["lift_report"]["config"]["jobs"] = 1  # the spies live in this process
    outcome = run_augmentation(config, tmp_path, "patients")
    assert outcome["protocol"]["repeats"] == REPEATS and outcome["protocol"]["reason"].endswith("drawn 2 times")
    assert outcome["gate"]["evaluated_on"] == "2 x 2-fold cross-fit"

    plan_dir = tmp_path / "artifacts" / "evaluation_plan" / "patients"
    rows, folds = pd.read_parquet(plan_dir / "rows.parquet"), np.load(plan_dir / "folds.npy")
    assert folds.shape == (REPEATS, len(rows))
    part_of_marker = dict(zip(rows["marker"].round(10), folds.T.tolist()))
    assert len(part_of_marker) == len(rows) == 200  # every row decides: a user's table has no holdout by default
    every_part = {(repeat, fold) for repeat in range(REPEATS) for fold in range(FOLDS)}
    assert {(r, f) for r in range(REPEATS) for f in folds[r]} == every_part
    assert not np.array_equal(folds[0], folds[1])  # each repetition deals the rows afresh

    # a GAN per fold of each repetition, each blind to exactly its own fold, and the published one trained on
    # every row
    missing = [every_part - _parts_present(frame, part_of_marker) for frame in gan_frames]
    assert sorted(len(m) for m in missing) == [0] + [1] * (FOLDS * REPEATS)
    assert set().union(*missing) == every_part
    for frame in encoder_frames:
        assert len(every_part - _parts_present(frame, part_of_marker)) <= 1

    # every prediction of a fold comes from a pipeline (imputer, resampler, scaler, classifier) fitted without it
    assert predicted, "no classifier predicted: the test would prove nothing"
    judged_parts = set()
    for training_rows, frame in predicted:
        markers = set(frame["marker"].round(10)) & set(part_of_marker)
        # the rows one part judges: one fold of one repetition, whole
        (part,) = [(r, f) for r, f in every_part if markers == {m for m, p in part_of_marker.items() if p[r] == f}]
        judged_parts.add(part)
        real_rows_fitted = set(training_rows["marker"].round(10)) & set(part_of_marker)
        repeat, fold = part
        assert real_rows_fitted == {m for m, p in part_of_marker.items() if p[repeat] != fold}
    assert judged_parts == every_part
