"""Tests of the conditional tabular GAN: encoder, condition sampler, trainer, checkpoints."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
import torch

from gan_models.checkpoint import load_checkpoint, save_checkpoint
from gan_models.tabular.encoder import MAX_MIXTURE_ROWS
from gan_models.tabular.networks import Discriminator, OutputActivation
from gan_models.tabular.training import generator_update, gradient_penalty
from gan_models.tabular import (
    ConditionSpace,
    TabularEncoder,
    TabularGAN,
    TabularGANConfig,
    TrainingSampler,
    training_plan,
)


@pytest.fixture(autouse=True, scope="module")
def single_thread_torch():
    # Tiny networks run fastest on one thread, and the test machine's cores are shared.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_config(**overrides) -> TabularGANConfig:
    values = dict(
        epochs=4,
        batch_size=40,
        pac=4,
        embedding_dim=16,
        generator_dims=(32, 32),
        discriminator_dims=(32, 32),
        device="cpu",
        seed=7,
    )
    values.update(overrides)
    return TabularGANConfig(**values)


def mixed_table(n: int = 120, seed: int = 0) -> pd.DataFrame:
    """Every supported kind of column, with missing values in both continuous and discrete columns."""
    rng = np.random.default_rng(seed)
    label = np.where(rng.random(n) < 0.25, "sick", "healthy")
    label[:3] = "sick"
    return pd.DataFrame(
        {
            "age": rng.integers(18, 90, n),
            "income": np.where(rng.random(n) < 0.15, np.nan, rng.lognormal(10, 1, n)),
            "city": np.where(rng.random(n) < 0.15, None, rng.choice(["paris", "rome", "oslo"], n)).astype(object),
            "smoker": rng.random(n) < 0.3,
            "grade": pd.Categorical(rng.choice(["a", "b", "c"], n), categories=["a", "b", "c", "d"]),
            "code": pd.array(rng.choice(["x", "y"], n), dtype="string"),
            "visits": pd.array(np.where(rng.random(n) < 0.1, None, rng.integers(0, 5, n)), dtype="Int64"),
            "ratio": rng.random(n).astype("float32"),
            "label": label,
        }
    )


def as_comparable(series: pd.Series) -> list:
    return series.astype(object).where(series.notna(), None).tolist()


# ---------------------------------------------------------------------------------------- encoder
def test_encoder_round_trip_keeps_values_dtypes_and_column_order():
    table = mixed_table()
    encoder = TabularEncoder(seed=1).fit(table, discrete_columns=["label"])
    encoded = encoder.transform(table)
    decoded = encoder.inverse_transform(encoded)

    assert encoded.dtype == np.float32 and encoded.shape == (len(table), encoder.output_dimensions)
    assert list(decoded.columns) == list(table.columns)
    assert decoded.dtypes.equals(table.dtypes)
    for column in ("age", "city", "smoker", "grade", "code", "visits", "label"):
        assert as_comparable(decoded[column]) == as_comparable(table[column]), column
    for column in ("income", "ratio"):
        assert decoded[column].isna().equals(table[column].isna())
        np.testing.assert_allclose(decoded[column].dropna(), table[column].dropna(), rtol=1e-5)


def test_encoder_spans_tile_the_vector_with_the_right_activations():
    table = mixed_table()
    encoder = TabularEncoder().fit(table, ["label"])
    spans = encoder.output_info
    assert spans[0].start == 0 and spans[-1].end == encoder.output_dimensions
    assert all(a.end == b.start for a, b in zip(spans, spans[1:]))
    roles = {(s.column, s.role): s for s in spans}
    assert roles[("income", "alpha")].activation == "tanh" and roles[("income", "alpha")].end - roles[("income", "alpha")].start == 1
    assert roles[("income", "missing")].end - roles[("income", "missing")].start == 2
    assert ("age", "missing") not in roles  # no missing ages: no is-missing span
    assert roles[("city", "category")].end - roles[("city", "category")].start == 4  # 3 cities + missing
    assert {s.kind for s in encoder.spans("smoker")} == {"discrete"}  # booleans are discrete unasked
    encoded = encoder.transform(table)
    softmax = [s for s in spans if s.activation == "softmax"]
    for span in softmax:
        np.testing.assert_array_equal(encoded[:, span.start:span.end].sum(axis=1), 1.0)


def test_encoder_state_is_plain_json_and_restores_the_same_encoding():
    table = mixed_table()
    encoder = TabularEncoder(seed=3).fit(table, ["label"])
    state = json.loads(json.dumps(encoder.to_state()))
    restored = TabularEncoder.from_state(state)
    np.testing.assert_array_equal(restored.transform(table), encoder.transform(table))
    assert restored.output_info == encoder.output_info


def test_encoder_keeps_outliers_far_from_every_mode():
    rng = np.random.default_rng(0)
    values = np.r_[rng.normal(0, 1, 500), [60.0, -45.0]]
    table = pd.DataFrame({"x": values})
    encoder = TabularEncoder().fit(table, [])
    decoded = encoder.inverse_transform(encoder.transform(table))
    np.testing.assert_allclose(decoded["x"], values, atol=1e-4)


def test_encoder_round_trips_rare_values_its_mixture_subsample_left_out():
    # Past MAX_MIXTURE_ROWS the modes are fitted on a subsample; values between the two tight modes are
    # rare enough that some miss it, yet they too must encode without clipping.
    rng = np.random.default_rng(0)
    values = rng.permutation(np.r_[rng.normal(0, 0.1, 3000), rng.normal(10, 0.1, 3000), np.linspace(2.0, 8.0, 25)])
    assert len(values) > MAX_MIXTURE_ROWS
    table = pd.DataFrame({"x": values})
    encoder = TabularEncoder().fit(table, [])
    decoded = encoder.inverse_transform(encoder.transform(table))
    np.testing.assert_allclose(decoded["x"], values, rtol=0, atol=1e-5)  # alpha is float32


@pytest.mark.parametrize(
    "column, values, message",
    [
        ("empty", [np.nan, np.nan, np.nan], "entirely null"),
        ("empty_text", [None, None, None], "entirely null"),
        ("spiky", [1.0, np.inf, 2.0], "infinite"),
    ],
)
def test_encoder_rejects_unusable_columns_naming_them(column, values, message):
    table = pd.DataFrame({"fine": [1.0, 2.0, 3.0], column: pd.Series(values, dtype=object if column == "empty_text" else float)})
    with pytest.raises(ValueError, match=f"{column}.*{message}|{message}.*{column}"):
        TabularEncoder().fit(table, ["empty_text"] if column == "empty_text" else [])


def test_encoder_rejects_unseen_category_and_unexpected_missing_values():
    encoder = TabularEncoder().fit(pd.DataFrame({"city": ["rome", "oslo"], "x": [1.0, 2.0]}), ["city"])
    with pytest.raises(ValueError, match="'city'.*'lima'"):
        encoder.transform(pd.DataFrame({"city": ["lima", "oslo"], "x": [1.0, 2.0]}))
    with pytest.raises(ValueError, match="'x'.*missing"):
        encoder.transform(pd.DataFrame({"city": ["rome", "oslo"], "x": [1.0, np.nan]}))


def test_output_activation_gives_soft_and_exact_one_hots_per_span():
    table = mixed_table()
    encoder = TabularEncoder().fit(table, ["label"])
    activation = OutputActivation(encoder.output_info)
    raw = torch.randn(64, encoder.output_dimensions, requires_grad=True) * 3
    soft = activation(raw)
    hard = activation.hard(raw, generator=torch.Generator().manual_seed(0))
    soft.sum().backward()  # the training path is differentiable
    for span in encoder.output_info:
        if span.activation == "tanh":
            assert torch.equal(soft[:, span.start], torch.tanh(raw[:, span.start]))
            assert torch.equal(hard[:, span.start], soft[:, span.start].detach())
        else:
            torch.testing.assert_close(soft[:, span.start:span.end].sum(1), torch.ones(64))
            assert torch.equal(hard[:, span.start:span.end].sum(1), torch.ones(64))
            assert set(hard[:, span.start:span.end].unique().tolist()) <= {0.0, 1.0}
    # Hard one-hots follow the logits: a dominant logit is always the one chosen.
    city = encoder.spans("city")[0]
    pushed = raw.detach().clone()
    pushed[:, city.start + 1] += 100
    assert bool((activation.hard(pushed)[:, city.start + 1] == 1).all())


def test_output_activation_groups_spans_by_width_and_equals_a_span_by_span_gumbel_softmax():
    from gan_models.tabular.encoder import SpanInfo
    from gan_models.tabular.networks import GUMBEL_TAU

    layout, start = [], 0
    for width in (1, 8, 2, 64, 7, 1, 3, 8):  # tanh scalars (width 1) between one-hots of 2 to 64
        activation = "tanh" if width == 1 else "softmax"
        layout.append(SpanInfo("c", "continuous", "alpha" if width == 1 else "mode", start, start + width, activation))
        start += width
    activation = OutputActivation(layout)
    assert activation.group_shapes == [(2, 1), (4, 1), (8, 3), (64, 1)]
    raw = torch.randn(32, start, requires_grad=True)
    soft = activation(raw, generator=torch.Generator().manual_seed(3))
    hard = activation.hard(raw, generator=torch.Generator().manual_seed(3))
    uniform = torch.rand(raw.shape, generator=torch.Generator().manual_seed(3)).clamp_min(1e-20)
    noisy = raw.detach() - torch.log(-torch.log(uniform))
    for span in layout:
        if span.activation == "tanh":
            torch.testing.assert_close(soft[:, span.start], torch.tanh(raw[:, span.start]))
            continue
        logits = noisy[:, span.start:span.end]
        torch.testing.assert_close(soft[:, span.start:span.end], (logits / GUMBEL_TAU).softmax(dim=1))
        chosen = torch.nn.functional.one_hot(logits.argmax(dim=1), span.end - span.start).float()
        assert torch.equal(hard[:, span.start:span.end], chosen)


# ---------------------------------------------------------------------------------------- networks
def autograd_gradient_penalty(critic: Discriminator, real: torch.Tensor, fake: torch.Tensor, pac: int) -> torch.Tensor:
    """Reference: the WGAN-GP penalty by autograd (create_graph=True, then a double backward), as the
    trainer computed it before ``Discriminator.input_gradient``."""
    mix = torch.rand(real.shape[0] // pac, 1, 1).expand(-1, pac, 1).reshape(-1, 1)
    between = (mix * real + (1 - mix) * fake).requires_grad_(True)
    (gradients,) = torch.autograd.grad(critic(between).sum(), between, create_graph=True)
    norms = gradients.reshape(-1, pac * real.shape[1]).norm(2, dim=1)
    return ((norms - 1) ** 2).mean()


PAC, CRITIC_INPUT = 4, 7


def critic_and_packs(hidden_dims=(32, 32), dropout=0.5, training=True):
    torch.manual_seed(0)
    critic = Discriminator(CRITIC_INPUT, hidden_dims, PAC, dropout).train(training)
    return critic, torch.randn(40, CRITIC_INPUT), torch.randn(40, CRITIC_INPUT) * 2


def penalty_and_gradients(penalty_of, critic, real, fake):
    """The penalty, every critic weight's gradient from it, and the next random draw (equal when both
    penalties drew as many random numbers)."""
    critic.zero_grad(set_to_none=True)
    torch.manual_seed(1)  # the same mixing weights and dropout masks for both
    penalty = penalty_of(critic, real, fake, PAC)
    penalty.backward()
    # Biases get no gradient from the penalty; autograd gives the hidden ones zeros, the explicit one None.
    gradients = {name: torch.zeros_like(p) if p.grad is None else p.grad for name, p in critic.named_parameters()}
    return penalty.detach(), gradients, torch.rand(4)


@pytest.mark.parametrize(
    "hidden_dims, dropout, training",
    [
        ((32, 32), 0.5, True),  # the trainer's layout
        ((24,), 0.3, True),
        ((16, 24, 8), 0.5, True),
        ((32, 32), 0.0, True),  # dropout off
        ((32, 32), 0.5, False),  # eval mode: no masks
        ((), 0.5, True),  # no hidden layer: the gradient is the output weight
    ],
)
def test_explicit_gradient_penalty_equals_autograd_double_backward(hidden_dims, dropout, training):
    critic, real, fake = critic_and_packs(hidden_dims, dropout, training)
    expected, expected_gradients, expected_next = penalty_and_gradients(autograd_gradient_penalty, critic, real, fake)
    penalty, gradients, following = penalty_and_gradients(gradient_penalty, critic, real, fake)
    assert expected > 0.01 and expected_gradients["body.0.weight"].abs().sum() > 0
    torch.testing.assert_close(penalty, expected, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(gradients, expected_gradients, rtol=1e-5, atol=1e-7)
    assert torch.equal(following, expected_next)


def test_explicit_gradient_penalty_under_bf16_autocast_matches_autograd_to_bf16_precision():
    critic, real, fake = critic_and_packs()
    with torch.autocast("cpu", dtype=torch.bfloat16):  # the CUDA path's mixed precision, run on the CPU
        expected, expected_gradients, _ = penalty_and_gradients(autograd_gradient_penalty, critic, real, fake)
        penalty, gradients, _ = penalty_and_gradients(gradient_penalty, critic, real, fake)
    assert penalty.dtype == torch.float32
    torch.testing.assert_close(penalty, expected.float(), rtol=2e-2, atol=1e-3)
    torch.testing.assert_close(gradients, expected_gradients, rtol=5e-2, atol=5e-3)



# ---------------------------------------------------------------------------------------- sampler
def sampler_fixture():
    # colour "red" exists only in class 0, "blue" only in class 1, "green" in both.
    label_codes = np.array([0] * 30 + [1] * 6)
    colour_codes = np.array([0] * 20 + [1] * 10 + [1] * 2 + [2] * 4)  # 0=red, 1=green, 2=blue
    size_codes = np.arange(36) % 2
    category_codes = np.stack([colour_codes, size_codes], axis=1)
    space = ConditionSpace.from_codes(label_codes, category_codes, n_classes=2, category_counts=[3, 2])
    sampler = TrainingSampler(space, label_codes, category_codes, torch.device("cpu"))
    return space, sampler, label_codes, category_codes


def test_training_batches_are_class_balanced_in_single_class_packs():
    torch.manual_seed(0)
    space, sampler, _, _ = sampler_fixture()
    batch, _ = sampler.sample(400, pack_size=10)
    assert torch.bincount(batch.classes).tolist() == [200, 200]
    packs = batch.classes.reshape(-1, 10)
    assert bool((packs == packs[:, :1]).all())


def test_conditions_are_one_hots_and_real_rows_match_them():
    torch.manual_seed(0)
    space, sampler, label_codes, category_codes = sampler_fixture()
    batch, rows = sampler.sample(600, pack_size=2)
    condition = batch.condition
    assert condition.shape == (600, space.width) == (600, 2 + 3 + 2)
    np.testing.assert_array_equal(condition[:, :2].argmax(1), batch.classes)
    assert bool((condition[:, :2].sum(1) == 1).all()) and bool((condition[:, 2:].sum(1) == 1).all())
    offsets = torch.tensor([2, 5])
    assert bool((condition[torch.arange(600), offsets[batch.columns] + batch.categories] == 1).all())
    np.testing.assert_array_equal(label_codes[rows], batch.classes)
    np.testing.assert_array_equal(category_codes[rows.numpy(), batch.columns.numpy()], batch.categories)
    # Both columns are conditioned on, and a class is never asked for a colour it does not have.
    assert set(batch.columns.tolist()) == {0, 1}
    colour = batch.columns == 0
    assert not bool(((batch.classes == 0) & colour & (batch.categories == 2)).any())
    assert not bool(((batch.classes == 1) & colour & (batch.categories == 0)).any())


def test_generation_conditions_follow_class_frequencies():
    space, _, _, _ = sampler_fixture()
    generator = torch.Generator().manual_seed(0)
    batch = space.for_classes(torch.ones(20_000, dtype=torch.long), generator=generator)
    colours = batch.categories[batch.columns == 0]
    shares = torch.bincount(colours, minlength=3).float() / len(colours)
    assert shares[0] == 0  # no red in class 1
    assert abs(shares[2].item() - 4 / 6) < 0.03 and abs(shares[1].item() - 2 / 6) < 0.03


def test_training_plan_rounds_to_pac_and_caps_small_tables():
    config = TabularGANConfig(batch_size=500, pac=10, epochs=300)
    assert training_plan(270, config) == (270, 1, 300)
    assert training_plan(1234, config) == (500, 2, 600)
    assert training_plan(27, TabularGANConfig(batch_size=500, pac=10, epochs=2)) == (20, 1, 2)
    assert training_plan(5, TabularGANConfig(batch_size=500, pac=10, epochs=1)).batch_size == 10


# ---------------------------------------------------------------------------------------- trainer
@pytest.fixture(scope="module")
def fitted() -> tuple[TabularGAN, pd.DataFrame]:
    table = mixed_table()
    return TabularGAN(tiny_config()).fit(table, "label"), table


def test_fit_and_sample_give_exact_class_counts_valid_values_and_dtypes(fitted):
    gan, table = fitted
    assert gan.classes == ["healthy", "sick"]
    assert len(gan.loss_history) == 4 and set(gan.loss_history[0]) == {"epoch", "generator_loss", "discriminator_loss"}
    synthetic = pd.concat(gan.sample({"sick": 150, "healthy": 20}))
    assert synthetic["label"].value_counts().to_dict() == {"sick": 150, "healthy": 20}
    assert list(synthetic.columns) == list(table.columns) and synthetic.dtypes.equals(table.dtypes)
    assert set(synthetic["city"].dropna()) <= {"paris", "rome", "oslo"}
    assert set(synthetic["code"].dropna()) <= {"x", "y"}
    assert synthetic["age"].between(table["age"].min(), table["age"].max()).all()
    assert synthetic["income"].dropna().between(table["income"].min(), table["income"].max()).all()
    assert synthetic.index.is_unique


def test_sampling_in_chunks_keeps_totals_and_chunk_sizes(fitted):
    gan, _ = fitted
    chunks = list(gan.sample({"healthy": 130, "sick": 70}, chunk_size=64))
    assert [len(chunk) for chunk in chunks] == [64, 64, 64, 8]
    totals = pd.concat(chunks)["label"].value_counts().to_dict()
    assert totals == {"healthy": 130, "sick": 70}
    assert list(gan.sample({"sick": 0})) == []


def test_sample_rejects_unknown_classes_and_bad_counts(fitted):
    gan, _ = fitted
    with pytest.raises(ValueError, match="'flu'"):
        gan.sample({"flu": 3})
    with pytest.raises(ValueError, match="sick"):
        gan.sample({"sick": -1})
    with pytest.raises(ValueError, match="chunk_size"):
        gan.sample({"sick": 1}, chunk_size=0)


def test_fit_rejects_bad_label_columns():
    table = mixed_table()
    with pytest.raises(ValueError, match="'diagnosis'"):
        TabularGAN(tiny_config()).fit(table, "diagnosis")
    table.loc[3, "label"] = None
    with pytest.raises(ValueError, match="'label'.*missing"):
        TabularGAN(tiny_config()).fit(table, "label")


def test_save_and_load_give_identical_samples(fitted, tmp_path):
    gan, _ = fitted
    gan.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "encoder.json", "generator.pt", "meta.json"]
    loaded = TabularGAN.load(tmp_path)
    assert loaded.classes == gan.classes and loaded.loss_history == gan.loss_history
    expected = pd.concat(gan.sample({"sick": 40, "healthy": 10}, seed=5))
    pd.testing.assert_frame_equal(pd.concat(loaded.sample({"sick": 40, "healthy": 10}, seed=5)), expected)


def test_seeded_runs_repeat_exactly_on_cpu(fitted):
    gan, table = fitted
    again = TabularGAN(tiny_config()).fit(table, "label")
    for name, weight in gan.generator.state_dict().items():
        assert torch.equal(weight, again.generator.state_dict()[name]), name
    first = pd.concat(gan.sample({"sick": 30}, seed=11))
    pd.testing.assert_frame_equal(first, pd.concat(again.sample({"sick": 30}, seed=11)))
    assert not first.equals(pd.concat(gan.sample({"sick": 30}, seed=12)))


def test_interrupted_fit_resumes_to_the_same_steps_and_weights(tmp_path):
    table = mixed_table(n=80)
    config = tiny_config(epochs=6, batch_size=20, checkpoint_every=4)  # 4 steps per epoch, 24 steps
    reference = TabularGAN(config).fit(table, "label", checkpoint_dir=tmp_path / "reference")

    def stop_at_step_10(step: int, total: int, losses: dict) -> None:
        if step == 10:
            raise KeyboardInterrupt("simulated crash")

    with pytest.raises(KeyboardInterrupt):
        TabularGAN(config).fit(table, "label", progress=stop_at_step_10, checkpoint_dir=tmp_path / "run")
    assert load_checkpoint(tmp_path / "run")["step"] == 8

    steps_seen = []
    resumed = TabularGAN(config).fit(
        table, "label", progress=lambda step, total, losses: steps_seen.append((step, total)), checkpoint_dir=tmp_path / "run"
    )
    assert resumed.training_info["resumed_from_step"] == 8
    assert steps_seen[0] == (10, 24) and steps_seen[-1] == (24, 24)
    assert load_checkpoint(tmp_path / "run")["step"] == 24 == reference.training_info["steps"]
    for name, weight in reference.generator.state_dict().items():
        assert torch.equal(weight, resumed.generator.state_dict()[name]), name
    assert resumed.loss_history == reference.loss_history


def test_resuming_from_a_checkpoint_of_another_config_is_refused(tmp_path):
    table = mixed_table(n=80)
    TabularGAN(tiny_config(epochs=1, checkpoint_every=1)).fit(table, "label", checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match=r"another config \(\['epochs'\] differ\); delete it"):
        TabularGAN(tiny_config(epochs=2, checkpoint_every=1)).fit(table, "label", checkpoint_dir=tmp_path)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda table: mixed_table(n=len(table), seed=5), id="other rows of the same shape"),
        pytest.param(lambda table: table.assign(city=table["city"].mask(table.index < 5, "berlin")), id="new category"),
        pytest.param(lambda table: table.assign(ratio=table["ratio"] + np.float32(0.01)), id="one column shifted"),
    ],
)
def test_resuming_with_other_data_of_the_same_shape_is_refused(tmp_path, change):
    table = mixed_table(n=40)
    config = tiny_config(epochs=1, batch_size=20, checkpoint_every=1)
    finished = TabularGAN(config).fit(table, "label", checkpoint_dir=tmp_path)
    changed = change(table)
    assert changed.shape == table.shape and list(changed.columns) == list(table.columns)
    refusal = f"checkpoint in {re.escape(str(tmp_path))} was written for other training data"
    for _ in range(2):  # a retry gets the same clear refusal, not an encoder error
        with pytest.raises(ValueError, match=refusal):
            TabularGAN(config).fit(changed, "label", checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match="other training data"):  # the same table with other discrete columns
        TabularGAN(config).fit(table, "label", discrete_columns=["age", "city"], checkpoint_dir=tmp_path)
    again = TabularGAN(config).fit(table, "label", checkpoint_dir=tmp_path)
    assert again.training_info["resumed_from_step"] == finished.training_info["steps"]


def test_generator_learns_what_distinguishes_the_classes():
    rng = np.random.default_rng(0)
    labels = np.r_[np.zeros(150, dtype=int), np.ones(30, dtype=int)]
    table = pd.DataFrame({"x": rng.normal(0, 1, 180) + 6 * labels, "y": rng.normal(0, 1, 180), "label": labels})
    gan = TabularGAN(tiny_config(epochs=60, batch_size=40, pac=5, generator_lr=1e-3, discriminator_lr=1e-3)).fit(table, "label")
    synthetic = pd.concat(gan.sample({0: 500, 1: 500}))
    means = synthetic.groupby("label")["x"].mean()
    assert means[1] - means[0] > 2.0  # real gap: 6; a generator that ignores the class gives ~0


def test_auxiliary_classifier_makes_generated_rows_follow_their_class_sooner():
    rng = np.random.default_rng(0)
    labels = np.r_[np.zeros(150, dtype=int), np.ones(30, dtype=int)]
    table = pd.DataFrame({"x": rng.normal(0, 1, 180) + 6 * labels, "y": rng.normal(0, 1, 180), "label": labels})

    def class_gap(classifier_weight: float) -> float:
        config = tiny_config(epochs=25, batch_size=40, pac=5, classifier_weight=classifier_weight, moment_weight=0)
        synthetic = pd.concat(TabularGAN(config).fit(table, "label").sample({0: 500, 1: 500}))
        means = synthetic.groupby("label")["x"].mean()
        return means[1] - means[0]

    # 100 steps: too few for the critic alone to teach the class (real gap: 6)
    assert class_gap(1.0) > class_gap(0.0) + 0.5


def test_moment_loss_gives_a_small_class_its_correlation():
    rng = np.random.default_rng(0)
    labels = np.r_[np.zeros(150, dtype=int), np.ones(30, dtype=int)]
    x = rng.normal(0, 1, 180) + 3 * labels
    # Within the 30-row class, y follows x (correlation 0.99); elsewhere they are unrelated.
    table = pd.DataFrame({"x": x, "y": np.where(labels == 1, 2 * x, 0) + rng.normal(0, 0.3, 180), "label": labels})

    def generated_correlation(moment_weight: float) -> float:
        config = tiny_config(epochs=50, batch_size=40, pac=5, moment_weight=moment_weight,
                             generator_lr=1e-3, discriminator_lr=1e-3)
        rows = pd.concat(TabularGAN(config).fit(table, "label").sample({1: 1000}))
        return float(np.corrcoef(rows["x"], rows["y"])[0, 1])

    # 200 steps: without the loss the generated class has no correlation at all (-0.003 and 0.30 when written)
    assert generated_correlation(5.0) > generated_correlation(0.0) + 0.2


def test_without_classifier_weight_no_auxiliary_classifier_is_trained():
    table = mixed_table(n=60)
    encoder = TabularEncoder(3, 0).fit(table, ["city", "smoker", "grade", "code", "label"])

    def run_for(classifier_weight: float):
        gan = TabularGAN(tiny_config(classifier_weight=classifier_weight))
        return gan._prepare_run(encoder, encoder.transform(table), "label")

    assert run_for(0.0).classifier is None
    assert run_for(0.5).classifier is not None


def test_generator_update_changes_only_the_generator():
    table = mixed_table(n=60)
    encoder = TabularEncoder(3, 0).fit(table, ["city", "smoker", "grade", "code", "label"])
    gan = TabularGAN(tiny_config())
    run = gan._prepare_run(encoder, encoder.transform(table), "label")
    others = {"critic": run.discriminator, "classifier": run.classifier}
    before = {name: [p.detach().clone() for p in net.parameters()] for name, net in others.items()}
    generator_before = [p.detach().clone() for p in gan.generator.parameters()]
    batch, rows = run.sampler.sample(run.plan.batch_size, pack_size=gan.config.pac)
    raw, fake = gan._head.generate(batch)

    generator_update(gan._head, run, batch, rows, raw, fake)

    for name, net in others.items():
        assert all(p.grad is None for p in net.parameters()), f"{name} received gradients"
        assert all(torch.equal(p, q) for p, q in zip(net.parameters(), before[name])), f"{name} changed"
    assert all(p.grad is not None for p in gan.generator.parameters())
    assert not all(torch.equal(p, q) for p, q in zip(gan.generator.parameters(), generator_before))


# ------------------------------------------------------------------------------------- checkpoint
def test_checkpoint_is_written_atomically_and_read_back(tmp_path):
    assert load_checkpoint(tmp_path) is None
    state = {"step": 3, "weights": torch.arange(4.0), "history": [{"loss": 0.5}]}
    save_checkpoint(tmp_path / "run", state)
    save_checkpoint(tmp_path / "run", {**state, "step": 4})
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["checkpoint.pt"]
    loaded = load_checkpoint(tmp_path / "run")
    assert loaded["step"] == 4 and torch.equal(loaded["weights"], state["weights"]) and loaded["history"] == state["history"]
