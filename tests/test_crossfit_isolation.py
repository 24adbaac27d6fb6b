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

FOLDS = 3


def _folds_present(frame: pd.DataFrame, fold_of_marker: dict) -> set:
    return {fold_of_marker[m] for m in frame["marker"].dropna().round(10) if m in fold_of_marker}


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

    # three folds, not the rule's five (tests/test_plan.py covers the rule): the same mechanism at 3/5 of the cost
    args = build_parser().parse_args(["run", str(patients_csv), "--label", "outcome", "--epochs", "100",
                                      "--lift-seeds", "1", "--folds", str(FOLDS)])
    config = run_config_from_args(args)
    config["ops"]["lift_report"]["config"]["jobs"] = 1  # the spies live in this process
    run_augmentation(config, tmp_path, "patients")

    plan_dir = tmp_path / "artifacts" / "evaluation_plan" / "patients"
    rows, folds = pd.read_parquet(plan_dir / "rows.parquet"), np.load(plan_dir / "folds.npy")
    fold_of_marker = dict(zip(rows["marker"].round(10), folds))
    assert len(fold_of_marker) == len(rows) == 200  # every row decides: a user's table has no holdout by default
    every_fold = set(range(FOLDS))
    assert set(folds) == every_fold

    # a GAN per fold, each blind to exactly its own fold, and the published one trained on every row
    gan_folds = [_folds_present(frame, fold_of_marker) for frame in gan_frames]
    assert sorted(len(present) for present in gan_folds) == [FOLDS - 1] * FOLDS + [FOLDS]
    assert {fold for present in gan_folds if len(present) == FOLDS - 1 for fold in every_fold - present} == every_fold
    assert all(len(_folds_present(frame, fold_of_marker)) in (FOLDS - 1, FOLDS) for frame in encoder_frames)

    # every prediction of a fold comes from a pipeline (imputer, resampler, scaler, classifier) fitted without it
    assert predicted, "no classifier predicted: the test would prove nothing"
    for training_rows, frame in predicted:
        (judged,) = _folds_present(frame, fold_of_marker)
        assert len(_folds_present(frame, fold_of_marker)) == 1
        assert judged not in _folds_present(training_rows, fold_of_marker)
        real_rows_fitted = set(training_rows["marker"].round(10)) & set(fold_of_marker)
        assert real_rows_fitted == {m for m, f in fold_of_marker.items() if f != judged}
