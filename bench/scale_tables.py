"""Seeded, generated tables for the scale benchmark (no real table of 10,000 or 54,000 labelled rows ships
inside an installed package here; the largest, statsmodels' randhie, has 20,190 rows and no natural class).

Both are generated, not real: realistic types (skewed amounts, integer ages and counts, a category with
hundreds of Zipf-distributed levels, booleans, missing values that depend on other columns) and a label drawn
from a latent score of the features, so a classifier can learn it and the minority classes are rare.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def credit_table(n_rows: int = 10_000, positive_rate: float = 0.03, seed: int = 0) -> pd.DataFrame:
    """A credit-default-like table: 5 feature columns, a binary ``default`` label with ``positive_rate``."""
    rng = np.random.default_rng(seed)
    age = rng.integers(19, 80, n_rows)
    income = np.round(rng.lognormal(10.3, 0.5, n_rows), -1)
    amount = np.round(rng.lognormal(8.5, 0.9, n_rows), 2)
    tenure = rng.poisson(4 + age / 12.0)
    purpose = rng.choice(["car", "home", "education", "business", "medical", "other"], n_rows,
                         p=[0.3, 0.25, 0.12, 0.13, 0.1, 0.1])
    score = (1.2 * np.log(amount / income * 12) - 0.03 * (age - 45) - 0.08 * tenure
             + np.select([purpose == "business", purpose == "medical"], [0.8, 0.5], 0.0) + rng.normal(0, 1.0, n_rows))
    default = (score >= np.quantile(score, 1 - positive_rate)).astype(int)
    return pd.DataFrame({"age": age, "income": income, "amount": amount, "tenure": tenure, "purpose": purpose,
                         "default": default})


def mixed_table(n_rows: int = 54_000, seed: int = 0, n_regions: int = 300) -> pd.DataFrame:
    """A 10-feature mixed table with 5 imbalanced classes (about 70/15/8/5/2 %): 6 numeric columns (two with
    missing values), a 300-level Zipf category (``region``), two small categories and a boolean."""
    rng = np.random.default_rng(seed)
    ranks = np.arange(1, n_regions + 1)
    region_p = 1.0 / ranks ** 1.1
    region = rng.choice([f"r{i:03d}" for i in ranks], n_rows, p=region_p / region_p.sum())
    region_effect = dict(zip([f"r{i:03d}" for i in ranks], rng.normal(0, 0.6, n_regions)))
    channel = rng.choice(["web", "store", "phone", "partner"], n_rows, p=[0.5, 0.3, 0.15, 0.05])
    plan = rng.choice(["basic", "plus", "premium"], n_rows, p=[0.6, 0.3, 0.1])
    member = rng.random(n_rows) < 0.35
    age = rng.integers(18, 90, n_rows).astype(float)
    spend = np.round(rng.lognormal(4.0 + 0.4 * (plan == "premium"), 0.8), 2)
    visits = rng.poisson(3 + 2 * member).astype(float)
    latency = rng.gamma(2.0, 40.0, n_rows)
    balance = rng.normal(1000, 400, n_rows) + 300 * member
    rating = np.clip(np.round(rng.normal(3.5, 1.0, n_rows), 1), 1, 5)
    latent = np.column_stack([
        0.02 * (age - 50) + 0.5 * np.log(spend) + 0.3 * member,
        -0.01 * latency + 0.4 * (channel == "phone") + 0.002 * balance,
        0.3 * visits - 0.5 * rating + np.vectorize(region_effect.get)(region),
        0.6 * (plan == "premium") + 0.01 * latency - 0.3 * np.log(spend),
    ]) + rng.normal(0, 0.7, (n_rows, 4))
    best = latent.argmax(axis=1) + 1
    margin = latent.max(axis=1) - np.median(latent, axis=1)
    # class 0 is the majority; the rows with the widest margins go to classes 1..4, rarer for higher codes
    share = np.array([0.15, 0.08, 0.05, 0.02])
    label = np.zeros(n_rows, dtype=int)
    for cls in range(1, 5):
        rows = np.flatnonzero(best == cls)
        keep = rows[np.argsort(-margin[rows])][: int(share[cls - 1] * n_rows)]
        label[keep] = cls
    # missing values that depend on other columns: latency missing for store visits, rating for non-members
    latency[(channel == "store") & (rng.random(n_rows) < 0.6)] = np.nan
    rating[(~member) & (rng.random(n_rows) < 0.2)] = np.nan
    return pd.DataFrame({"age": age, "spend": spend, "visits": visits, "latency": latency, "balance": balance,
                         "rating": rating, "region": region, "channel": channel, "plan": plan, "member": member,
                         "segment": label})
