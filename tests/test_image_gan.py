"""Tests for the class-conditional image GAN (gan_models.image). Tiny networks and few steps: this is
about behaviour (shapes, counts, reproducibility, resumption), not image quality."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from gan_models.image import (
    ARCHITECTURES,
    LOSSES,
    ImageGAN,
    ImageGANConfig,
    PerClassImageGAN,
    diff_augment,
    load_image_gan,
    sample_grid,
    train_single_class,
)
from gan_models.image.architectures import resolution_plan
from gan_models.image.diffaugment import cutout, cutout_small, translate, translate_reflect
from gan_models.image.sampler import BalancedBatchSampler

BREASTMNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "breastmnist.npz"


@pytest.fixture(scope="module", autouse=True)
def one_intra_op_thread():
    # The networks here are tiny; on a shared 2-core machine two OpenMP threads thrash far more than
    # they help. Restored afterwards so other test modules keep the defaults.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def tiny_config(**overrides) -> ImageGANConfig:
    values = dict(z_dim=16, base_channels=8, steps=6, batch_size=16, log_every=2, device="cpu", seed=3)
    values.update(overrides)
    return ImageGANConfig(**values)


@pytest.fixture(scope="module")
def breast_subset() -> tuple[np.ndarray, np.ndarray]:
    if not BREASTMNIST.is_file():
        pytest.skip(f"BreastMNIST not found at {BREASTMNIST} (shared test data is not mounted)")
    data = np.load(BREASTMNIST)
    images, labels = data["train_images"], data["train_labels"].reshape(-1).astype(np.int64)
    # 24 malignant + 40 benign keeps the imbalance and the test fast.
    keep = np.concatenate([np.flatnonzero(labels == 0)[:24], np.flatnonzero(labels == 1)[:40]])
    return images[keep], labels[keep]


@pytest.fixture(scope="module")
def trained(breast_subset) -> ImageGAN:
    images, labels = breast_subset
    return ImageGAN(tiny_config()).fit(images, labels)


def collect(chunks) -> tuple[np.ndarray, np.ndarray]:
    chunks = list(chunks)
    return np.concatenate([c[0] for c in chunks]), np.concatenate([c[1] for c in chunks])


# --------------------------------------------------------------------------- DiffAugment


@pytest.mark.parametrize("policy", ["color", "translation", "cutout", "color,translation,cutout"])
def test_diff_augment_keeps_shape_and_passes_gradients(policy):
    x = torch.rand(5, 3, 28, 28, requires_grad=True)
    y = diff_augment(x * 2 - 1, policy, torch.Generator().manual_seed(0))
    assert y.shape == x.shape
    y.square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_diff_augment_is_seeded_and_changes_images():
    x = torch.rand(4, 1, 32, 32) * 2 - 1
    first = diff_augment(x, generator=torch.Generator().manual_seed(7))
    again = diff_augment(x, generator=torch.Generator().manual_seed(7))
    other = diff_augment(x, generator=torch.Generator().manual_seed(8))
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
    assert not torch.equal(first, x)
    assert torch.equal(diff_augment(x, "none"), x) and torch.equal(diff_augment(x, ""), x)


def test_translation_moves_content_by_at_most_an_eighth():
    x = torch.zeros(16, 1, 32, 32)
    x[:, :, 16, 16] = 1.0
    moved = translate(x, torch.Generator().manual_seed(0))
    assert torch.equal(moved.sum(dim=(1, 2, 3)), torch.ones(16))  # a shift of 4 px keeps the centre pixel
    rows, cols = moved[:, 0].nonzero()[:, 1], moved[:, 0].nonzero()[:, 2]
    assert (rows - 16).abs().max() <= 4 and (cols - 16).abs().max() <= 4
    assert ((rows != 16) | (cols != 16)).any()


def test_cutout_erases_at_most_a_quarter():
    x = torch.ones(32, 1, 28, 28)
    erased_fraction = 1 - cutout(x, torch.Generator().manual_seed(0)).mean(dim=(1, 2, 3))
    assert erased_fraction.max() <= 0.25 + 1e-6
    assert erased_fraction.min() > 0


def test_small_cutout_is_sized_to_the_image():
    x = torch.ones(64, 1, 28, 28)
    erased_fraction = 1 - cutout_small(x, torch.Generator().manual_seed(0)).mean(dim=(1, 2, 3))
    assert erased_fraction.max() <= 49 / 784 + 1e-6  # a 7x7 square at 28 px (the default blanks 14x14)
    assert erased_fraction.min() > 0
    assert torch.isclose(erased_fraction.max(), torch.tensor(49 / 784))  # a square fully inside somewhere


def test_reflect_translation_fills_the_border_with_image_pixels():
    x = torch.rand(32, 1, 28, 28, generator=torch.Generator().manual_seed(1)) * 0.5 + 0.5  # every pixel in [0.5, 1)
    zero_filled = translate(x, torch.Generator().manual_seed(0))
    reflected = translate_reflect(x, torch.Generator().manual_seed(0))
    assert (zero_filled == 0).any()  # the zero band the discriminator could learn to look for
    assert reflected.min() >= 0.5  # no pixel that is not the image's own
    unshifted = (zero_filled == x).flatten(1).all(dim=1)  # same draws: the same images did not move
    assert torch.equal(unshifted, (reflected == x).flatten(1).all(dim=1))
    assert torch.equal(diff_augment(x, "translation_reflect,cutout_small", torch.Generator().manual_seed(2)),
                       diff_augment(x, "translation_reflect,cutout_small", torch.Generator().manual_seed(2)))


def test_diff_augment_rejects_unknown_policy():
    with pytest.raises(ValueError, match="zoom"):
        diff_augment(torch.zeros(1, 1, 28, 28), "color,zoom")
    with pytest.raises(ValueError, match="diffaugment"):
        ImageGANConfig(diffaugment="colour")


# --------------------------------------------------------------------------- architectures


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
@pytest.mark.parametrize("size", [28, 32, 48, 64])
def test_architectures_make_and_score_images_of_each_size(name, size):
    torch.manual_seed(0)
    generator, discriminator = ARCHITECTURES[name](size, 3 if size == 32 else 1, 3, 16, 8)
    labels = torch.tensor([0, 1, 2, 1])
    images = generator(torch.randn(4, 16), labels)
    assert images.shape == (4, 3 if size == 32 else 1, size, size)
    assert images.abs().max() <= 1.0
    scores = discriminator(images, labels)
    assert scores.shape == (4,) and torch.isfinite(scores).all()
    # The class label must matter to both networks.
    other = torch.tensor([2, 0, 1, 0])
    assert not torch.allclose(discriminator(images, other), scores)
    # Conditional BN starts class-neutral (gain 1, bias 0); give the classes distinct embeddings.
    for module in generator.modules():
        if isinstance(module, torch.nn.Embedding):
            torch.nn.init.normal_(module.weight)
    generator.eval()
    z = torch.randn(4, 16)
    assert not torch.allclose(generator(z, labels), generator(z, other))


def test_the_bilinear_generator_block_upsamples_without_repeating_pixels():
    from gan_models.image.layers import GeneratorBlock

    maps = torch.randn(2, 4, 7, 7)
    repeated = GeneratorBlock(4, 4, 2, upsampling="nearest")._upsample(maps)
    filtered = GeneratorBlock(4, 4, 2, upsampling="bilinear")._upsample(maps)
    assert repeated.shape == filtered.shape == (2, 4, 14, 14)
    assert torch.equal(repeated[..., 0::2], repeated[..., 1::2])  # each pixel twice: a period-2 pattern
    # [1, 3, 3, 1] / 4 along each axis: an inner output pixel is 3/4 of its source and 1/4 of the neighbour
    assert torch.allclose(filtered[..., 3, 3], 0.5625 * maps[..., 1, 1] + 0.1875 * (maps[..., 1, 2] + maps[..., 2, 1])
                          + 0.0625 * maps[..., 2, 2])


def test_the_minibatch_spread_is_measured_per_group_and_never_mixes_real_with_fake_halves():
    from gan_models.image.layers import MinibatchStdDev

    varied, identical = torch.randn(8, 3, 5, 5), torch.randn(1, 3, 5, 5).expand(8, -1, -1, -1)
    spread = MinibatchStdDev(group_size=4)(torch.cat([varied, identical]))[:, 3]
    assert spread.shape == (16, 5, 5)
    assert torch.all(spread[:8] > 0.5) and torch.all(spread[8:] < 1e-3)  # the second half varies not at all
    assert torch.equal(spread[0], spread[3]) and not torch.equal(spread[0], spread[4])  # one value per group of 4
    odd_batch = MinibatchStdDev(group_size=4)(torch.randn(6, 2, 3, 3))  # 4 does not divide 6: groups of 3
    assert torch.equal(odd_batch[0, 2], odd_batch[2, 2]) and not torch.equal(odd_batch[2, 2], odd_batch[3, 2])


def test_resolution_plan_grows_from_a_small_base_and_rejects_odd_sizes():
    assert resolution_plan(28) == (7, 2)
    assert resolution_plan(32) == (4, 3)
    assert resolution_plan(48) == (6, 3)
    assert resolution_plan(64) == (4, 4)
    with pytest.raises(ValueError, match="image_size"):
        resolution_plan(30)


# --------------------------------------------------------------------------- losses


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_losses_reward_the_right_side(name):
    loss = LOSSES[name]
    confident = loss.discriminator_loss(torch.full((8,), 2.0), torch.full((8,), -2.0))
    fooled = loss.discriminator_loss(torch.full((8,), -2.0), torch.full((8,), 2.0))
    assert torch.isfinite(confident) and torch.isfinite(fooled)
    assert confident < fooled
    assert loss.generator_loss(torch.full((8,), 2.0)) < loss.generator_loss(torch.full((8,), -2.0))


def test_gradient_penalty_is_positive_and_trains_the_critic():
    loss = LOSSES["wgan-gp"]
    _, discriminator = ARCHITECTURES["dcgan"](28, 1, 2, 16, 8)
    real, fake = torch.rand(6, 1, 28, 28) * 2 - 1, torch.rand(6, 1, 28, 28) * 2 - 1
    labels = torch.tensor([0, 1, 0, 1, 0, 1])
    penalty = loss.penalty(discriminator, real, fake, labels, torch.Generator().manual_seed(0))
    assert torch.isfinite(penalty) and penalty > 0
    penalty.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in discriminator.parameters())
    assert LOSSES["hinge"].penalty is None


# --------------------------------------------------------------------------- training and sampling


def test_balanced_batches_hold_each_class_equally():
    labels = np.array([0] * 3 + [1] * 50 + [2] * 7)
    sampler = BalancedBatchSampler(labels, 3)
    indices, batch_labels = sampler.sample(300, torch.Generator().manual_seed(0))
    assert torch.equal(torch.bincount(batch_labels, minlength=3), torch.tensor([100, 100, 100]))
    assert np.array_equal(labels[indices.numpy()], batch_labels.numpy())
    assert set(indices[batch_labels == 0].tolist()) == {0, 1, 2}


def test_fit_then_sample_gives_exact_class_counts(trained):
    counts = {0: 37, 1: 5}
    chunks = list(trained.sample(counts, chunk_size=16))
    assert all(len(images) <= 16 for images, _ in chunks)
    images, labels = collect(chunks)
    assert images.dtype == np.uint8 and images.shape == (42, 28, 28, 1)
    assert labels.dtype == np.int64
    assert np.bincount(labels).tolist() == [37, 5]
    assert images.std() > 0
    assert trained.steps_done == 6
    assert [r["step"] for r in trained.loss_history] == [2, 4, 6]
    assert all(np.isfinite(r["generator_loss"]) and np.isfinite(r["discriminator_loss"]) for r in trained.loss_history)


def test_sample_rejects_unknown_class_and_negative_counts(trained):
    with pytest.raises(ValueError, match="class 5"):
        trained.sample({5: 3})
    with pytest.raises(ValueError, match="class_counts"):
        trained.sample({0: -1})
    with pytest.raises(ValueError, match="names class 1 twice"):
        trained.sample({1: 5, "1": 5})
    with pytest.raises(ValueError, match="class 1.7"):
        trained.sample({1.7: 5})
    with pytest.raises(ValueError, match=r"class_counts\[0\] must be a non-negative integer"):
        trained.sample({0: 2.5})
    assert collect([(np.zeros((0, 28, 28, 1), np.uint8), np.zeros(0, np.int64))])[0].shape[0] == 0
    assert list(trained.sample({0: 0})) == []


def test_ema_generator_differs_from_raw_generator(trained):
    ema = dict(trained.generator_ema.named_parameters())
    raw = dict(trained.generator.named_parameters())
    assert ema.keys() == raw.keys()
    assert any(not torch.equal(ema[name], raw[name]) for name in ema)
    z, labels = torch.randn(4, 16), torch.tensor([0, 1, 0, 1])
    trained.generator.eval()
    try:
        assert not torch.allclose(trained.generator_ema(z, labels), trained.generator(z, labels))
    finally:
        trained.generator.train()


def test_seeded_training_and_sampling_repeat_exactly(breast_subset, trained):
    images, labels = breast_subset
    again = ImageGAN(tiny_config()).fit(images, labels)
    assert again.loss_history == trained.loss_history
    first, _ = collect(trained.sample({0: 6, 1: 6}, seed=11))
    second, _ = collect(again.sample({0: 6, 1: 6}, seed=11))
    other, _ = collect(again.sample({0: 6, 1: 6}, seed=12))
    assert np.array_equal(first, second)
    assert not np.array_equal(first, other)


def test_save_and_load_reproduce_samples(trained, tmp_path):
    trained.save(tmp_path / "model")
    for name in ("generator_ema.pt", "generator.pt", "discriminator.pt", "config.json", "meta.json"):
        assert (tmp_path / "model" / name).is_file()
    meta = json.loads((tmp_path / "model" / "meta.json").read_text())
    assert meta["image_size"] == 28 and meta["channels"] == 1 and meta["classes"] == [0, 1]
    assert meta["steps_done"] == 6 and len(meta["loss_history"]) == 3
    loaded = ImageGAN.load(tmp_path / "model")
    assert loaded.config == trained.config
    reloaded_images, _ = collect(loaded.sample({0: 5, 1: 9}, seed=1))
    assert np.array_equal(reloaded_images, collect(trained.sample({0: 5, 1: 9}, seed=1))[0])
    assert isinstance(load_image_gan(tmp_path / "model"), ImageGAN)


def interrupt_at_step_3(step, total, losses):
    if step == 3:
        raise KeyboardInterrupt("simulated worker loss")


def test_resume_after_interruption_matches_an_uninterrupted_run(breast_subset, trained, tmp_path):
    images, labels = breast_subset
    config = tiny_config(checkpoint_every=2, log_every=1)

    with pytest.raises(KeyboardInterrupt):
        ImageGAN(config).fit(images, labels, progress=interrupt_at_step_3, checkpoint_dir=tmp_path)
    seen_steps = []
    resumed = ImageGAN(config).fit(
        images, labels, progress=lambda step, total, losses: seen_steps.append(step), checkpoint_dir=tmp_path
    )
    assert seen_steps == [3, 4, 5, 6]  # resumed from the step-2 checkpoint
    assert resumed.steps_done == config.steps
    assert [r["step"] for r in resumed.loss_history] == [1, 2, 3, 4, 5, 6]
    # Same seed, same data: the resumed run is the uninterrupted run, bit for bit.
    assert np.array_equal(collect(resumed.sample({0: 4, 1: 4}))[0], collect(trained.sample({0: 4, 1: 4}))[0])
    # A finished checkpoint is not trained again; a different config is refused.
    assert ImageGAN(config).fit(images, labels, checkpoint_dir=tmp_path).steps_done == config.steps
    with pytest.raises(ValueError, match="base_channels"):
        ImageGAN(tiny_config(checkpoint_every=2, base_channels=16)).fit(images, labels, checkpoint_dir=tmp_path)


def one_pixel_changed(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    changed = images.copy()
    changed[0, 0, 0] ^= 1
    return changed, labels


def two_labels_swapped(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    changed = labels.copy()
    first_0, first_1 = np.flatnonzero(labels == 0)[0], np.flatnonzero(labels == 1)[0]
    changed[[first_0, first_1]] = changed[[first_1, first_0]]
    return images, changed


@pytest.mark.parametrize("change", [one_pixel_changed, two_labels_swapped])
def test_resuming_with_other_images_of_the_same_shape_is_refused(breast_subset, tmp_path, change):
    images, labels = breast_subset
    config = tiny_config(steps=2, batch_size=8, checkpoint_every=1)
    finished = ImageGAN(config).fit(images, labels, checkpoint_dir=tmp_path)
    changed_images, changed_labels = change(images, labels)
    refusal = f"checkpoint in {re.escape(str(tmp_path))} was written for other training data"
    with pytest.raises(ValueError, match=refusal):
        ImageGAN(config).fit(changed_images, changed_labels, checkpoint_dir=tmp_path)
    again = ImageGAN(config).fit(images, labels, checkpoint_dir=tmp_path)  # the same data still resumes
    assert again.steps_done == 2 and again.loss_history == finished.loss_history


def test_per_class_models_combine_behind_the_same_api(breast_subset, tmp_path):
    images, labels = breast_subset
    config = tiny_config(steps=3, batch_size=8)
    models = {label: train_single_class(images[labels == label], label, config) for label in (1, 0)}
    assert models[1].classes == [1] and models[1].n_classes == 1
    combined = PerClassImageGAN(models)
    generated, generated_labels = collect(combined.sample({0: 3, 1: 11}, chunk_size=4, seed=5))
    assert generated.shape == (14, 28, 28, 1) and generated.dtype == np.uint8
    assert generated_labels.tolist() == [0] * 3 + [1] * 11
    combined.save(tmp_path / "per_class")
    loaded = load_image_gan(tmp_path / "per_class")
    assert isinstance(loaded, PerClassImageGAN) and loaded.classes == [0, 1]
    assert np.array_equal(collect(loaded.sample({0: 3, 1: 11}, chunk_size=4, seed=5))[0], generated)
    with pytest.raises(ValueError, match="single-class"):
        PerClassImageGAN({1: models[0]})


def test_sample_grid_puts_real_beside_synthetic_rows(breast_subset, trained):
    images, labels = breast_subset
    grid = sample_grid(images, labels, trained, per_class=4, seed=0)
    tile = 28 + 2 * 2
    assert grid.dtype == np.uint8 and grid.shape == (2 * tile, 9 * tile, 1)
    first_real = grid[2 : 2 + 28, 2 : 2 + 28, 0]
    assert any(np.array_equal(first_real, image) for image in images[labels == 0])
    gap = grid[:, 4 * tile : 5 * tile]
    assert not gap.any()


def test_fit_rejects_bad_inputs(breast_subset):
    images, labels = breast_subset
    with pytest.raises(ValueError, match="uint8"):
        ImageGAN(tiny_config()).fit(images.astype(np.float32), labels)
    with pytest.raises(ValueError, match="labels"):
        ImageGAN(tiny_config()).fit(images, labels[:-1])
    with pytest.raises(ValueError, match=r"class\(es\) \[2\]"):
        ImageGAN(tiny_config()).fit(images, labels, n_classes=3)
    with pytest.raises(ValueError, match="architecture"):
        ImageGANConfig(architecture="stylegan")
    with pytest.raises(ValueError, match="loss"):
        ImageGANConfig(loss="focal")


@pytest.mark.parametrize("architecture,loss", [("dcgan", "wgan-gp"), ("sngan_sa", "vanilla"), ("sngan", "lsgan")])
def test_other_variants_train_a_few_steps(breast_subset, architecture, loss):
    images, labels = breast_subset
    model = ImageGAN(tiny_config(architecture=architecture, loss=loss, steps=2, batch_size=8)).fit(images, labels)
    generated, generated_labels = collect(model.sample({0: 2, 1: 3}))
    assert generated.shape == (5, 28, 28, 1) and np.bincount(generated_labels).tolist() == [2, 3]
    assert all(np.isfinite(r["discriminator_loss"]) for r in model.loss_history)


# --------------------------------------------------------------------------- speed: precision and the budget
def test_precision_resolves_per_device(monkeypatch):
    from gan_models.image.training import resolved_precision

    cpu = torch.device("cpu")
    assert resolved_precision("float32", cpu) is torch.float32
    assert resolved_precision("bfloat16", cpu) is torch.bfloat16
    assert resolved_precision("auto", torch.device("cuda")) is torch.bfloat16
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    assert resolved_precision("auto", cpu) is torch.float32  # bf16 without AMX is emulated: slower, not faster
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)
    assert resolved_precision("auto", cpu) is torch.bfloat16
    with pytest.raises(ValueError, match="precision"):
        tiny_config(precision="half")
    with pytest.raises(ValueError, match="budget_minutes"):
        tiny_config(budget_minutes=-1)


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_each_precision_trains_and_repeats_exactly_on_the_cpu(breast_subset, precision):
    images, labels = breast_subset
    runs = [ImageGAN(tiny_config(steps=3, precision=precision)).fit(images, labels) for _ in range(2)]
    assert runs[0].loss_history == runs[1].loss_history
    assert np.array_equal(*(collect(run.sample({0: 3, 1: 3}))[0] for run in runs))


def fake_clock(monkeypatch, seconds_per_reading: float) -> None:
    """The trainer's budget clock advances ``seconds_per_reading`` each time it is read (no real timing)."""
    import gan_models.image.trainer as trainer

    readings = iter(range(10**6))
    monkeypatch.setattr(trainer, "clock", lambda: next(readings) * seconds_per_reading)


def test_the_budget_stops_training_early_and_says_so(breast_subset, monkeypatch, tmp_path):
    images, labels = breast_subset
    fake_clock(monkeypatch, 1.0)  # one second a step
    calls = []
    model = ImageGAN(tiny_config(steps=1000, budget_minutes=0.1, log_every=2)).fit(
        images, labels, progress=lambda step, total, losses: calls.append((step, total)))
    assert model.steps_done == 6 and model.stopped_by_budget  # 6 s of budget at 1 s a step
    assert calls[-1] == (6, 6)  # the last report is complete, so the progress log ends at 100%
    assert all(total < 1000 for _, total in calls)  # the projected end, not the unreachable step count
    assert model.loss_history[-1]["step"] == 6
    model.save(tmp_path / "budgeted")
    assert ImageGAN.load(tmp_path / "budgeted").stopped_by_budget


def test_without_a_budget_or_with_a_loose_one_every_step_is_done(breast_subset, monkeypatch):
    images, labels = breast_subset
    fake_clock(monkeypatch, 60.0)  # a minute a step: no budget means no stop
    assert ImageGAN(tiny_config(steps=4)).fit(images, labels).steps_done == 4
    loose = ImageGAN(tiny_config(steps=4, budget_minutes=100)).fit(images, labels)
    assert loose.steps_done == 4 and not loose.stopped_by_budget


def test_image_minutes_reaches_the_image_gan_and_tables_refuse_it():
    from assets.modalities.image import gan_config
    from pipelines.catalog import check_options_for_modality
    from pipelines.cli import build_parser, run_config_from_args
    from pipelines.config import GeneratorConfig

    args = build_parser().parse_args(["run", "digits", "--image-minutes", "2.5"])
    generator = run_config_from_args(args)["ops"]["gan_generator"]["config"]
    assert generator["image_minutes"] == 2.5
    from quality.data.images import load_digits_builtin, split_images

    data = split_images(load_digits_builtin(size=8), seed=0)
    assert gan_config(GeneratorConfig(**generator), data).budget_minutes == 2.5
    assert gan_config(GeneratorConfig(), data).budget_minutes == ImageGANConfig().budget_minutes
    with pytest.raises(ValueError, match="--image-minutes applies to images only"):
        check_options_for_modality("tabular", {"--image-minutes": 2.5})
    from pipelines.cli import ArgumentError

    with pytest.raises(ArgumentError, match="--image-minutes"):
        build_parser().parse_args(["run", "digits", "--image-minutes", "-1"])


def test_a_run_of_one_gan_trains_on_every_core_and_a_run_of_several_on_one_each():
    import torch

    from gan_models.runtime import DEFAULT_CPU_THREADS, cpu_threads, training_threads

    assert training_threads(None, 1) == 0 and training_threads(None, 6) == 1
    assert training_threads(3, 1) == 3 and training_threads(0, 6) == 0
    before = torch.get_num_threads()
    with cpu_threads(1):
        assert torch.get_num_threads() == 1
        with cpu_threads(0):  # torch's own default, even inside a part that set one thread
            assert torch.get_num_threads() == DEFAULT_CPU_THREADS
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before  # the steps after training keep their threads
    with pytest.raises(RuntimeError), cpu_threads(1):
        raise RuntimeError("a failed fit")
    assert torch.get_num_threads() == before


def test_lecam_holds_real_scores_to_the_fake_average_and_fake_scores_to_the_real_one():
    from gan_models.image.losses import LECAM_WEIGHT, ScoreAverages, lecam_penalty

    averages = ScoreAverages(real=torch.tensor(1.0), fake=torch.tensor(-1.0))
    d_real, d_fake = torch.tensor([2.0, -3.0]), torch.tensor([0.0, -2.0])
    penalty = lecam_penalty(d_real, d_fake, averages)
    # the averages move first: real 0.99 * 1 + 0.01 * -0.5, fake 0.99 * -1 + 0.01 * -1
    assert float(averages.real) == pytest.approx(0.985) and float(averages.fake) == pytest.approx(-1.0)
    expected = LECAM_WEIGHT * (np.mean([3.0 ** 2, 0.0]) + np.mean([0.985 ** 2, 2.985 ** 2]))
    assert float(penalty) == pytest.approx(expected)
    first = ScoreAverages()
    lecam_penalty(d_real, d_fake, first)
    assert float(first.real) == -0.5 and float(first.fake) == -1.0  # the first batch sets them
    with pytest.raises(ValueError, match="regulariser='r2' is unknown"):
        ImageGANConfig(regulariser="r2")


def test_a_lecam_run_repeats_exactly_differs_from_none_and_resumes_bit_for_bit(breast_subset, trained, tmp_path):
    images, labels = breast_subset
    config = tiny_config(regulariser="lecam", checkpoint_every=2, log_every=1)
    uninterrupted = ImageGAN(tiny_config(regulariser="lecam")).fit(images, labels)
    again = ImageGAN(tiny_config(regulariser="lecam")).fit(images, labels)
    samples = collect(uninterrupted.sample({0: 4, 1: 4}))[0]
    assert np.array_equal(samples, collect(again.sample({0: 4, 1: 4}))[0])
    assert not np.array_equal(samples, collect(trained.sample({0: 4, 1: 4}))[0])

    with pytest.raises(KeyboardInterrupt):
        ImageGAN(config).fit(images, labels, progress=interrupt_at_step_3, checkpoint_dir=tmp_path)
    resumed = ImageGAN(config).fit(images, labels, checkpoint_dir=tmp_path)
    assert np.array_equal(collect(resumed.sample({0: 4, 1: 4}))[0], samples)


def test_mode_seeking_penalises_pairs_of_latents_that_give_the_same_image():
    from gan_models.image.losses import MODE_SEEKING_EPS, MODE_SEEKING_WEIGHT, mode_seeking_penalty

    z = torch.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0], [1.0, 3.0]])  # pairs (0, 2) and (1, 3): mean |dz| 1
    apart = torch.tensor([[0.0], [0.0], [3.0], [3.0]]).view(4, 1, 1, 1)  # mean |d image| 3
    assert float(mode_seeking_penalty(apart, z)) == pytest.approx(MODE_SEEKING_WEIGHT / (3.0 + MODE_SEEKING_EPS))
    collapsed = torch.ones(4, 1, 2, 2)
    assert float(mode_seeking_penalty(collapsed, z)) == pytest.approx(MODE_SEEKING_WEIGHT / MODE_SEEKING_EPS)
    images = apart.clone().requires_grad_(True)
    mode_seeking_penalty(images, z).backward()
    assert images.grad[2].item() < 0 < images.grad[0].item()  # descending it pushes each pair's images apart


def test_r1_is_half_gamma_times_the_squared_input_gradient_at_the_real_images():
    from gan_models.image.losses import R1_GAMMA, r1_penalty

    weights = torch.tensor([[1.0, -2.0], [0.5, 3.0]]).view(1, 1, 2, 2)
    real = torch.randn(3, 1, 2, 2).requires_grad_(True)
    linear_scores = (real * weights).sum(dim=(1, 2, 3))  # gradient = weights for every image: |w|^2 = 14.25
    assert float(r1_penalty(linear_scores, real)) == pytest.approx(0.5 * R1_GAMMA * 14.25)
    constant_scores = (real * 0).sum(dim=(1, 2, 3)) + 1.0
    assert float(r1_penalty(constant_scores, real)) == 0.0


@pytest.mark.parametrize("regulariser", ["mode_seeking", "r1"])
def test_a_regularised_run_repeats_exactly_and_differs_from_none(breast_subset, trained, regulariser):
    images, labels = breast_subset
    first = ImageGAN(tiny_config(regulariser=regulariser)).fit(images, labels)
    again = ImageGAN(tiny_config(regulariser=regulariser)).fit(images, labels)
    samples = collect(first.sample({0: 4, 1: 4}))[0]
    assert np.array_equal(samples, collect(again.sample({0: 4, 1: 4}))[0])
    assert not np.array_equal(samples, collect(trained.sample({0: 4, 1: 4}))[0])


def test_a_checkpoint_written_before_a_config_field_existed_resumes_when_the_field_keeps_its_default(
        breast_subset, tmp_path):
    images, labels = breast_subset
    config = tiny_config(checkpoint_every=2, log_every=1)

    with pytest.raises(KeyboardInterrupt):
        ImageGAN(config).fit(images, labels, progress=interrupt_at_step_3, checkpoint_dir=tmp_path)
    path = tmp_path / "checkpoint.pt"
    checkpoint = torch.load(path, weights_only=True)
    del checkpoint["config"]["regulariser"]  # as written before LeCam was selectable
    torch.save(checkpoint, path)
    seen = []
    ImageGAN(config).fit(images, labels, progress=lambda step, total, losses: seen.append(step), checkpoint_dir=tmp_path)
    assert seen[0] == 3  # resumed from step 2, not refused
    with pytest.raises(ValueError, match="regulariser"):
        ImageGAN(tiny_config(checkpoint_every=2, regulariser="lecam")).fit(images, labels, checkpoint_dir=tmp_path)
