"""The records the lift protocol returns: paired lift estimates and the report of one evaluation."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

# The methods every modality reports under these names, and the metric the gate judges by default.
REAL_ONLY = "real_only"
REAL_PLUS_SYNTHETIC = "real+synthetic"
GATE_METRIC = "balanced_accuracy"


@dataclass(frozen=True)
class LiftEstimate:
    """A paired difference ``method - reference`` of one metric, with a confidence interval."""

    metric: str
    method: str
    reference: str
    mean: float
    ci_low: float
    ci_high: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LiftReport:
    """Scores of every method and the paired lifts, on one evaluation split.

    ``scores[method][metric]`` is the mean over seeds (and classifiers); ``per_classifier`` keeps
    the same per classifier; ``lifts`` compare each method with each reference.
    ``evaluated_on`` names the split ("validation" decides, "holdout" is the final report).
    """

    evaluated_on: str
    n_eval_rows: int
    seeds: list[int]
    classifiers: list[str]
    scores: dict[str, dict[str, float]]
    per_classifier: dict[str, dict[str, dict[str, float]]]
    lifts: list[LiftEstimate]
    confidence: float = 0.95

    def lift(self, method: str, reference: str, metric: str) -> LiftEstimate:
        for estimate in self.lifts:
            if (estimate.method, estimate.reference, estimate.metric) == (method, reference, metric):
                return estimate
        raise KeyError(f"no lift of {method!r} over {reference!r} on {metric!r} in this report")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["lifts"] = [estimate.to_dict() for estimate in self.lifts]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "LiftReport":
        fields = dict(data)
        fields["lifts"] = [LiftEstimate(**estimate) for estimate in data["lifts"]]
        return cls(**fields)
