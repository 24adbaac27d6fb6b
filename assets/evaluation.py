"""lift_report and published_dataset: prove the lift on real data, then publish only if it holds."""

from typing import Any

from dagster import AssetExecutionContext, MetadataValue, asset

from assets.cards import card_header, stored_checks
from assets.asset_checks import BLOCKING_CHECKS, REPORTED_CHECKS
from assets.ingest import GROUP
from assets.metadata import png_markdown
from assets.modalities import modality_for
from assets.progress import partition_of, timed
from pipelines.partitions import dataset_partitions
from pipelines.config import LiftConfig, PublishConfig
from pipelines.resources import SynthliftStorage
from quality.report import plots
from quality.data.artifacts import LiftResult, PublicationRecord
from quality.lift.workers import release_worker_processes
from quality.publish.decision import MIN_LIFT_SEEDS, decide
from quality.publish.card import checks_table, lift_table, write_data_card
from quality.publish.store import publish_version, record_rejection
from quality.lift.report import GATE_METRIC, REAL_ONLY, LiftReport


@asset(group_name=GROUP, partitions_def=dataset_partitions, io_manager_key="artifact_io", kinds={"scikitlearn"})
def lift_report(context: AssetExecutionContext, config: LiftConfig, evaluation_plan, synthetic_samples) -> LiftResult:
    """Downstream classifiers trained on real only, real + synthetic and the classic baselines, over several
    seeds; the lift judged on every deciding row (one validation split, or every fold when cross-fitting)
    decides, and the outer holdout's, when there is one, is only reported."""
    if len(set(config.seeds)) < MIN_LIFT_SEEDS:
        context.log.warning(f"only {len(set(config.seeds))} distinct seeds: the lift is measured but cannot publish "
                            f"(at least {MIN_LIFT_SEEDS} are needed)")
    modality = modality_for(evaluation_plan)
    try:
        result, seconds = timed(modality.measure_lift, evaluation_plan, synthetic_samples, config, context.log.info)
    finally:
        release_worker_processes()
    decision, final = result.decision_report, result.final_report
    gate = LiftReport.from_dict(decision).lift(result.gated_method, REAL_ONLY, GATE_METRIC)
    context.add_output_metadata({
        "wall_seconds": seconds,
        f"{GATE_METRIC}_lift": MetadataValue.float(gate.mean),
        f"{GATE_METRIC}_lift_ci_low": MetadataValue.float(gate.ci_low),
        "deciding_lift_table": MetadataValue.md(lift_table(decision)),
        "holdout_lift_table": MetadataValue.md(lift_table(final) if final else "no outer holdout"),
        "lift_plot": png_markdown(plots.lift_png(decision), "lift with confidence intervals"),
    })
    return result


@asset(group_name=GROUP, partitions_def=dataset_partitions, io_manager_key="artifact_io", kinds={"parquet"})
def published_dataset(
    context: AssetExecutionContext,
    config: PublishConfig,
    evaluation_plan,
    gan_generator,
    synthetic_samples,
    lift_report: LiftResult,
    storage: SynthliftStorage,
) -> PublicationRecord:
    """The augmented dataset, published atomically as a new version only when every blocking check
    passed for this model version and the lift's lower bound clears min_lift; otherwise the rejection
    is recorded and the last publication stays as it was."""
    modality = modality_for(evaluation_plan)
    checks = stored_checks(storage, partition_of(context), synthetic_samples.model_version)
    reference = lift_report.extras["classic_baseline"] if config.require_beat_baseline else REAL_ONLY
    decision = decide(
        checks,
        LiftReport.from_dict(lift_report.decision_report),
        min_lift=config.min_lift,
        method=lift_report.gated_method,
        reference=reference,
        expected_checks=(*BLOCKING_CHECKS, *REPORTED_CHECKS),
    )
    card = data_card(context, evaluation_plan, gan_generator, synthetic_samples, lift_report, checks, decision)
    name = evaluation_plan.name
    if decision.published:
        def write(directory):
            card["files"] = modality.write_publication(directory, evaluation_plan, synthetic_samples)
            write_data_card(directory, card)

        output = publish_version(storage.publish_root, name, write)
        context.log.info(f"published {output}")
    else:
        output = None
        context.log.warning(f"rejected: {'; '.join(decision.reasons)}")
        record_rejection(storage.publish_root, name, card, run_id=context.run.run_id)
    context.add_output_metadata({
        "decision": decision.label,
        "reasons": MetadataValue.md("\n".join(f"- {r}" for r in decision.reasons)),
        "output": str(output) if output else "",
        "checks": MetadataValue.md(checks_table([c.to_dict() for c in checks])),
    })
    return PublicationRecord(decision=decision.label, reasons=decision.reasons,
                             output=str(output) if output else None, card=card)


def data_card(context, split, model, synthetic, lift: LiftResult, checks, decision) -> dict[str, Any]:
    return {
        **card_header(split, synthetic, checks, decision),
        "run_id": context.run.run_id,
        "lift": {"decision": lift.decision_report, "final": lift.final_report},
        "lift_notes": lift_notes(split, model),
        "curation": modality_for(split).curation_summary(synthetic),
        "baselines": lift.extras,
        "config": {
            "generator": modality_for(split).generator_summary(model),
            "sampling_seed": synthetic.seed,
            "run_config": context.run.run_config,
        },
    }


def lift_notes(plan, model) -> str:
    """What the gate's figure estimates, and what the published generator was trained on."""
    summary = modality_for(plan).plan_summary(plan)
    final = ("The 'final' lift is measured on the outer holdout, which decided nothing."
             if summary["holdout_rows"] else "There is no outer holdout.")
    if summary["kind"] == "cross_fit":
        repeats = summary.get("repeats", 1)
        judged = "once" if repeats == 1 else f"once in each of {repeats} independent draws of the folds"
        return (f"The 'decision' lift is the {summary['folds']}-fold cross-fitted estimate of the whole procedure: "
                "each fold's generator, encoder, scalers and classifiers were fitted without the fold's rows, and "
                f"every one of the {summary['deciding_rows']} deciding rows was judged {judged}. The published "
                f"generator was then trained on all {summary['deciding_rows']} deciding rows. {final}")
    return ("The 'decision' lift is measured on the validation split by the published generator itself, which "
            "was trained on the other deciding rows, with the synthetic rows that balance those rows. The publication "
            f"holds all {summary['deciding_rows']} deciding rows, validation included, and the synthetic rows that "
            f"balance them. {final}")
