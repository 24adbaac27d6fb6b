"""What every data card holds, published or rejected: the checks of one model version, the class counts
before and after, and the decision."""

from typing import Any

from assets.modalities import modality_for
from pipelines.resources import SynthliftStorage
from quality.publish.card import utc_now
from quality.checks.result import CheckResult


def stored_checks(storage: SynthliftStorage, partition, model_version: str, run_id: str = "") -> list[CheckResult]:
    """The check results recorded for exactly this model version (results of older models are ignored) and,
    with ``run_id``, by that run only.

    Storage keeps the latest result of each check, so without ``run_id`` each check's result is this run's
    when the run made it, and otherwise the one an earlier run made for the same model (a publication
    materialized on its own, or a re-execution that re-ran only the failed steps)."""
    fields = CheckResult.__dataclass_fields__
    return [CheckResult(**{k: v for k, v in stored.items() if k in fields})
            for stored in storage.read_check_results(partition)
            if stored.get("model_version") == model_version and (not run_id or stored.get("run_id") == run_id)]


def card_header(split, synthetic, checks: list[CheckResult], decision) -> dict[str, Any]:
    """The part of a data card every outcome has: what was augmented, how, and what was decided."""
    modality = modality_for(split)
    before = modality.class_counts(split)
    return {
        "dataset": split.name,
        "source": split.source,
        "modality": modality.MODALITY,
        "protocol": modality.plan_summary(split),
        "created_at": utc_now(),
        "decision": decision.label,
        "reasons": decision.reasons,
        "gate": decision.gate,
        "model_version": synthetic.model_version,
        "class_counts_before": before,
        "class_counts_after": {c: n + int(synthetic.counts.get(c, 0)) for c, n in before.items()},
        "checks": [c.to_dict() for c in checks],
        "lift": {},
    }
