import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
# Definitions read the storage root when first imported: keep every test's artefacts out of the checkout.
os.environ.setdefault("SYNTHLIFT_HOME", tempfile.mkdtemp(prefix="synthlift-tests-"))


@pytest.fixture(scope="session", autouse=True)
def one_cpu_thread():
    """CI has 2 shared cores: one torch/BLAS thread per process avoids OpenMP stalls under contention
    (the pipeline itself trains on one thread by default for the same reason)."""
    import torch
    from threadpoolctl import threadpool_limits

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        yield
    torch.set_num_threads(previous)

BREASTMNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "breastmnist.npz"


@pytest.fixture(scope="module")
def digits_split():
    """The built-in digits at 8 px, split by seed 0 (train / validation / holdout)."""
    from quality.data.images import load_digits_builtin, split_images

    return split_images(load_digits_builtin(size=8), seed=0)


@pytest.fixture(scope="module")
def extractor(digits_split):
    """The checks' feature CNN, trained 3 epochs on the digits' train split."""
    from quality.checks.image_features import train_feature_extractor

    return train_feature_extractor(digits_split.train_images, digits_split.train_labels, seed=0, epochs=3)


@pytest.fixture(scope="session")
def breastmnist_path() -> Path:
    if not BREASTMNIST.exists():
        pytest.skip(f"BreastMNIST not found at {BREASTMNIST} (expected ../shared/data beside the checkout)")
    return BREASTMNIST


@pytest.fixture
def patients_csv(tmp_path) -> Path:
    """A small mixed-type, imbalanced table with missing values, where the label is learnable."""
    rng = np.random.default_rng(7)
    n_sick, n_well = 40, 160
    outcome = np.array(["sick"] * n_sick + ["well"] * n_well)
    is_sick = outcome == "sick"
    frame = pd.DataFrame({
        "age": np.where(is_sick, rng.normal(65, 8, len(outcome)), rng.normal(45, 10, len(outcome))).round().astype(int),
        "marker": np.where(is_sick, rng.normal(2.0, 1.0, len(outcome)), rng.normal(0.0, 1.0, len(outcome))),
        "pressure": rng.normal(120, 15, len(outcome)),
        "smoker": np.where(rng.random(len(outcome)) < np.where(is_sick, 0.6, 0.2), "yes", "no"),
        "outcome": outcome,
    })
    frame.loc[rng.choice(len(frame), 10, replace=False), "pressure"] = np.nan
    path = tmp_path / "patients.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def any_min_lift(monkeypatch):
    """For tests of the publication mechanics, not of the lift: let ``--min-lift -1`` (publish whatever the
    lift) through the guards that refuse a negative min_lift to users."""
    import pipelines.catalog
    import pipelines.config

    monkeypatch.setattr(pipelines.catalog, "check_min_lift", lambda value: None)
    monkeypatch.setattr(pipelines.config, "check_min_lift", lambda value: None)
