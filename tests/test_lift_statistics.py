import numpy as np
import pytest
from sklearn.metrics import average_precision_score, balanced_accuracy_score, f1_score, roc_auc_score

from quality.lift.statistics import ROW_LOOP_MIN_WIDTH, RunPrediction, build_lift_report, weighted_metrics


def _random_predictions(rng, n, k):
    y = rng.integers(0, k, n)
    proba = rng.dirichlet(np.ones(k), n)
    proba[:, 0] = np.round(proba[:, 0], 1)  # ties exercise the tie handling
    proba /= proba.sum(axis=1, keepdims=True)
    return y, proba


@pytest.mark.parametrize("k", [2, 3])
def test_unit_weight_metrics_match_scikit_learn(k):
    rng = np.random.default_rng(0)
    y, proba = _random_predictions(rng, 300, k)
    pred = proba.argmax(axis=1)
    got = {name: values[0] for name, values in weighted_metrics(y, pred, proba, 0, np.ones((1, 300))).items()}
    assert got["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, pred))
    assert got["macro_f1"] == pytest.approx(f1_score(y, pred, average="macro"))
    assert got["auprc"] == pytest.approx(average_precision_score(y == 0, proba[:, 0]))
    expected_auc = roc_auc_score(y, proba, multi_class="ovr") if k > 2 else roc_auc_score(y, proba[:, 1])
    assert got["auc"] == pytest.approx(expected_auc)


@pytest.mark.parametrize("replicates", [3, ROW_LOOP_MIN_WIDTH + 2])  # both ways of summing the draws
@pytest.mark.parametrize("k", [2, 4])
def test_bootstrap_count_metrics_match_scikit_learn_with_those_sample_weights(k, replicates):
    rng = np.random.default_rng(3)
    y, proba = _random_predictions(rng, 400, k)
    pred = proba.argmax(axis=1)
    draws = rng.multinomial(400, np.full(400, 1 / 400), size=replicates).astype(float)
    got = weighted_metrics(y, pred, proba, 0, draws)
    for b in (0, 1, 2, replicates - 1):
        weights = draws[b]
        assert got["balanced_accuracy"][b] == pytest.approx(balanced_accuracy_score(y, pred, sample_weight=weights))
        assert got["auprc"][b] == pytest.approx(average_precision_score(y == 0, proba[:, 0], sample_weight=weights))
        expected_auc = (roc_auc_score(y, proba, multi_class="ovr", average="macro", sample_weight=weights) if k > 2
                        else roc_auc_score(y, proba[:, 1], sample_weight=weights))
        assert got["auc"][b] == pytest.approx(expected_auc)


def test_weights_must_be_whole_draw_counts():
    y, proba = _random_predictions(np.random.default_rng(4), 20, 2)
    with pytest.raises(ValueError, match="whole, non-negative counts"):
        weighted_metrics(y, proba.argmax(axis=1), proba, 0, np.full((1, 20), 0.5))


def _runs(method, y, accuracy, rng, seeds=range(5)):
    runs = []
    for seed in seeds:
        correct = rng.random(len(y)) < accuracy
        pred = np.where(correct, y, 1 - y)
        proba = np.stack([1 - pred * 0.8 - 0.1, pred * 0.8 + 0.1], axis=1)
        runs.append(RunPrediction(method, "lr", seed, pred, proba))
    return runs


def test_a_clearly_better_method_has_a_positive_interval_and_a_worse_one_negative():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 400)
    runs = _runs("real_only", y, 0.7, rng) + _runs("better", y, 0.9, rng) + _runs("worse", y, 0.5, rng)
    report = build_lift_report(y, runs, [0, 1], 1, ["real_only"], "validation", n_boot=300)
    better = report.lift("better", "real_only", "balanced_accuracy")
    worse = report.lift("worse", "real_only", "balanced_accuracy")
    assert better.ci_low > 0.1 and better.ci_low <= better.mean <= better.ci_high
    assert worse.ci_high < -0.1
    assert report.seeds == [0, 1, 2, 3, 4]


def test_identical_methods_have_zero_lift():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 100)
    runs = _runs("real_only", y, 0.8, np.random.default_rng(5))
    twins = [RunPrediction("twin", r.classifier, r.seed, r.y_pred, r.y_proba) for r in runs]
    report = build_lift_report(y, runs + twins, [0, 1], 1, ["real_only"], "validation", n_boot=100)
    lift = report.lift("twin", "real_only", "macro_f1")
    assert lift.mean == lift.ci_low == lift.ci_high == 0


def test_missing_reference_is_an_error():
    y = np.array([0, 1])
    run = RunPrediction("a", "lr", 0, y, np.eye(2))
    with pytest.raises(ValueError, match="reference method"):
        build_lift_report(y, [run], [0, 1], 1, ["real_only"], "validation")


def test_a_lift_that_rests_on_one_lucky_seed_is_not_significant():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 400)
    reference = _runs("real_only", y, 0.7, rng)
    lucky = _runs("lucky", y, 0.99, rng, seeds=[0]) + _runs("lucky", y, 0.69, rng, seeds=[1, 2, 3, 4])
    lift = build_lift_report(y, reference + lucky, [0, 1], 1, ["real_only"], "validation",
                             n_boot=500).lift("lucky", "real_only", "balanced_accuracy")
    assert lift.mean > 0.02
    assert lift.ci_low < 0 < lift.ci_high  # resampling rows alone would call this significant


def test_a_class_missing_from_the_judged_rows_leaves_its_ranking_metrics_undefined_not_a_crash():
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 120)  # three classes, the third absent from the judged rows
    proba = rng.dirichlet(np.ones(3), 120)
    draws = rng.multinomial(120, np.full(120, 1 / 120), size=ROW_LOOP_MIN_WIDTH + 2).astype(float)
    got = weighted_metrics(y, proba.argmax(axis=1), proba, 2, draws)
    assert np.isnan(got["auprc"]).all()  # no positive of the minority class 2 to rank
    expected = np.mean([roc_auc_score(y == k, proba[:, k], sample_weight=draws[0]) for k in (0, 1)])
    assert got["auc"][0] == pytest.approx(expected)
