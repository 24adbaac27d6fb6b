"""The privacy baseline: class-mix weights, its quantile, and how far a small baseline widens the allowance."""

import numpy as np
import pytest

from quality.checks.privacy import MAX_WIDENING, class_mix_weights, close_fraction_allowance, weighted_quantile


@pytest.mark.parametrize("minority_rows", [20, 40, 60, 100])
def test_the_quantile_of_a_class_mixed_baseline_is_the_rank_the_allowance_assumes(minority_rows):
    """Float sums of the weights used to land the quantile one rank off whenever 5% of the rows was a whole
    number, so the allowance assumed another rank than the threshold used."""
    labels = np.r_[np.ones(minority_rows), np.zeros(30)]
    weights = class_mix_weights(labels, np.ones(195))
    distances = np.r_[np.arange(1.0, minority_rows + 1), np.full(30, 1e9)]
    assert weighted_quantile(distances, weights, 0.05) == 0.05 * minority_rows


def test_a_small_baseline_widens_the_allowance_but_never_past_its_cap():
    assert close_fraction_allowance(195, np.ones(8), 0.05, 0.1) == pytest.approx(MAX_WIDENING * 0.1)
    widened = close_fraction_allowance(195, np.ones(42), 0.05, 0.1)
    assert 0.1 < widened < MAX_WIDENING * 0.1
    assert close_fraction_allowance(195, np.ones(5000), 0.05, 0.1) == 0.1
    assert close_fraction_allowance(195, np.ones(8), 0.05, 0.04) == pytest.approx(MAX_WIDENING * 0.04)
