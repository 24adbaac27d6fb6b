"""The per-class moment loss: decoding to column values, and what the loss measures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from gan_models.tabular import TabularGAN, TabularGANConfig
from gan_models.tabular.encoder import TabularEncoder
from gan_models.tabular.moments import MAX_CATEGORIES_IN_COVARIANCE, MIN_CLASS_ROWS, ClassMomentLoss


def correlated_table(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    label = np.where(np.arange(n) < n // 3, "rare", "common")
    x = rng.normal(size=n) + np.where(label == "rare", 3.0, 0.0)
    return pd.DataFrame({
        "x": x,
        "y": 2 * x + rng.normal(scale=0.3, size=n),  # y follows x within each class
        "income": np.where(rng.random(n) < 0.2, np.nan, rng.lognormal(3, 0.5, n)),
        "city": rng.choice(["oslo", "rome"], n),
        "label": label,
    })


def fitted(table: pd.DataFrame):
    encoder = TabularEncoder(5, 0).fit(table, ["city", "label"])
    rows = torch.as_tensor(encoder.transform(table))
    label = encoder.spans("label")[0]
    classes = rows[:, label.start:label.end].argmax(dim=1)
    return encoder, rows, classes


def standardised(values) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    return (values - values.mean()) / values.std(ddof=1)


def test_decoding_encoded_rows_gives_back_the_standardised_values_and_other_one_hots():
    table = correlated_table()
    encoder, rows, _ = fitted(table)
    decoded = ClassMomentLoss(encoder, "label", rows).decode(rows).numpy()

    np.testing.assert_allclose(decoded[:, 0], standardised(table["x"]), atol=1e-4)
    np.testing.assert_allclose(decoded[:, 1], standardised(table["y"]), atol=1e-4)
    observed = table["income"].notna().to_numpy()
    fill = np.corrcoef(decoded[observed, 2], table["income"][observed])[0, 1]
    assert fill > 0.9999  # missing incomes are decoded at the encoder's fill value, shifting the mean
    income_missing = [s for s in encoder.spans("income") if s.role == "missing"][0]
    city = encoder.spans("city")[0]
    one_hots = torch.cat([rows[:, income_missing.start:income_missing.end], rows[:, city.start:city.end]], dim=1)
    np.testing.assert_allclose(decoded[:, 3:], np.apply_along_axis(standardised, 0, one_hots.numpy()), atol=1e-5)
    assert decoded.shape[1] == 3 + 2 + 2  # the label's one-hot is left out


def test_columns_far_from_zero_keep_their_resolution():
    rng = np.random.default_rng(1)
    table = correlated_table()
    table["timestamp"] = 1.7e9 + rng.normal(0, 30, len(table))
    encoder, rows, _ = fitted(table)
    decoded = ClassMomentLoss(encoder, "label", rows).decode(rows).numpy()
    # Decoded in float32 before standardising, these values would collapse onto a handful of steps.
    np.testing.assert_allclose(decoded[:, 3], standardised(table["timestamp"]), atol=1e-3)


def test_loss_is_zero_for_real_rows_and_grows_when_a_class_loses_its_spread():
    encoder, rows, classes = fitted(correlated_table())
    loss = ClassMomentLoss(encoder, "label", rows)
    every_row = torch.arange(len(rows))
    assert loss(every_row, rows, classes).item() < 1e-10

    # Each rare row replaced by the first rare row: right class, right neighbourhood, no spread at all.
    collapsed = rows.clone()
    rare = classes == classes[0]
    collapsed[rare] = rows[rare][0]
    assert loss(every_row, collapsed, classes).item() > 0.1


def test_loss_compares_classes_separately():
    encoder, rows, classes = fitted(correlated_table())
    loss = ClassMomentLoss(encoder, "label", rows)
    swapped = torch.cat([rows[classes == 1][: int((classes == 0).sum())], rows[classes == 0]])
    order = torch.cat([torch.nonzero(classes == 0).squeeze(1), torch.nonzero(classes == 1).squeeze(1)])
    # Same rows, but the rare class is asked to look like the common one: the pooled moments would hardly
    # notice; the per-class ones do.
    assert loss(order, swapped[: len(order)], classes[order]).item() > 0.5


def test_a_class_with_one_row_in_the_batch_is_skipped():
    encoder, rows, classes = fitted(correlated_table())
    loss = ClassMomentLoss(encoder, "label", rows)
    rare, common = torch.nonzero(classes == 0).squeeze(1), torch.nonzero(classes == 1).squeeze(1)
    batch = torch.cat([rare[:1], common[:20]])
    fake = rows[batch].clone()
    fake[0] = rows[rare[1]]  # the lone rare row differs from its real counterpart; one row has no covariance
    value = loss(batch, fake, classes[batch])
    assert torch.isfinite(value) and value.item() < 1e-10


def test_a_column_constant_in_training_keeps_unit_scale():
    table = correlated_table()
    table["constant"] = 4.0
    encoder, rows, classes = fitted(table)
    loss = ClassMomentLoss(encoder, "label", rows)
    slipped = rows.clone()
    slipped[:, encoder.spans("constant")[0].start] = 0.01  # alpha 0.01: the value 4.04 instead of 4
    assert loss(torch.arange(len(rows)), slipped, classes).item() < 1e-2  # not divided by ~0


def test_a_table_with_only_its_label_trains_without_the_loss():
    table = pd.DataFrame({"label": ["a"] * 30 + ["b"] * 10})
    gan = TabularGAN(TabularGANConfig(epochs=2, batch_size=20, pac=5, classifier_weight=0, device="cpu"))
    encoder = TabularEncoder(3, 0).fit(table, ["label"])
    assert gan._prepare_run(encoder, encoder.transform(table), "label").moments is None


def test_a_batch_with_no_class_to_match_gives_zero_not_nan():
    encoder, rows, classes = fitted(correlated_table())
    loss = ClassMomentLoss(encoder, "label", rows)
    one_each = torch.cat([torch.nonzero(classes == 0)[0], torch.nonzero(classes == 1)[0]])
    fake = rows[one_each].flip(0)  # each lone row replaced by the other class's row
    value = loss(one_each, fake, classes[one_each])
    assert value.item() == 0.0


def test_a_class_with_too_few_training_rows_is_not_matched():
    table = correlated_table()
    few = table[table["label"] == "rare"].index[: MIN_CLASS_ROWS - 1]
    table = pd.concat([table[table["label"] == "common"], table.loc[few]], ignore_index=True)
    encoder, rows, classes = fitted(table)
    loss = ClassMomentLoss(encoder, "label", rows)
    rare = classes == classes[-1]
    collapsed = rows.clone()
    collapsed[rare] = rows[rare][0]  # would be a large covariance gap, were the class matched
    assert loss(torch.arange(len(rows)), collapsed, classes).item() < 1e-10


def test_wide_discrete_columns_enter_the_means_but_not_the_covariances():
    rng = np.random.default_rng(2)
    table = correlated_table()
    table["zip"] = rng.choice([f"z{i}" for i in range(MAX_CATEGORIES_IN_COVARIANCE + 5)], len(table))
    encoder = TabularEncoder(5, 0).fit(table, ["city", "zip", "label"])
    loss = ClassMomentLoss(encoder, "label", torch.as_tensor(encoder.transform(table)))
    zip_width = encoder.spans("zip")[0].end - encoder.spans("zip")[0].start
    assert loss.width == 3 + 2 + 2 + zip_width
    assert len(loss.covariance_columns) == 3 + 2 + 2
