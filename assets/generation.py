"""gan_generator and synthetic_samples: learn each class from the train split, then fill the gap."""

from dagster import AssetExecutionContext, asset

from assets.ingest import GROUP
from assets.steps import partition_of, progress_logger, steps_for, timed
from pipelines.partitions import dataset_partitions
from pipelines.config import GeneratorConfig, SamplingConfig
from pipelines.resources import SynthliftStorage


@asset(group_name=GROUP, partitions_def=dataset_partitions, io_manager_key="artifact_io", kinds={"pytorch"}, op_tags={"synthlift/gpu": "true"})
def gan_generator(context: AssetExecutionContext, config: GeneratorConfig, dataset_split, storage: SynthliftStorage):
    """A class-conditional GAN trained on the train split only (state_dict + config + encoder state)."""
    steps = steps_for(dataset_split)
    checkpoints = storage.checkpoint_dir(partition_of(context)) / "gan_generator" if config.checkpoint_every else None
    progress = progress_logger(context, "training")
    model, seconds = timed(steps.train, dataset_split, config, progress, checkpoints)
    context.log.info(f"trained in {seconds} s")
    context.add_output_metadata(steps.training_metadata(model, dataset_split, seconds))
    return model


@asset(group_name=GROUP, partitions_def=dataset_partitions, io_manager_key="artifact_io", kinds={"pytorch"})
def synthetic_samples(context: AssetExecutionContext, config: SamplingConfig, dataset_split, gan_generator):
    """Exactly the samples each class needs to reach the balancing target, with provenance columns."""
    steps = steps_for(dataset_split)
    synthetic = steps.generate(gan_generator, dataset_split, config)
    context.log.info(f"generating {synthetic.counts} (class -> new samples)")
    context.add_output_metadata({"new_samples_per_class": synthetic.counts, "model_version": synthetic.model_version})
    return synthetic

