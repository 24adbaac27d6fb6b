"""gan_generator and synthetic_samples: learn each class from the rows the plan allows, then fill the gap.

gan_generator is a small graph: a plan step names the training parts (tables: one GAN per fold of the
evaluation plan plus the published one; images: one joint conditional GAN, or one per class in per_class
mode), each part trains in its own step (so the multiprocess or Kubernetes executor trains them side by
side), and a last step combines them.
"""

import shutil
from typing import Iterator

from dagster import (
    AssetExecutionContext, Backoff, ConfigMapping, DynamicOut, DynamicOutput, Failure, OpExecutionContext, Out,
    RetryPolicy, asset, graph_asset, op,
)

from assets.ingest import GROUP
from assets.modalities import modality_for
from assets.progress import partition_of, progress_logger, timed
from gan_models.runtime import cpu_threads, training_threads
from pipelines.config import GeneratorConfig, SamplingConfig
from pipelines.interrupts import INTERRUPTS, refuse_if_interrupted, stop_interactive_run
from pipelines.partitions import dataset_partitions
from pipelines.resources import SynthliftStorage
from pipelines.run_config import step_config

# The marker says "this step trains"; the dagster-k8s tag asks the Kubernetes executor for a GPU for
# its pod (ignored by local executors). deploy/k8s_definitions.py adds node placement from the marker.
GPU_TAGS = {
    "synthlift/gpu": "true",
    "dagster-k8s/config": {"container_config": {"resources": {"limits": {"nvidia.com/gpu": "1"}}}},
}
GPU_POOL = "gpu"  # deployments cap concurrent GPU steps with this pool (deploy/dagster.yaml)
TRANSIENT_RETRY = RetryPolicy(max_retries=2, delay=10, backoff=Backoff.EXPONENTIAL)


def check_strategy_fits_classes(evaluation_plan, config: SamplingConfig) -> None:
    """Raise ``ValueError`` if the strategy names a class the deciding rows lack, asks a class for fewer rows than it
    has, or asks for no new rows at all."""
    modality = modality_for(evaluation_plan)
    if not any(modality.rows_to_generate(evaluation_plan, config).values()):
        raise ValueError(f"sampling_strategy {config.sampling_strategy!r} asks for no new rows: the real class "
                         f"counts {modality.class_counts(evaluation_plan)} already meet its targets; choose a "
                         "strategy that raises at least one class")


@op(out=DynamicOut(int), description="The training parts: one GAN per fold of the plan (tables) or per class "
    "(images in per_class mode), and the published one.")
def plan_generator_training(context: OpExecutionContext, config: GeneratorConfig,
                            evaluation_plan) -> Iterator[DynamicOutput]:
    # When this run also generates, its sampling strategy is checked against the classes before any training.
    sampling = step_config(context.run.run_config, "synthetic_samples")
    if sampling is not None:
        check_strategy_fits_classes(evaluation_plan, SamplingConfig(**sampling))
    for name, part in modality_for(evaluation_plan).training_parts(evaluation_plan, config).items():
        yield DynamicOutput(part, mapping_key=name)


@op(out=Out(io_manager_key="artifact_io"), tags=GPU_TAGS, pool=GPU_POOL, retry_policy=TRANSIENT_RETRY,
    description="Train the GAN of one part on the train split (resumes from its last checkpoint).")
def train_generator_part(context: OpExecutionContext, config: GeneratorConfig, evaluation_plan, part: int,
                         storage: SynthliftStorage):
    refuse_if_interrupted(context.run_id)  # one Ctrl-C stops every training part of a per-class run
    modality = modality_for(evaluation_plan)
    name = context.get_mapping_key() or str(part)
    checkpoints = None
    if config.checkpoint_every:
        checkpoints = storage.checkpoint_dir(partition_of(context)) / "gan_generator" / name
    progress = progress_logger(context, f"training {name}")
    threads = training_threads(config.cpu_threads, len(modality.training_parts(evaluation_plan, config)))
    try:
        with cpu_threads(threads):
            model, seconds = timed(modality.train_part, evaluation_plan, config, part, progress, checkpoints)
    except ValueError as err:  # bad data or options: unlike a lost GPU or worker, a retry would fail the same way
        raise Failure(description=str(err), allow_retries=False) from err
    except INTERRUPTS as err:
        # Dagster turns an interrupt into a retry when a retry policy is set (right for a pre-empted pod); a user
        # who pressed Ctrl-C on `synthlift run` wants the run to stop, not to restart training and publish
        stop_interactive_run(context.run_id, context.run.tags, err)
        raise
    resumed = modality.resumed_from_step(model)
    context.log.info(f"trained {name} in {seconds} s" + (f", resumed from step {resumed}" if resumed else ""))
    if checkpoints is not None:
        # the trained model is stored as the step's output: a finished run's checkpoint must not be
        # "resumed" by the next run, which may see new data
        shutil.rmtree(checkpoints, ignore_errors=True)
    return model


@op(out=Out(io_manager_key="artifact_io"), description="Combine the trained parts into one generator.")
def combine_generator_parts(context: OpExecutionContext, evaluation_plan, parts: list):
    modality = modality_for(evaluation_plan)
    model = modality.combine_parts(evaluation_plan, parts)
    context.add_output_metadata(modality.training_metadata(model, evaluation_plan))
    return model


def _generator_config(values: dict) -> dict:
    return {name: {"config": values} for name in ("plan_generator_training", "train_generator_part")}


@graph_asset(
    group_name=GROUP,
    partitions_def=dataset_partitions,
    config=ConfigMapping(config_fn=_generator_config, config_schema=GeneratorConfig.to_config_schema()),
    description="Class-conditional GANs, one per fold of the evaluation plan, each trained only on rows its fold "
    "does not judge, and the published one (tables); or one joint GAN or one per class (images). Saved as "
    "state_dicts + config + encoder state.",
)
def gan_generator(evaluation_plan):
    parts = plan_generator_training(evaluation_plan)
    trained = parts.map(lambda part: train_generator_part(evaluation_plan, part))
    return combine_generator_parts(evaluation_plan, trained.collect())


@asset(group_name=GROUP, partitions_def=dataset_partitions, io_manager_key="artifact_io", kinds={"pytorch"})
def synthetic_samples(context: AssetExecutionContext, config: SamplingConfig, evaluation_plan, gan_generator):
    """Exactly the samples each class needs to reach the balancing target, with provenance columns."""
    modality = modality_for(evaluation_plan)
    check_strategy_fits_classes(evaluation_plan, config)
    synthetic = modality.generate(gan_generator, evaluation_plan, config)
    context.log.info(f"generating {synthetic.counts} (class -> new samples)")
    curation = modality.curation_summary(synthetic)
    if curation:
        context.log.info(f"curation kept {curation['kept']} of {curation['candidates']} candidates (class -> images)")
    context.add_output_metadata({"new_samples_per_class": synthetic.counts, "model_version": synthetic.model_version,
                                 **({"curation": curation} if curation else {})})
    return synthetic
