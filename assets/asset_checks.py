"""Quality checks on synthetic_samples. Validity, diversity and privacy block publication: in the
run (Dagster skips what depends on a failed blocking check) and again inside published_dataset,
which reads the stored results for the exact model version it is about to publish.

Fidelity is reported, not blocking: it fails with a warning, which stops nothing. It is still declared
``blocking`` to Dagster, because that is what makes the lift and the publication wait for it, so the data
card always holds this run's fidelity figures."""

from dataclasses import replace

from dagster import AssetCheckExecutionContext, AssetCheckResult, AssetCheckSeverity, AssetIn

from assets.cards import card_header, stored_checks
from assets.generation import synthetic_samples
from assets.metadata import check_metadata
from assets.modalities import modality_for
from pipelines.config import PublishConfig, QualityThresholds
from pipelines.partitions import dataset_asset_check
from pipelines.resources import SynthliftStorage
from pipelines.run_config import step_config
from quality.publish.decision import Decision, decide
from quality.publish.store import record_rejection

BLOCKING_CHECKS = ("validity", "diversity", "privacy")
REPORTED_CHECKS = ("fidelity",)


def _evaluate(name: str, context: AssetCheckExecutionContext, split, synthetic, thresholds, storage) -> AssetCheckResult:
    modality = modality_for(split)
    result = replace(modality.run_check(name, split, synthetic, thresholds), name=name)  # one name per check
    partition = context.op_execution_context.partition_key
    run = context.op_execution_context.run
    storage.write_check_result(partition, name,
                               {**result.to_dict(), "model_version": synthetic.model_version, "run_id": run.run_id})
    with storage.check_results_lock(partition):  # the run's checks may run in parallel processes
        record_if_blocked(run, storage, partition, split, synthetic)
    metadata = check_metadata(result)
    if name == "fidelity":
        metadata.update(modality.comparison_metadata(split, synthetic))
    blocking = name in BLOCKING_CHECKS
    return AssetCheckResult(
        passed=result.passed,
        severity=AssetCheckSeverity.ERROR if blocking else AssetCheckSeverity.WARN,
        metadata=metadata,
        description=result.details,
    )


def record_if_blocked(run, storage: SynthliftStorage, partition: str, split, synthetic) -> None:
    """Once one of this run's blocking checks has failed, Dagster skips the lift and the publication, so the
    checks record the rejection themselves. Each check of the run rewrites the run's record from the run's own
    results (under the caller's lock), so the last one to finish leaves every result in it."""
    checks = stored_checks(storage, partition, synthetic.model_version, run_id=run.run_id)
    if all(check.passed or not check.blocking for check in checks):
        return
    publish = PublishConfig(**(step_config(run.run_config, "published_dataset") or {}))
    reference = "the hardest classic baseline" if publish.require_beat_baseline else "real_only"
    decision = decide(checks, None, min_lift=publish.min_lift, reference=reference,
                      expected_checks=(*BLOCKING_CHECKS, *REPORTED_CHECKS))
    reasons = [r if r != "no lift was measured" else "lift was not measured: a blocking check failed first"
               for r in decision.reasons]
    card = card_header(split, synthetic, checks, Decision(published=False, reasons=reasons, gate=decision.gate))
    card.update(run_id=run.run_id, config={"run_config": run.run_config})
    record_rejection(storage.publish_root, partition, card, run_id=run.run_id)


def _build_check(name: str):
    role = "blocks publication" if name in BLOCKING_CHECKS else "reported: a failure warns and stops nothing"

    @dataset_asset_check(
        asset=synthetic_samples,
        name=f"{name}_check",
        blocking=True,  # downstream waits for every check; only an ERROR-severity failure skips it
        additional_ins={"evaluation_plan": AssetIn("evaluation_plan")},
        description=f"{name.capitalize()} of the synthetic samples ({role}).",
    )
    def _check(context: AssetCheckExecutionContext, synthetic_samples, evaluation_plan,
               thresholds: QualityThresholds, storage: SynthliftStorage) -> AssetCheckResult:
        return _evaluate(name, context, evaluation_plan, synthetic_samples, thresholds, storage)

    return _check


synthetic_checks = [_build_check(name) for name in (*BLOCKING_CHECKS, *REPORTED_CHECKS)]
