"""The tabular lift protocol: lift follows the information in the synthetic rows, and no
preprocessing step ever sees the evaluation rows."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.preprocessing import StandardScaler

import quality.lift.tables as tabular_lift
from quality.lift.report import LiftReport
from quality.lift.statistics import RunPrediction
from quality.lift.tables import hardest_classic_baseline, downstream_pipeline, minority_class, tabular_lift_report

LABEL = "diagnosis"


@pytest.fixture(scope="module")
def scarce():
    """breast_cancer cut to 20 malignant + 250 benign train rows, 100 evaluation rows, and a pool of
    real malignant rows that neither split holds (the 'informative synthetic' rows)."""
    bunch = load_breast_cancer(as_frame=True)
    frame = bunch.data.copy()
    frame[LABEL] = np.array(["malignant", "benign"])[bunch.target]
    rng = np.random.default_rng(0)
    malignant = rng.permutation(np.flatnonzero(frame[LABEL] == "malignant"))
    benign = rng.permutation(np.flatnonzero(frame[LABEL] == "benign"))
    train = frame.iloc[np.r_[malignant[:20], benign[:250]]].reset_index(drop=True)
    evaluation = frame.iloc[np.r_[malignant[20:60], benign[250:310]]].reset_index(drop=True)
    pool = frame.iloc[malignant[60:]].reset_index(drop=True)
    return train, evaluation, pool


def with_provenance(rows: pd.DataFrame) -> pd.DataFrame:
    return rows.assign(synthetic=True, model_version="v-test", seed=0)


def test_informative_synthetic_rows_lift_the_minority(scarce):
    train, evaluation, pool = scarce
    report = tabular_lift_report(train, with_provenance(pool), evaluation, LABEL, seeds=(0, 1, 2), n_boot=500)
    assert report.evaluated_on == "validation" and report.n_eval_rows == len(evaluation)
    assert set(report.scores) == {"real_only", "real+synthetic", "real+class_weights", "real+smote",
                                  "real+random_oversampling"}
    assert set(report.per_classifier["real_only"]) == {"logistic_regression", "random_forest"}
    recall = report.lift("real+synthetic", "real_only", "minority_recall")
    assert recall.mean > 0 and recall.ci_low > 0
    assert report.lift("real+synthetic", "real_only", "balanced_accuracy").mean > 0
    assert report.lift("real+synthetic", "real+smote", "balanced_accuracy").mean > 0
    assert LiftReport.from_dict(json.loads(json.dumps(report.to_dict()))) == report


def test_label_flipped_synthetic_rows_have_negative_lift(scarce):
    train, evaluation, pool = scarce
    flipped = with_provenance(pool.assign(**{LABEL: "benign"}))
    report = tabular_lift_report(
        train, flipped, evaluation, LABEL, seeds=(0,), classifiers=("logistic_regression",),
        n_boot=500, include_baselines=False,
    )
    assert set(report.scores) == {"real_only", "real+synthetic"}
    lift = report.lift("real+synthetic", "real_only", "balanced_accuracy")
    assert lift.mean < 0 and lift.ci_high < 0


def wine_with_category(seed: int = 0) -> pd.DataFrame:
    bunch = load_wine(as_frame=True)
    frame = bunch.data.iloc[:, :6].copy()
    rng = np.random.default_rng(seed)
    frame["vineyard"] = rng.choice(["hill", "valley"], size=len(frame))
    frame["cultivar"] = pd.Categorical.from_codes(bunch.target, bunch.target_names).astype(str)
    return frame


def test_multiclass_string_labels_categories_and_missing_values():
    frame = wine_with_category()
    train, evaluation = frame.iloc[::2].copy(), frame.iloc[1::2].copy()
    train.loc[train.index[::9], "alcohol"] = np.nan
    train.loc[train.index[::11], "vineyard"] = None
    evaluation.loc[evaluation.index[:5], "vineyard"] = "coast"  # a category train never had
    synthetic = frame.iloc[1::2].sample(40, random_state=0)
    report = tabular_lift_report(
        train, synthetic, evaluation, "cultivar", seeds=(0,), classifiers=("logistic_regression",), n_boot=200
    )
    assert minority_class(train, "cultivar") == "class_2"
    assert set(report.scores) == {"real_only", "real+synthetic", "real+class_weights", "real+smote",
                                  "real+random_oversampling"}
    assert {lift.reference for lift in report.lifts} == {"real_only", "real+class_weights", "real+smote",
                                                         "real+random_oversampling"}
    assert report.scores["real_only"]["balanced_accuracy"] > 0.7

    smote = downstream_pipeline(train, "cultivar", "logistic_regression", seed=0, resampler="smote")
    assert type(smote.named_steps["resample"]).__name__ == "SMOTENC"
    smote.fit(train.drop(columns=["cultivar"]), train["cultivar"].to_numpy())
    routed = {name: columns for name, _, columns in smote.named_steps["encode"].transformers_}
    assert routed["categorical"] == ["vineyard"] and "alcohol" in routed["numeric"]


def test_preprocessing_is_fitted_on_each_run_s_training_rows_only(scarce, monkeypatch):
    train, evaluation, pool = scarce
    fitted_means = []

    class RecordingScaler(StandardScaler):
        def fit(self, X, y=None, sample_weight=None):
            fitted = super().fit(X, y, sample_weight)
            fitted_means.append(self.mean_.copy())
            return fitted

    monkeypatch.setattr("sklearn.preprocessing.StandardScaler", RecordingScaler)
    marked = evaluation.assign(**{"mean radius": 1e6})
    tabular_lift_report(
        train, pool, marked, LABEL, seeds=(0,), classifiers=("logistic_regression",), n_boot=50
    )
    assert len(fitted_means) == 5  # one per method
    highest_training_radius = max(train["mean radius"].max(), pool["mean radius"].max())
    assert all(means[0] <= highest_training_radius for means in fitted_means)

    monkeypatch.undo()
    pipeline = downstream_pipeline(train, LABEL, "logistic_regression", seed=0)
    features = train.drop(columns=[LABEL])
    pipeline.fit(features, train[LABEL].to_numpy())
    scaler = pipeline.named_steps["encode"].named_transformers_["numeric"]
    np.testing.assert_allclose(scaler.mean_, features.mean().to_numpy())


def test_seeded_reports_repeat_exactly(scarce):
    train, evaluation, pool = scarce
    arguments = dict(seeds=(3,), classifiers=("random_forest",), n_boot=200)
    first = tabular_lift_report(train, pool.head(60), evaluation, LABEL, **arguments)
    second = tabular_lift_report(train, pool.head(60), evaluation, LABEL, **arguments)
    assert first.to_dict() == second.to_dict()


def test_minority_class_and_argument_errors(scarce):
    train, evaluation, pool = scarce
    assert minority_class(train, LABEL) == "malignant"
    tied = pd.DataFrame({"x": range(4), "y": ["b", "a", "b", "a"]})
    assert minority_class(tied, "y") == "a"
    with pytest.raises(ValueError, match="'mean texture'"):
        tabular_lift_report(train, pool.drop(columns=["mean texture"]), evaluation, LABEL)
    with pytest.raises(ValueError, match="'unknown'"):
        tabular_lift_report(train, pool, evaluation.assign(**{LABEL: "unknown"}), LABEL)
    with pytest.raises(ValueError, match="synthetic label"):
        tabular_lift_report(train, pool.assign(**{LABEL: "healthy"}), evaluation, LABEL)
    with pytest.raises(ValueError, match="unknown classifier"):
        downstream_pipeline(train, LABEL, "svm", seed=0)
    assert set(tabular_lift.CLASSIFIERS) == {"logistic_regression", "random_forest", "hist_gradient_boosting"}
    # a scarce table's lift keeps the forest and logistic regression (the rule: tests/test_tabular_scale.py)
    assert tabular_lift.classifiers_for(len(train)) == ("logistic_regression", "random_forest")


@pytest.mark.parametrize("weights, smote, oversampling, hardest", [
    (0.05, -0.01, 0.02, "real+smote"), (0.05, 0.03, 0.02, "real+random_oversampling"),
    (0.01, 0.03, 0.02, "real+class_weights"),
])
def test_the_classic_baseline_to_beat_is_the_one_with_the_lowest_lower_bound(weights, smote, oversampling, hardest):
    bounds = {"real+class_weights": weights, "real+smote": smote, "real+random_oversampling": oversampling}
    report = SimpleNamespace(lift=lambda method, reference, metric: SimpleNamespace(ci_low=bounds[reference]))
    assert hardest_classic_baseline(report) == hardest


def test_the_cross_fitted_report_is_the_same_on_one_process_or_two_and_equals_whole_fold_runs(scarce):
    train, _, pool = scarce
    folds = np.arange(len(train)) % 2
    synthetic = {fold: with_provenance(pool.iloc[fold::2]) for fold in (0, 1)}
    arguments = dict(seeds=(0, 1), classifiers=("logistic_regression",), n_boot=50)
    one = tabular_lift.cross_fitted_lift_report(train, folds, synthetic, LABEL, n_jobs=1, **arguments)
    two = tabular_lift.cross_fitted_lift_report(train, folds, synthetic, LABEL, n_jobs=2, **arguments)
    assert one == two
    classes = sorted(train[LABEL].unique())
    whole = {fold: tabular_lift.fold_runs(train[folds != fold], synthetic[fold], train[folds == fold], LABEL, (0, 1),
                                          ("logistic_regression",), classes) for fold in (0, 1)}
    y_true = np.concatenate([train[LABEL].to_numpy()[folds == fold] for fold in (0, 1)])
    joined = [RunPrediction(run.method, run.classifier, run.seed,
                            y_pred=np.concatenate([run.y_pred, other.y_pred]),
                            y_proba=np.concatenate([run.y_proba, other.y_proba]))
              for run, other in zip(whole[0], whole[1])]
    assert one.scores == tabular_lift._report(y_true, joined, classes, minority_class(train, LABEL), True,
                                              one.evaluated_on, 50).scores


def test_the_holdout_report_is_the_same_on_one_process_or_two_equals_one_run_of_everything_and_reports_progress(scarce):
    train, holdout, pool = scarce
    synthetic = with_provenance(pool)
    arguments = dict(seeds=(0, 1), classifiers=("logistic_regression",), n_boot=50, evaluated_on="holdout")
    calls = []
    one = tabular_lift.tabular_lift_report(train, synthetic, holdout, LABEL, n_jobs=1, **arguments)
    two = tabular_lift.tabular_lift_report(train, synthetic, holdout, LABEL, n_jobs=2,
                                           progress=lambda done, total: calls.append((done, total)), **arguments)
    assert one == two
    tasks = 2 * len(tabular_lift.METHODS)  # one per (seed, method)
    assert calls == [(done, tasks) for done in range(1, tasks + 1)]
    classes = sorted(train[LABEL].unique())
    everything = tabular_lift.fold_runs(train, synthetic, holdout, LABEL, (0, 1), ("logistic_regression",), classes)
    assert one.scores == tabular_lift._report(holdout[LABEL].to_numpy(), everything, classes,
                                              minority_class(train, LABEL), True, "holdout", 50).scores


def test_a_repeated_cross_fit_scores_each_repetition_as_whole_runs_of_the_procedure(scarce):
    train, _, pool = scarce
    first = np.arange(len(train)) % 2
    second = np.random.default_rng(3).permutation(first)
    synthetic = {part: with_provenance(pool.iloc[part::4]) for part in range(4)}  # part = repetition * 2 + fold
    arguments = dict(seeds=(0, 1), classifiers=("logistic_regression",), n_boot=50)
    repeated = tabular_lift.cross_fitted_lift_report(train, np.stack([first, second]), synthetic, LABEL, **arguments)
    alone = [tabular_lift.cross_fitted_lift_report(train, folds, {0: synthetic[2 * r], 1: synthetic[2 * r + 1]},
                                                   LABEL, **arguments) for r, folds in enumerate((first, second))]
    assert repeated.seeds == [0, 1] and repeated.n_eval_rows == len(train)  # every row, judged once per repetition
    for method, scores in repeated.scores.items():
        for metric, value in scores.items():  # every (repetition, seed) run weighs the same
            assert value == pytest.approx((alone[0].scores[method][metric] + alone[1].scores[method][metric]) / 2)
    assert repeated.scores != alone[0].scores
    with pytest.raises(ValueError, match="repetition 1 of the folds judges other rows"):
        tabular_lift.cross_fitted_lift_report(train, np.stack([first, second]), {0: synthetic[0], 1: synthetic[1],
                                                                                 2: synthetic[2]}, LABEL, **arguments)


def test_released_lift_workers_leave_no_process_behind():
    """joblib keeps its worker processes 300 s for reuse; a Dagster step process that started them would
    linger that long before the run's next step could start."""
    import os
    from pathlib import Path

    from joblib import Parallel, delayed

    from quality.lift.workers import release_worker_processes

    def loky_workers() -> list[str]:  # this process's children that are loky workers, read from /proc
        workers = []
        for entry in Path("/proc").iterdir():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                command = (entry / "cmdline").read_bytes().decode(errors="replace")
            except (OSError, ValueError, IndexError):
                continue
            if parent == os.getpid() and "popen_loky" in command:
                workers.append(entry.name)
        return workers

    assert Parallel(n_jobs=2)(delayed(abs)(value) for value in (-1, -2, -3)) == [1, 2, 3]
    assert loky_workers()  # the pool outlives the call
    release_worker_processes()
    assert not loky_workers()
