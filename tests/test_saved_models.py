"""Saved models and checkpoints of both GAN kinds: loading on another machine, and clear refusals of
corrupt or foreign folders and of checkpoints written by the other kind of model."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Generic, Protocol

import numpy as np
import pandas as pd
import pytest
import torch

from gan_models.base import GenerativeModel, TrainableModel
from gan_models.checkpoint import save_checkpoint
from gan_models.image import ImageGAN, ImageGANConfig, PerClassImageGAN, train_single_class
from gan_models.runtime import device_for_loading, select_device
from gan_models.tabular import TabularGAN, TabularGANConfig

NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="simulates a CPU-only machine loading a GPU model")


def tabular_config(**overrides) -> TabularGANConfig:
    values = dict(epochs=1, batch_size=20, pac=4, embedding_dim=8, generator_dims=(16,), discriminator_dims=(16,),
                  classifier_dim=8, device="cpu", seed=1)
    return TabularGANConfig(**{**values, **overrides})


def image_config(**overrides) -> ImageGANConfig:
    values = dict(z_dim=8, base_channels=4, steps=1, batch_size=4, log_every=1, device="cpu", seed=1)
    return ImageGANConfig(**{**values, **overrides})


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"x": rng.normal(size=40), "c": rng.choice(["a", "b"], 40), "y": [0] * 30 + [1] * 10})


@pytest.fixture(scope="module")
def images() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (12, 28, 28), dtype=np.uint8), np.array([0] * 8 + [1] * 4)


@pytest.fixture(scope="module")
def tabular_model(table) -> TabularGAN:
    return TabularGAN(tabular_config()).fit(table, "y")


@pytest.fixture(scope="module")
def image_model(images) -> ImageGAN:
    return ImageGAN(image_config()).fit(*images)


def rewrite_config(directory: Path, **changes) -> None:
    path = directory / "config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


def image_samples(model: ImageGAN) -> np.ndarray:
    return np.concatenate([chunk for chunk, _ in model.sample({0: 3, 1: 2}, seed=4)])


# ------------------------------------------------------------------------------------ devices
@NO_CUDA
def test_a_tabular_model_trained_on_a_gpu_loads_and_samples_on_a_cpu(tabular_model, tmp_path):
    tabular_model.save(tmp_path)
    rewrite_config(tmp_path, device="cuda")  # what a run with --device cuda saves
    loaded = TabularGAN.load(tmp_path)
    assert loaded.device == torch.device("cpu")
    expected = pd.concat(tabular_model.sample({0: 7, 1: 9}, seed=3))
    pd.testing.assert_frame_equal(pd.concat(loaded.sample({0: 7, 1: 9}, seed=3)), expected)
    with pytest.raises(ValueError, match="CUDA is not available"):  # a device asked for here stays strict
        TabularGAN.load(tmp_path, device="cuda")


@NO_CUDA
def test_an_image_model_trained_on_a_gpu_loads_and_samples_on_a_cpu(image_model, tmp_path):
    image_model.save(tmp_path)
    rewrite_config(tmp_path, device="cuda:0")
    loaded = ImageGAN.load(tmp_path)
    assert loaded.device == torch.device("cpu")
    assert np.array_equal(image_samples(loaded), image_samples(image_model))
    with pytest.raises(ValueError, match="CUDA is not available"):
        ImageGAN.load(tmp_path, device="cuda")


def test_a_saved_device_preference_is_a_hint_but_training_devices_are_strict():
    assert device_for_loading("cpu") == torch.device("cpu")
    assert device_for_loading("auto") == select_device("auto")
    assert device_for_loading(f"cuda:{torch.cuda.device_count()}") == torch.device("cpu")  # no such GPU here
    if not torch.cuda.is_available():
        assert device_for_loading("cuda") == torch.device("cpu")
        with pytest.raises(ValueError, match="CUDA is not available"):
            device_for_loading("cpu", requested="cuda")
        with pytest.raises(ValueError, match="CUDA is not available"):
            select_device("cuda")


# -------------------------------------------------------------------------- invalid folders
CORRUPTIONS = {
    "garbage": lambda path: b"garbage",
    "empty": lambda path: b"",
    "truncated": lambda path: path.read_bytes()[:100],
}


@pytest.mark.parametrize("corrupt", CORRUPTIONS.values(), ids=CORRUPTIONS.keys())
def test_unreadable_weights_are_refused_as_an_invalid_saved_model(tabular_model, image_model, tmp_path, corrupt):
    for model, cls, weights, kind in (
        (tabular_model, TabularGAN, "generator.pt", "TabularGAN"),
        (image_model, ImageGAN, "generator_ema.pt", "ImageGAN"),
    ):
        directory = tmp_path / kind
        model.save(directory)
        (directory / weights).write_bytes(corrupt(directory / weights))
        with pytest.raises(ValueError, match=f"is not a valid saved {kind}: {weights} is not a readable") as refused:
            cls.load(directory)
        assert str(directory) in str(refused.value) and "weights_only" not in str(refused.value)


def test_weights_that_do_not_fit_the_saved_config_are_refused(tabular_model, tmp_path):
    tabular_model.save(tmp_path)
    rewrite_config(tmp_path, generator_dims=[32])
    with pytest.raises(ValueError, match="not a valid saved TabularGAN: the weights in generator.pt do not fit"):
        TabularGAN.load(tmp_path)


def test_a_foreign_config_is_refused_as_an_invalid_saved_model(tabular_model, image_model, tmp_path):
    tabular_model.save(tmp_path / "table")
    rewrite_config(tmp_path / "table", architecture="sngan")  # an image GAN's field
    with pytest.raises(ValueError, match=r"not a valid saved TabularGAN: .*unknown field\(s\) \['architecture'\]"):
        TabularGAN.load(tmp_path / "table")
    image_model.save(tmp_path / "image")
    rewrite_config(tmp_path / "image", epochs=3)
    with pytest.raises(ValueError, match=r"not a valid saved ImageGAN: .*unknown field\(s\) \['epochs'\]"):
        ImageGAN.load(tmp_path / "image")
    (tmp_path / "table" / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="not a valid saved TabularGAN: config.json is not JSON"):
        TabularGAN.load(tmp_path / "table")
    with pytest.raises(ValueError, match="unknown field"):
        TabularGANConfig.from_dict({**tabular_config().to_dict(), "steps": 5})


# ------------------------------------------------------------------------------ checkpoints
def test_a_checkpoint_of_the_other_kind_of_model_is_refused_clearly(table, images, tmp_path):
    ImageGAN(image_config(checkpoint_every=1)).fit(*images, checkpoint_dir=tmp_path / "image")
    with pytest.raises(ValueError, match="by a model of kind 'image_gan', but this run trains one of kind 'tabular_gan'; delete"):
        TabularGAN(tabular_config(checkpoint_every=1)).fit(table, "y", checkpoint_dir=tmp_path / "image")
    TabularGAN(tabular_config(checkpoint_every=1)).fit(table, "y", checkpoint_dir=tmp_path / "table")
    with pytest.raises(ValueError, match="by a model of kind 'tabular_gan', but this run trains one of kind 'image_gan'; delete"):
        ImageGAN(image_config(checkpoint_every=1)).fit(*images, checkpoint_dir=tmp_path / "table")
    save_checkpoint(tmp_path / "older", {"step": 3})
    with pytest.raises(ValueError, match=r"written by an older version \(no kind recorded\)"):
        TabularGAN(tabular_config(checkpoint_every=1)).fit(table, "y", checkpoint_dir=tmp_path / "older")


def test_a_checkpoint_that_recorded_no_training_data_is_refused_as_older(tmp_path):
    from gan_models.checkpoint import check_same_data

    with pytest.raises(ValueError, match="older version that did not record its training data; delete it"):
        check_same_data({"kind": "image_gan"}, "abc", tmp_path)
    with pytest.raises(ValueError, match="for other training data"):
        check_same_data({"kind": "image_gan", "data_fingerprint": "xyz"}, "abc", tmp_path)
    check_same_data({"kind": "image_gan", "data_fingerprint": "abc"}, "abc", tmp_path)


# --------------------------------------------------------------------------------- the shared contract
def protocol_members(protocol: type) -> set[str]:
    """The public names a Protocol declares, its own and those of the protocols it extends."""
    declared = set()
    for klass in protocol.__mro__:
        if klass not in (Protocol, Generic, object):
            declared |= {*vars(klass), *vars(klass).get("__annotations__", {})}
    return {name for name in declared if not name.startswith("_")}


def test_every_model_implements_the_members_of_its_protocol(tabular_model, image_model, images):
    pictures, labels = images
    per_class = PerClassImageGAN({c: train_single_class(pictures[labels == c], c, image_config()) for c in (0, 1)})
    assert protocol_members(GenerativeModel) == {"modality", "artifact_key", "training_info", "sample", "save", "load"}
    assert protocol_members(TrainableModel) == protocol_members(GenerativeModel) | {"fit"}
    for model, protocol in ((tabular_model, TrainableModel), (image_model, TrainableModel), (per_class, GenerativeModel)):
        assert isinstance(model, protocol)
        for name in protocol_members(protocol) - {"modality", "artifact_key", "training_info", "fit"}:
            wanted = [p for p in inspect.signature(getattr(protocol, name)).parameters if p != "self"]
            assert list(inspect.signature(getattr(model, name)).parameters) == wanted, (type(model).__name__, name)
        assert type(model).modality in ("tabular", "image") and isinstance(type(model).artifact_key, str)
        assert isinstance(model.training_info, dict) and model.training_info
    for model in (tabular_model, image_model):
        assert {"progress", "checkpoint_dir"} <= set(inspect.signature(model.fit).parameters)
        assert model.training_info["resumed_from_step"] == 0
        assert model.training_info["device"] == "cpu"
    assert set(per_class.training_info["per_class"]) == {"0", "1"}
