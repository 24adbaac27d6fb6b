"""Behaviour that keeps large tables affordable: the step budget, the downstream classifier rule, the capped
downstream training rows, and the grouping of categories with many levels. No timings."""

import numpy as np
import pandas as pd

from gan_models.tabular import TabularGAN, TabularGANConfig
from gan_models.tabular.config import training_plan
from gan_models.tabular.encoder import MAX_ENCODED_CATEGORIES, TabularEncoder
from quality.lift.tables import (
    LARGE_TABLE_CLASSIFIERS,
    LARGE_TABLE_ROWS,
    SMALL_TABLE_CLASSIFIERS,
    capped_training_rows,
    classifiers_for,
    downstream_pipeline,
    model_frame,
)


def test_the_step_budget_caps_large_tables_and_leaves_small_ones_at_their_epochs():
    config = TabularGANConfig()
    small = training_plan(569, config)
    assert small.total_steps == small.steps_per_epoch * config.epochs == 300
    large = training_plan(54_000, config)
    assert large.total_steps == config.max_steps < large.steps_per_epoch * config.epochs
    assert training_plan(54_000, TabularGANConfig(max_steps=0)).total_steps == 108 * config.epochs
    assert training_plan(54_000, TabularGANConfig(max_steps=7)).total_steps == 7


def test_a_fit_stops_at_the_step_budget():
    rng = np.random.default_rng(0)
    table = pd.DataFrame({"x": rng.normal(size=2000), "y": rng.integers(0, 2, 2000)})
    seen = []
    model = TabularGAN(TabularGANConfig(epochs=5, max_steps=6, seed=0)).fit(
        table, "y", progress=lambda step, total, losses: seen.append((step, total)))
    assert model.training_info["steps"] == 6 and seen[-1] == (6, 6)
    assert model.training_info["epochs_trained"] == 1.5  # 4 steps per epoch of 500-row batches


def test_the_classifier_rule_keeps_the_forest_on_small_tables():
    assert classifiers_for(LARGE_TABLE_ROWS - 1) == SMALL_TABLE_CLASSIFIERS == ("logistic_regression", "random_forest")
    assert classifiers_for(LARGE_TABLE_ROWS) == LARGE_TABLE_CLASSIFIERS
    assert "hist_gradient_boosting" in LARGE_TABLE_CLASSIFIERS


def test_gradient_boosting_never_holds_rows_out_and_takes_many_level_categories():
    rng = np.random.default_rng(1)
    train = pd.DataFrame({"x": rng.normal(size=300), "c": rng.choice([f"v{i}" for i in range(100)], 300),
                          "y": rng.integers(0, 2, 300)})
    pipeline = downstream_pipeline(train, "y", "hist_gradient_boosting", seed=0)
    assert pipeline.named_steps["classifier"].early_stopping is False
    pipeline.fit(model_frame(train, train, "y"), train["y"].to_numpy())
    assert pipeline.predict_proba(model_frame(train.head(5), train, "y")).shape == (5, 2)


def test_downstream_training_rows_are_capped_by_a_seeded_stratified_subsample():
    rng = np.random.default_rng(2)
    train = pd.DataFrame({"x": rng.normal(size=1000), "y": np.r_[np.zeros(900, int), np.ones(100, int)]})
    synthetic = pd.DataFrame({"x": rng.normal(size=800), "y": np.ones(800, int)})
    same_train, same_synthetic = capped_training_rows(train, synthetic, "y", seed=0, max_rows=1000)
    assert same_train is train and same_synthetic is synthetic
    capped, thinned = capped_training_rows(train, synthetic, "y", seed=0, max_rows=500)
    assert len(capped) == 500 and capped["y"].value_counts().to_dict() == {0: 450, 1: 50}
    assert len(thinned) == 400
    again, _ = capped_training_rows(train, synthetic, "y", seed=0, max_rows=500)
    other, _ = capped_training_rows(train, synthetic, "y", seed=1, max_rows=500)
    assert again.index.equals(capped.index) and not other.index.equals(capped.index)


def test_a_category_with_hundreds_of_levels_is_grouped_and_its_rare_levels_stay_generatable():
    rng = np.random.default_rng(3)
    levels = [f"r{i:03d}" for i in range(300)]
    weights = 1.0 / np.arange(1, 301)
    region = rng.choice(levels, 6000, p=weights / weights.sum()).astype(object)
    region[:5] = None  # missing values are kept as their own level
    table = pd.DataFrame({"region": region, "y": rng.integers(0, 3, 6000)})
    encoder = TabularEncoder().fit(table, ["region", "y"], ungrouped=["y"])
    (span,) = [s for s in encoder.output_info if s.column == "region"]
    assert span.end - span.start == MAX_ENCODED_CATEGORIES + 1  # kept levels, "other", missing
    assert len(encoder.column_state("y")["categories"]) == 3  # the label is never grouped
    decoded = encoder.inverse_transform(encoder.transform(table), index=table.index)
    kept = set(encoder.column_state("region")["categories"])
    frequent = table["region"].isin(kept)
    assert (decoded["region"][frequent] == table["region"][frequent]).all()
    assert decoded["region"][:5].isna().all()
    rare = ~frequent & table["region"].notna()
    assert decoded["region"][rare].isin(set(levels) - kept).all()  # "other" decodes to a grouped level
    assert decoded["region"][rare].nunique() > 50
    again = encoder.inverse_transform(encoder.transform(table), index=table.index)
    assert again["region"].equals(decoded["region"])  # seeded
    restored = TabularEncoder.from_state(encoder.to_state())
    assert restored.inverse_transform(encoder.transform(table), index=table.index)["region"].equals(decoded["region"])


def test_tables_with_few_levels_keep_their_encoder_state():
    table = pd.DataFrame({"c": ["a", "b", "a", None], "y": [0, 1, 0, 1]})
    state = TabularEncoder().fit(table, ["c", "y"]).column_state("c")
    assert "other" not in state and state["categories"] == ["a", "b"]


def _two_class_table(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x": rng.normal(size=rows), "z": rng.normal(size=rows), "y": rng.integers(0, 2, rows)})


def test_privacy_measures_the_close_fraction_on_a_subsample_and_looks_for_copies_in_every_row(monkeypatch):
    from quality.checks import privacy

    monkeypatch.setattr(privacy, "MAX_CLOSE_FRACTION_ROWS", 50)
    train, validation = _two_class_table(400, 4), _two_class_table(200, 5)
    fresh = _two_class_table(300, 6)
    copies = pd.concat([fresh, train.tail(2)], ignore_index=True)  # the copies sit past any subsample's start
    result = privacy.privacy_check(train, validation, copies, "y")
    assert result.metrics["n_synthetic"] == 302 and result.metrics["n_close_fraction_rows"] == 50
    assert result.metrics["exact_copies"] == 2 and not result.passed
    clean = privacy.privacy_check(train, validation, fresh, "y")
    assert clean.passed, clean.details
    monkeypatch.setattr(privacy, "MAX_CLOSE_FRACTION_ROWS", 10_000)
    assert privacy.privacy_check(train, validation, fresh, "y").metrics["n_close_fraction_rows"] == 300


def test_the_two_sample_test_compares_at_most_its_cap_of_rows_per_class(monkeypatch):
    from quality.checks import fidelity

    seen = []
    measure = fidelity._forest_c2st_auc
    monkeypatch.setattr(fidelity, "C2ST_MAX_ROWS_PER_CLASS", 40)
    monkeypatch.setattr(fidelity, "_forest_c2st_auc", lambda real, fake, seed: seen.append(len(real)) or measure(real, fake, seed))
    fidelity.fidelity_check(_two_class_table(400, 7), _two_class_table(300, 8), "y")
    assert seen and max(seen) == 80 and sorted(seen)[:-1] == [40, 40]  # two classes of 40, then both pooled


def test_the_label_agreement_model_fits_at_most_its_cap_of_train_rows_in_the_class_mix(monkeypatch):
    from sklearn.linear_model import LogisticRegression

    from quality.checks import fidelity

    fitted = []
    fit = LogisticRegression.fit
    monkeypatch.setattr(fidelity, "LABEL_AGREEMENT_MAX_ROWS", 100)
    monkeypatch.setattr(LogisticRegression, "fit", lambda self, x, y: fitted.append(pd.Series(y)) or fit(self, x, y))
    train = _two_class_table(400, 7)
    fidelity.fidelity_check(train, _two_class_table(300, 8), "y")
    (labels,) = fitted
    assert len(labels) == 100
    assert labels.value_counts(normalize=True).round(2).to_dict() == \
        train["y"].astype(str).value_counts(normalize=True).round(2).to_dict()
