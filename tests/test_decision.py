import pytest

from quality.publish.decision import decide
from quality.checks.result import CheckResult
from quality.lift.report import LiftEstimate, LiftReport


def _report(ci_low, evaluated_on="validation", seeds=(0, 1, 2, 3, 4)):
    lift = LiftEstimate("balanced_accuracy", "real+synthetic", "real_only", ci_low + 0.02, ci_low, ci_low + 0.04)
    return LiftReport(evaluated_on, 100, list(seeds), ["lr"], {}, {}, [lift])


PASSING = [CheckResult("validity", True, True), CheckResult("privacy", True, True),
           CheckResult("fidelity", False, False, details="C2ST AUC 0.95")]


def test_publishes_when_blocking_checks_pass_and_the_lower_bound_clears_min_lift():
    decision = decide(PASSING, _report(0.01), min_lift=0.0, expected_checks=("validity", "privacy"))
    assert decision.published and "lower bound above min_lift" in decision.reasons[0]


def test_a_failed_non_blocking_check_does_not_reject():
    assert decide(PASSING, _report(0.01)).published


def test_rejects_on_a_failed_blocking_check_and_says_which():
    checks = [CheckResult("privacy", False, True, details="3 exact copies")] + PASSING[:1]
    decision = decide(checks, _report(0.05))
    assert not decision.published
    assert any("privacy" in r and "3 exact copies" in r for r in decision.reasons)


@pytest.mark.parametrize("ci_low, min_lift", [(-0.01, 0.0), (0.0, 0.0), (0.02, 0.03)])
def test_rejects_when_the_lower_bound_does_not_clear_min_lift(ci_low, min_lift):
    decision = decide(PASSING, _report(ci_low), min_lift=min_lift)
    assert not decision.published and "does not exceed" in decision.reasons[-1]


def test_rejects_when_an_expected_check_did_not_run():
    decision = decide(PASSING[:1], _report(0.05), expected_checks=("validity", "privacy"))
    assert not decision.published and "'privacy' did not run" in decision.reasons[0]


@pytest.mark.parametrize("split", ["holdout", "test", "train"])
def test_only_the_deciding_rows_decide(split):
    with pytest.raises(ValueError, match=f"folds\\) only, not on the '{split}' split"):
        decide(PASSING, _report(0.05, evaluated_on=split))


def test_a_cross_fitted_lift_decides_and_states_the_power_of_its_rows():
    decision = decide(PASSING, _report(0.05, evaluated_on="5-fold cross-fit"))
    assert decision.published
    gate = decision.gate
    assert gate["minimum_detectable_lift"] == pytest.approx((gate["ci_high"] - gate["ci_low"]) / 2)


def test_a_lift_over_fewer_than_five_seeds_never_publishes():
    decision = decide(PASSING, _report(0.05, seeds=(0, 1)))
    assert not decision.published
    assert "measured over 2 downstream seed(s); publishing needs at least 5" in decision.reasons[0]
