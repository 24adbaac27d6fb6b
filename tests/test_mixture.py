"""The batched mixture fit must give scikit-learn's BayesianGaussianMixture results, column by column."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import BayesianGaussianMixture

from gan_models.tabular.encoder import MIXTURE_MAX_ITER, WEIGHT_CONCENTRATION_PRIOR
from gan_models.tabular import mixture
from gan_models.tabular.mixture import fit_mixtures
from quality.data.tables import load_table


def sklearn_mixture(values: np.ndarray, n_components: int, seed: int, max_iter: int) -> BayesianGaussianMixture:
    mixture = BayesianGaussianMixture(
        n_components=n_components,
        weight_concentration_prior_type="dirichlet_process",
        weight_concentration_prior=WEIGHT_CONCENTRATION_PRIOR,
        covariance_type="diag",
        init_params="k-means++",
        max_iter=max_iter,
        n_init=1,
        random_state=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return mixture.fit(values.reshape(-1, 1))


def assert_matches_sklearn(columns: list[np.ndarray], components: list[int], seeds: list[int], max_iter: int) -> list:
    fitted = fit_mixtures(columns, components, seeds, WEIGHT_CONCENTRATION_PRIOR, max_iter)
    reference = [sklearn_mixture(v, k, s, max_iter) for v, k, s in zip(columns, components, seeds)]
    for position, (ours, theirs) in enumerate(zip(fitted, reference)):
        message = f"column {position}"
        np.testing.assert_allclose(ours.weights, theirs.weights_, rtol=1e-7, atol=1e-10, err_msg=message)
        np.testing.assert_allclose(ours.means, theirs.means_[:, 0], rtol=1e-7, atol=1e-10, err_msg=message)
        np.testing.assert_allclose(ours.variances, theirs.covariances_[:, 0], rtol=1e-7, atol=1e-10, err_msg=message)
    return reference


def standardised(values: np.ndarray) -> np.ndarray:
    return (values - values.mean()) / values.std()


@pytest.mark.parametrize("dataset", ["breast_cancer", "wine"])
def test_matches_sklearn_on_every_column_of_the_benchmark_tables(dataset):
    table = load_table(dataset)
    label = table.label_column
    columns = [standardised(table.frame[c].to_numpy(float)[:300]) for c in table.frame.columns if c != label]
    seeds = list(range(7, 7 + len(columns)))
    assert_matches_sklearn(columns, [10] * len(columns), seeds, MIXTURE_MAX_ITER)


def test_many_columns_are_fitted_in_groups_with_the_same_results(monkeypatch):
    rng = np.random.default_rng(3)
    columns = [standardised(rng.gamma(2.0, size=80)) for _ in range(7)]
    together = fit_mixtures(columns, [4] * 7, list(range(7)), WEIGHT_CONCENTRATION_PRIOR, 30)
    monkeypatch.setattr(mixture, "COLUMNS_PER_GROUP", 3)
    in_groups = fit_mixtures(columns, [4] * 7, list(range(7)), WEIGHT_CONCENTRATION_PRIOR, 30)
    for a, b in zip(together, in_groups):
        np.testing.assert_allclose(a.means, b.means, rtol=1e-10)
        np.testing.assert_allclose(a.weights, b.weights, rtol=1e-10)


def test_columns_of_different_lengths_and_component_counts_are_fitted_as_if_alone():
    rng = np.random.default_rng(0)
    columns = [
        standardised(rng.normal(size=50)),
        standardised(np.r_[rng.normal(-3, 0.3, 400), rng.normal(2, 0.5, 150)]),  # two clear modes
        standardised(rng.integers(0, 4, 120).astype(float)),  # four distinct values: four components
        standardised(rng.exponential(size=900)),
    ]
    reference = assert_matches_sklearn(columns, [10, 10, 4, 10], [1, 2, 3, 4], max_iter=200)
    # Columns stop at different iterations; each must stop where scikit-learn's fit stopped.
    assert len({r.n_iter_ for r in reference}) > 1


def test_rejects_a_column_shorter_than_its_component_count():
    with pytest.raises(ValueError, match="column 1 has 3 values"):
        fit_mixtures([np.arange(20.0), np.arange(3.0)], [5, 5], [0, 0], WEIGHT_CONCENTRATION_PRIOR, 10)
