"""The run config of the augmentation job, built in one place for the CLI and the catalog."""

from typing import Any, Optional, Sequence

from quality.lift.statistics import MIN_LIFT_SEEDS

CONSOLE_LOGGER = {"console": {"config": {"log_level": "INFO"}}}
MAX_SEED = 2**32 - 1  # NumPy's and scikit-learn's random states take seeds below 2**32


def augmentation_run_config(
    source: str,
    label: str = "",
    drop_columns: Sequence[str] = (),
    keep_columns: Sequence[str] = (),
    seed: int = 0,
    device: str = "auto",
    epochs: Optional[int] = None,
    max_steps: Optional[int] = None,
    image_steps: Optional[int] = None,
    image_minutes: Optional[float] = None,
    checkpoint_every: int = 0,
    per_class: bool = False,
    image_size: Optional[int] = None,
    sampling_strategy: str = "auto",
    image_curation: Optional[int] = None,
    folds: Optional[int] = None,
    repeats: int = 1,
    holdout_fraction: Optional[float] = None,
    lift_seeds: int = MIN_LIFT_SEEDS,
    lift_epochs: Optional[int] = None,
    min_lift: float = 0.0,
    require_beat_baseline: bool = False,
    thresholds: Optional[dict[str, float]] = None,
) -> dict[str, Any]:
    """Config of every step; unset budgets (``None``) keep the step's own default. ``seed`` seeds the
    split, the GAN and the sampler. ``drop_columns`` and ``keep_columns`` are given once each, in order,
    and only when they name a column."""
    generator: dict[str, Any] = {"seed": seed, "device": device, "per_class": per_class,
                                 "checkpoint_every": checkpoint_every}
    generator.update(_given(epochs=epochs, max_steps=max_steps, image_steps=image_steps,
                            image_minutes=image_minutes))
    ops = {
        "raw_dataset": {"source": source, "label": label, **_given(image_size=image_size),
                        **_columns(drop_columns=drop_columns, keep_columns=keep_columns)},
        "evaluation_plan": {"seed": seed, **_given(folds=folds, holdout_fraction=holdout_fraction),
                            **({"repeats": repeats} if repeats != 1 else {})},
        "gan_generator": generator,
        "synthetic_samples": {"seed": seed, "sampling_strategy": sampling_strategy,
                              **_given(image_curation=image_curation)},
        "lift_report": {"seeds": list(range(lift_seeds)), **_given(image_epochs=lift_epochs)},
        "published_dataset": {"min_lift": min_lift, "require_beat_baseline": require_beat_baseline},
    }
    run_config: dict[str, Any] = {
        "ops": {name: {"config": config} for name, config in ops.items()},
        "loggers": {name: {"config": dict(logger["config"])} for name, logger in CONSOLE_LOGGER.items()},
    }
    if thresholds:
        run_config["resources"] = {"thresholds": {"config": dict(thresholds)}}
    return run_config


def _given(**values: Any) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not None}


def _columns(**lists: Sequence[str]) -> dict[str, list[str]]:
    return {name: list(dict.fromkeys(columns)) for name, columns in lists.items() if columns}


def step_config(run_config: dict[str, Any], step: str) -> Optional[dict[str, Any]]:
    """The config a run gives the step (op or asset) ``step``; None when the run config has none for it."""
    return run_config.get("ops", {}).get(step, {}).get("config")
