"""The publish decision: every blocking check passed and the lift's lower bound clears ``min_lift``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Optional, Sequence

from quality.checks.result import CheckResult
from quality.lift.report import GATE_METRIC, REAL_ONLY, REAL_PLUS_SYNTHETIC, LiftReport
from quality.data.plan import is_deciding, minimum_detectable_lift
from quality.lift.statistics import MIN_LIFT_SEEDS


@dataclass(frozen=True)
class Decision:
    published: bool
    reasons: list[str]
    gate: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return "published" if self.published else "rejected"

    def to_dict(self) -> dict[str, Any]:
        return {"decision": self.label, **asdict(self)}


def decide(
    checks: Sequence[CheckResult],
    lift_report: Optional[LiftReport],
    min_lift: float = 0.0,
    method: str = REAL_PLUS_SYNTHETIC,
    reference: str = REAL_ONLY,
    metric: str = GATE_METRIC,
    expected_checks: Sequence[str] = (),
) -> Decision:
    """Publish only if every expected blocking check ran and passed and the lower confidence bound of
    ``method``'s lift over ``reference`` on ``metric`` exceeds ``min_lift``.

    The lift report given here must come from the deciding rows (a validation split or the cross-fitted
    folds): the outer holdout is reserved for the final reported figures and never decides.
    """
    reasons: list[str] = []
    ran = {check.name for check in checks}
    for name in expected_checks:
        if name not in ran:
            reasons.append(f"check '{name}' did not run, so publication cannot be vouched for")
    for check in checks:
        if check.blocking and not check.passed:
            reasons.append(f"blocking check '{check.name}' failed: {check.details}")

    gate = {"method": method, "reference": reference, "metric": metric, "min_lift": min_lift}
    if lift_report is None:
        reasons.append("no lift was measured")
    else:
        if not is_deciding(lift_report.evaluated_on):
            raise ValueError("the publish decision is taken on the deciding rows (the validation split or the "
                             f"cross-fitted folds) only, not on the {lift_report.evaluated_on!r} split (the holdout "
                             "split never decides)")
        estimate = lift_report.lift(method, reference, metric)
        detectable = minimum_detectable_lift(estimate.ci_low, estimate.ci_high)
        gate.update(estimate.to_dict(), evaluated_on=lift_report.evaluated_on, confidence=lift_report.confidence,
                    n_eval_rows=lift_report.n_eval_rows, minimum_detectable_lift=detectable)
        summary = (
            f"{metric} lift of {method} over {reference} on the {lift_report.evaluated_on} "
            f"({lift_report.n_eval_rows} real rows) is {estimate.mean:+.4f} ({lift_report.confidence:.0%} CI "
            f"{estimate.ci_low:+.4f} to {estimate.ci_high:+.4f})"
        )
        if len(lift_report.seeds) < MIN_LIFT_SEEDS:
            reasons.append(f"the lift was measured over {len(lift_report.seeds)} downstream seed(s); publishing "
                           f"needs at least {MIN_LIFT_SEEDS}")
        if estimate.ci_low > min_lift:
            if not reasons:
                reasons.append(f"every blocking check passed; {summary}, lower bound above min_lift={min_lift}")
        else:
            reasons.append(f"{summary}: the lower bound does not exceed min_lift={min_lift}; these rows can only "
                           f"tell a lift of about {detectable:.3f} or more from noise")

    published = not any(r for r in reasons if not r.startswith("every blocking check passed"))
    return Decision(published=published, reasons=reasons, gate=gate)
