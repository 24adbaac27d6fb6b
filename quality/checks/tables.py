"""Quality checks of synthetic table rows against the real train split: validity, fidelity, diversity, privacy.

Every threshold, scaler and encoder is derived from ``train`` only; ``validation`` is used only as
the privacy baseline. Synthetic rows are usually class-balancing rows (mostly minority classes),
so fidelity, spread and the privacy baseline compare like with like: class by class, or with the
real side reweighted to the synthetic class mix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple, Optional

import numpy as np
import pandas as pd

from quality.data.artifacts import PROVENANCE_COLUMNS
from quality.checks.privacy_baseline import class_mix_weights, close_fraction_allowance, weighted_quantile
from quality.checks.gx_suite import expectation_suite_spec, is_numeric_column, run_suite
from quality.checks.result import CheckResult

MISSING = "__missing__"
C2ST_MIN_ROWS_PER_SIDE = 10
C2ST_FOLDS = 5
C2ST_TREES = 100
WORST_COLUMNS_REPORTED = 3
MAX_PROBLEMS_LISTED = 5
# A synthetic row copies a train row when its values match to this relative precision: a memorised row comes
# back through the GAN's float32 decoding with its last digits changed, so bit equality would miss it.
COPY_RELATIVE_TOLERANCE = 1e-5
# Synthetic rows closer to another of their class than this share of the real class's median
# nearest-neighbour distance are near-duplicates. Small enough that rows varying along a single
# continuous column fall that close only about 0.7% of the time.
NEAR_DUPLICATE_SHARE = 0.01
# A class collapsed onto a few points plus noise, or onto a line or plane, keeps its spread and has no
# near-duplicates, but its synthetic rows lie much closer together than real rows of the class: their median
# nearest-neighbour distance (in the same groups as near-duplicates) must be at least this share of a lower
# confidence bound of the real class's median one. The bound holds with this confidence whatever the class's
# shape; without it, 20 real rows of a one- or two-column class fix that median too loosely (a plain floor of half
# the median failed up to a fifth of fresh draws of such classes). On breast_cancer and wine, fresh real rows
# score 0.86 and above and the TabularGAN's rows 1.6 and above; collapses onto one or two train rows plus 0.2
# standard deviations of noise, or onto a single direction, 0.58 and below.
MIN_NEIGHBOUR_RATIO = 0.6
NEIGHBOUR_BOUND_CONFIDENCE = 0.99
# Family-wise level of the one-sided tests that a class's synthetic rows miss values of a column more often than
# its real rows (Bonferroni over the column/class pairs): a generator that learned blanks where a class has none
# fails, while a class of 20 real rows is not held to rates it cannot pin down.
MISSING_RATE_TEST_LEVEL = 0.01
# ... and by at least this many percentage points: with thousands of rows a class's synthetic rows missing 11% of a
# column against 10% of its real rows is "significant", yet no defect worth blocking a publication for.
MISSING_RATE_TOLERANCE = 0.02


@dataclass(frozen=True)
class TrainEncoding:
    """A numeric encoding fitted on train: numeric columns standardised (missing -> the train mean,
    plus a missing flag where train has missing values), categorical columns one-hot over the train
    categories (missing is a category of its own; unseen values encode as all zeros)."""

    numeric: list[str]
    means: np.ndarray
    scales: np.ndarray
    flagged_missing: list[str]
    categories: dict[str, list[str]]

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        values = _numeric_values(frame, self.numeric)
        standardised = np.nan_to_num((values - self.means) / self.scales, nan=0.0, posinf=0.0, neginf=0.0)
        blocks = [standardised, frame[self.flagged_missing].isna().to_numpy(dtype=float)]
        for name, categories in self.categories.items():
            codes = pd.Categorical(_category_strings(frame[name]), categories=categories).codes
            blocks.append((codes[:, None] == np.arange(len(categories))[None, :]).astype(float))
        return np.hstack(blocks)


def fit_train_encoding(train: pd.DataFrame, columns: list[str]) -> TrainEncoding:
    """Fit :class:`TrainEncoding` on the given columns of the real train split."""
    numeric = [name for name in columns if is_numeric_column(train[name])]
    categorical = [name for name in columns if name not in numeric]
    values = _numeric_values(train, numeric)
    with np.errstate(all="ignore"):
        means = np.nan_to_num(np.nanmean(values, axis=0)) if numeric else np.empty(0)
        scales = np.nanstd(values, axis=0) if numeric else np.empty(0)
    scales = np.where(np.isfinite(scales) & (scales > 0), scales, 1.0)
    return TrainEncoding(
        numeric=numeric,
        means=means,
        scales=scales,
        flagged_missing=[name for name in numeric if train[name].isna().any()],
        categories={name: sorted(_category_strings(train[name]).unique().tolist()) for name in categorical},
    )


def validity_check(
    train: pd.DataFrame, synthetic: pd.DataFrame, label_column: str, range_margin: float = 0.0
) -> CheckResult:
    """Blocking: synthetic rows meet the GX suite derived from train, carry only train labels and no infinities,
    and no class's synthetic rows miss a column's values significantly more often than its real train rows.

    ``range_margin`` widens the numeric ranges (see :func:`quality.gx_suite.expectation_suite_spec`).
    """
    _require_label(train, label_column)
    synthetic = synthetic.drop(columns=[c for c in PROVENANCE_COLUMNS if c in synthetic and c not in train])
    threshold = {"unknown_labels": 0, "infinite_values": 0, "failed_expectations": 0, "excess_missing_rates": 0,
                 "missing_rate_test_level": MISSING_RATE_TEST_LEVEL,
                 "missing_rate_tolerance": MISSING_RATE_TOLERANCE}
    if synthetic.empty:
        return CheckResult(
            "validity", False, True, {"n_rows": 0}, threshold,
            "the synthetic frame has no rows: nothing was generated, so nothing can be published",
        )
    problems = []
    unknown = _unknown_labels(train, synthetic, label_column)
    if unknown:
        known = _ordered(train[label_column].dropna().unique().tolist())
        problems.append(f"label(s) {unknown} in column {label_column!r} are not among the train labels {known}")
    infinite = _infinite_counts(synthetic)
    if infinite:
        problems.append("infinite values in " + ", ".join(f"{name!r} ({count})" for name, count in infinite.items()))

    excess_missing = _excess_missing_rates(train, synthetic, label_column)
    problems.extend(excess_missing)
    suite = run_suite(expectation_suite_spec(train, range_margin), synthetic, suite_name="synthetic_validity")
    failed = [entry for entry in suite["expectations"] if not entry["success"]]
    problems.extend(_describe_failed_expectation(entry) for entry in failed)
    metrics = {
        "n_rows": int(len(synthetic)),
        "unknown_labels": len(unknown),
        "infinite_values": int(sum(infinite.values())),
        "n_expectations": suite["n_expectations"],
        "failed_expectations": len(failed),
        "excess_missing_rates": len(excess_missing),
        "failed_columns": ", ".join(sorted({str(entry["column"]) for entry in failed if entry["column"]})),
    }
    passed = not problems
    if passed:
        details = f"all {suite['n_expectations']} train-derived expectations hold on {len(synthetic)} synthetic rows"
    else:
        shown = problems[:MAX_PROBLEMS_LISTED]
        more = f"; and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
        details = "invalid synthetic rows: " + "; ".join(shown) + more
    return CheckResult("validity", passed, True, metrics, threshold, details)


def fidelity_check(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    label_column: str,
    seed: int = 0,
    max_c2st_auc: float = 0.9,
    min_class_rows: int = 20,
) -> CheckResult:
    """Reported, not blocking: how hard synthetic rows are to tell from real ones, class by class.

    A random forest two-sample test (cross-validated AUC, 0.5 = indistinguishable) on class-matched
    samples (per class, the larger side is subsampled to the smaller), per class for classes with
    ``min_class_rows`` rows on both sides, and per column KS (numeric) / total variation
    (categorical) and the numeric correlation gap, each averaged over classes weighted by the
    synthetic class share.
    """
    columns = _train_columns(train, label_column, synthetic=synthetic)
    synthetic = synthetic[columns]
    features = [name for name in columns if name != label_column]
    classes, weights = _shared_classes(train, synthetic, label_column)
    threshold = {"max_c2st_auc": max_c2st_auc}
    if not classes:
        details = "no class occurs in both the train split and the synthetic rows"
        return CheckResult("fidelity", False, False, {}, threshold, details)

    encoding = fit_train_encoding(train, features)
    pairs = {
        cls: (train[train[label_column] == cls], synthetic[synthetic[label_column] == cls]) for cls in classes
    }
    overall_auc, class_auc = _class_matched_c2st(pairs, encoding, seed, min_class_rows)
    agreement = _label_agreement(train, synthetic, label_column, encoding)
    column_distance, correlation_gap = _marginal_gaps(pairs, weights, encoding)
    worst = sorted(column_distance, key=column_distance.get, reverse=True)[:WORST_COLUMNS_REPORTED]
    worst_columns = ", ".join(
        f"{name} ({'KS' if name in encoding.numeric else 'TV'} {column_distance[name]:.2f})" for name in worst
    )

    aucs = {"all classes": overall_auc, **{f"class {cls!r}": auc for cls, auc in class_auc.items()}}
    too_distinct = [f"{where} (AUC {auc:.2f})" for where, auc in aucs.items() if auc is not None and auc > max_c2st_auc]
    metrics = {
        "c2st_auc": overall_auc,
        **{f"c2st_auc_class_{cls}": auc for cls, auc in class_auc.items()},
        "max_column_distance": max(column_distance.values(), default=0.0),
        "worst_columns": worst_columns,
        "correlation_gap": correlation_gap,
        "label_agreement": agreement,
        "classes_compared": ", ".join(str(cls) for cls in classes),
    }
    if overall_auc is None:
        summary = "too few class-matched rows for a two-sample test"
    else:
        summary = f"a classifier tells synthetic from real train rows with AUC {overall_auc:.2f} (0.5: cannot)"
    if too_distinct:
        verdict = f"too distinguishable: {', '.join(too_distinct)} > {max_c2st_auc}"
    else:
        verdict = f"within {max_c2st_auc}"
    details = (
        f"{summary}, {verdict}; least faithful columns: {worst_columns or 'none'}; "
        f"correlation gap {correlation_gap:.3f}; a classifier fitted on real train rows agrees with "
        f"{agreement:.0%} of the synthetic labels"
    )
    return CheckResult("fidelity", not too_distinct, False, metrics, threshold, details)


def diversity_check(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    label_column: str,
    max_duplicate_rate: float = 0.05,
    min_spread_ratio: float = 0.5,
) -> CheckResult:
    """Blocking: fails on mode collapse.

    The duplicate rate of the synthetic rows, and in each class their near-duplicate rate, must stay at most
    ``max_duplicate_rate`` (or the real rows' own rate, if higher: discrete tables repeat rows naturally), and
    in each class the synthetic spread (mean per-feature standard deviation in the train-standardised space)
    must be at least ``min_spread_ratio`` of the real class's spread. A near-duplicate lies closer to another
    synthetic row of its class than ``NEAR_DUPLICATE_SHARE`` of the real class's median nearest-neighbour
    distance; it is looked for within random groups of at most as many synthetic rows as the class has real
    ones, since more rows sit closer together. Spread alone misses a class collapsed onto a few far-apart
    points. In the same groups, the median nearest-neighbour distance of a class's synthetic rows must be at
    least ``MIN_NEIGHBOUR_RATIO`` of the real class's median one (of its ``NEIGHBOUR_BOUND_CONFIDENCE`` lower
    bound, see :func:`_median_lower_bound`): this fails a class collapsed onto a few points plus small noise,
    or onto a line, which neither spread nor near-duplicates catch. Classes of too few real rows to bound
    that median (six or fewer) are not judged by it.
    """
    columns = _train_columns(train, label_column, synthetic=synthetic)
    synthetic = synthetic[columns]
    features = [name for name in columns if name != label_column]
    encoding = fit_train_encoding(train, features)
    duplicate_rate = _duplicate_rate(synthetic, columns, encoding.numeric)
    train_duplicate_rate = _duplicate_rate(train, columns, encoding.numeric)
    allowed_duplicate_rate = max(max_duplicate_rate, train_duplicate_rate)

    spread_ratio, skipped = {}, []
    near_duplicates, crowded = [], []
    neighbour_ratio, huddled, unbounded = {}, [], []
    for cls in _ordered(synthetic[label_column].dropna().unique().tolist()):
        real_rows = encoding.transform(train[train[label_column] == cls])
        synthetic_rows = encoding.transform(synthetic[synthetic[label_column] == cls])
        if len(real_rows) >= 2 and len(synthetic_rows) >= 2:
            gaps = _neighbour_gaps(real_rows, synthetic_rows)
            near_duplicates.append((gaps.near_duplicate_rate, len(synthetic_rows)))
            allowed = max(max_duplicate_rate, gaps.real_near_duplicate_rate)
            if gaps.near_duplicate_rate > allowed:
                crowded.append(f"{cls!r} ({gaps.near_duplicate_rate:.1%}, allowed {allowed:.1%})")
            if gaps.real_median_bound == 0:
                unbounded.append(cls)
            else:
                neighbour_ratio[cls] = gaps.synthetic_median / gaps.real_median_bound
                if neighbour_ratio[cls] < MIN_NEIGHBOUR_RATIO:
                    huddled.append(
                        f"{cls!r} (median {gaps.synthetic_median:.3g}, {neighbour_ratio[cls]:.2f} of the bound "
                        f"{gaps.real_median_bound:.3g}; real median {gaps.real_median:.3g})"
                    )
        real_spread = _spread(real_rows)
        if len(synthetic_rows) < 2 or len(real_rows) < 2 or real_spread == 0:
            skipped.append(cls)
            continue
        spread_ratio[cls] = _spread(synthetic_rows) / real_spread

    rows_judged = sum(n for _, n in near_duplicates)
    near_duplicate_rate = sum(rate * n for rate, n in near_duplicates) / rows_judged if rows_judged else 0.0
    collapsed = [cls for cls, ratio in spread_ratio.items() if ratio < min_spread_ratio]
    problems = []
    if duplicate_rate > allowed_duplicate_rate:
        problems.append(f"{duplicate_rate:.1%} of synthetic rows are duplicates (allowed {allowed_duplicate_rate:.1%})")
    if crowded:
        problems.append("near-duplicates of another synthetic row of their class in class(es) " + ", ".join(crowded))
    if collapsed:
        problems.append(
            "collapsed class(es): "
            + ", ".join(f"{cls!r} (spread {spread_ratio[cls]:.2f} of real)" for cls in collapsed)
        )
    if huddled:
        problems.append(
            f"synthetic rows' median nearest-neighbour distance below {MIN_NEIGHBOUR_RATIO} of the real rows' "
            f"({NEIGHBOUR_BOUND_CONFIDENCE:.0%} lower bound of their median) in class(es) " + ", ".join(huddled)
        )
    metrics = {
        "duplicate_rate": duplicate_rate,
        "train_duplicate_rate": train_duplicate_rate,
        "near_duplicate_rate": near_duplicate_rate,
        "min_spread_ratio": min(spread_ratio.values()) if spread_ratio else None,
        **{f"spread_ratio_class_{cls}": ratio for cls, ratio in spread_ratio.items()},
        "min_neighbour_ratio": min(neighbour_ratio.values()) if neighbour_ratio else None,
        **{f"neighbour_ratio_class_{cls}": ratio for cls, ratio in neighbour_ratio.items()},
    }
    threshold = {"max_duplicate_rate": allowed_duplicate_rate, "min_spread_ratio": min_spread_ratio,
                 "min_neighbour_ratio": MIN_NEIGHBOUR_RATIO}
    per_class = ", ".join(f"{cls!r} {ratio:.2f}" for cls, ratio in spread_ratio.items()) or "none measurable"
    neighbours = ", ".join(f"{cls!r} {ratio:.2f}" for cls, ratio in neighbour_ratio.items()) or "none measurable"
    note = f"; too few rows to judge class(es) {skipped}" if skipped else ""
    if unbounded:
        note += f"; nearest-neighbour distances not judged in class(es) {unbounded} (too few distinct real rows)"
    if problems:
        details = "mode collapse: " + "; ".join(problems) + note
    else:
        details = (
            f"duplicate rate {duplicate_rate:.1%} (allowed {allowed_duplicate_rate:.1%}); near-duplicate rate "
            f"{near_duplicate_rate:.1%} (allowed per class: {max_duplicate_rate:.0%} or the real class's own rate); "
            f"synthetic/real spread per class: "
            f"{per_class} (min {min_spread_ratio}); synthetic/real nearest-neighbour distance per class: "
            f"{neighbours} (min {MIN_NEIGHBOUR_RATIO}){note}"
        )
    return CheckResult("diversity", not problems, True, metrics, threshold, details)


def privacy_check(
    train: pd.DataFrame,
    validation: pd.DataFrame,
    synthetic: pd.DataFrame,
    label_column: str,
    quantile: float = 0.05,
    max_close_fraction: float = 0.1,
) -> CheckResult:
    """Blocking: synthetic rows must not copy or hug real train records.

    Copies of a train row's features must be zero: every value equal to the closest train record's, numbers
    to ``COPY_RELATIVE_TOLERANCE``. Each synthetic row's distance to the closest train record (DCR, in the
    train-standardised space, label excluded) is compared with the validation->train DCRs: at most
    ``max_close_fraction`` of synthetic rows may lie closer than the baseline's ``quantile``. The baseline
    is reweighted to the synthetic class mix, since a class's rows sit closer together when it has more of
    them. A baseline of a few dozen rows fixes that quantile only roughly, so the allowance is raised
    towards what rows as far from train as unseen real rows would exceed by chance
    (:func:`quality.baselines.close_fraction_allowance`).
    """
    if not 0 < quantile < 1:
        raise ValueError(f"quantile must lie in (0, 1), got {quantile}")
    columns = _train_columns(train, label_column, synthetic=synthetic, validation=validation)
    synthetic, validation = synthetic[columns], validation[columns]
    features = [name for name in columns if name != label_column]
    if validation.empty:
        raise ValueError("validation is empty: the privacy check needs real rows outside train as its baseline")
    threshold = {"exact_copies": 0, "max_close_fraction": max_close_fraction, "quantile": quantile}
    if synthetic.empty:
        return CheckResult("privacy", True, True, {"n_synthetic": 0}, threshold, "no synthetic rows: nothing can leak")

    encoding = fit_train_encoding(train, features)
    (synthetic_dcr, nearest), (validation_dcr, validation_nearest) = _closest_train_rows(
        encoding, train, synthetic, validation
    )
    exact_copies = int(_copies(synthetic, train.iloc[nearest], encoding).sum())
    validation_copy_rate = float(_copies(validation, train.iloc[validation_nearest], encoding).mean())
    weights = class_mix_weights(validation[label_column], synthetic[label_column])
    dcr_threshold = weighted_quantile(validation_dcr, weights, quantile)
    close_fraction = float(np.mean(synthetic_dcr < dcr_threshold))
    max_close_fraction = close_fraction_allowance(len(synthetic), weights, quantile, max_close_fraction)
    threshold["max_close_fraction"] = max_close_fraction

    metrics = {
        "n_synthetic": int(len(synthetic)),
        "exact_copies": exact_copies,
        "validation_copy_rate": validation_copy_rate,
        "close_fraction": close_fraction,
        "dcr_threshold": dcr_threshold,
        "median_dcr_synthetic": float(np.median(synthetic_dcr)),
        "median_dcr_validation": float(np.median(validation_dcr)),
    }
    problems = []
    if exact_copies:
        context = (f" (so do {validation_copy_rate:.0%} of the real validation rows: on a table this discrete, "
                   "rows that repeat a train record cannot be told apart from copies)") if validation_copy_rate else ""
        problems.append(f"{exact_copies} synthetic row(s) copy a real train record{context}")
    if close_fraction > max_close_fraction:
        problems.append(
            f"{close_fraction:.1%} of synthetic rows lie closer to a train record than the {quantile:.0%} quantile "
            f"of real validation rows ({dcr_threshold:.3f}); at most {max_close_fraction:.0%} may"
        )
    medians = (
        f"median DCR synthetic {metrics['median_dcr_synthetic']:.3f} "
        f"vs validation {metrics['median_dcr_validation']:.3f}"
    )
    if problems:
        details = "too close to real records: " + "; ".join(problems) + f" ({medians})"
    else:
        details = (
            f"no exact copies; {close_fraction:.1%} of synthetic rows closer than the baseline's "
            f"{quantile:.0%} quantile (at most {max_close_fraction:.0%}); {medians}"
        )
    return CheckResult("privacy", not problems, True, metrics, threshold, details)


# --- inputs -----------------------------------------------------------------------------------------


def _require_label(train: pd.DataFrame, label_column: str) -> None:
    if label_column not in train:
        raise ValueError(f"label_column {label_column!r} is not a column of train; columns: {list(train.columns)}")


def _train_columns(train: pd.DataFrame, label_column: str, **frames: pd.DataFrame) -> list[str]:
    """The train columns, checked to exist in every other frame (extra columns are ignored)."""
    _require_label(train, label_column)
    for name, frame in frames.items():
        missing = [column for column in train.columns if column not in frame]
        if missing:
            raise ValueError(f"{name} lacks train column(s) {missing}; every frame must carry the train columns")
    return list(train.columns)


def _ordered(values: list) -> list:
    return sorted(values, key=lambda value: (str(type(value)), value))


def _category_strings(column: pd.Series) -> pd.Series:
    """Categorical values as strings, missing as a category of its own (deterministic, dtype-agnostic)."""
    return column.astype(object).where(column.notna(), MISSING).astype(str)


def _row_keys(frame: pd.DataFrame, columns: list[str], numeric: list[str]) -> np.ndarray:
    """One hash per row, equal for rows with equal values whatever the column dtypes (int 1 == float 1.0);
    ``numeric`` names the columns that are numeric in train."""
    normalised = pd.DataFrame(
        {
            name: pd.to_numeric(frame[name], errors="coerce").astype(float) + 0.0 if name in numeric  # -0.0 is 0.0
            else _category_strings(frame[name])
            for name in columns
        },
        index=frame.index,
    )
    return pd.util.hash_pandas_object(normalised, index=False).to_numpy()


def _duplicate_rate(frame: pd.DataFrame, columns: list[str], numeric: list[str]) -> float:
    if frame.empty:
        return 0.0
    return float(pd.Series(_row_keys(frame, columns, numeric)).duplicated().mean())


def _numeric_values(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    if not columns:
        return np.empty((len(frame), 0))
    try:
        return frame[columns].to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError):
        wrong = [name for name in columns if not is_numeric_column(frame[name])]
        raise ValueError(
            f"column(s) {wrong} are numeric in train but hold non-numeric values here; run the validity check first"
        ) from None


def _unknown_labels(train: pd.DataFrame, synthetic: pd.DataFrame, label_column: str) -> list:
    if label_column not in synthetic:
        return []
    known = set(train[label_column].dropna().tolist())
    return _ordered([label for label in synthetic[label_column].dropna().unique().tolist() if label not in known])


def _excess_missing_rates(train: pd.DataFrame, synthetic: pd.DataFrame, label_column: str) -> list[str]:
    """Column/class pairs whose synthetic rows are missing values significantly more often than the class's real
    rows (one-sided Fisher exact tests, Bonferroni at ``MISSING_RATE_TEST_LEVEL``), and more often by over
    ``MISSING_RATE_TOLERANCE``, described for the user."""
    from scipy.stats import fisher_exact

    features = [name for name in train.columns if name != label_column and name in synthetic]
    pairs = []
    for cls in _ordered(synthetic[label_column].dropna().unique().tolist()):
        real = train.loc[train[label_column] == cls, features].isna()
        fake = synthetic.loc[synthetic[label_column] == cls, features].isna()
        if len(real) and len(fake):
            pairs.extend((name, cls, int(real[name].sum()), len(real), int(fake[name].sum()), len(fake))
                         for name in features)
    found = []
    for name, cls, real_missing, n_real, fake_missing, n_fake in pairs:
        if fake_missing / n_fake <= real_missing / n_real + MISSING_RATE_TOLERANCE:
            continue
        table = [[fake_missing, n_fake - fake_missing], [real_missing, n_real - real_missing]]
        if fisher_exact(table, alternative="greater").pvalue < MISSING_RATE_TEST_LEVEL / len(pairs):
            found.append(f"column {name!r} is missing in {fake_missing / n_fake:.0%} of the synthetic rows of class "
                         f"{cls!r}, against {real_missing} of its {n_real} real train rows")
    return found


def _infinite_counts(frame: pd.DataFrame) -> dict[str, int]:
    numeric = [name for name in frame.columns if is_numeric_column(frame[name])]
    counts = np.isinf(_numeric_values(frame, numeric)).sum(axis=0)
    return {name: int(count) for name, count in zip(numeric, counts) if count}


# --- fidelity ---------------------------------------------------------------------------------------


def _shared_classes(train: pd.DataFrame, synthetic: pd.DataFrame, label_column: str) -> tuple[list, list[float]]:
    """Classes in both frames, with each one's share of the synthetic rows among them."""
    synthetic_counts = synthetic[label_column].value_counts()
    known = set(train[label_column].dropna().tolist())
    classes = _ordered([cls for cls in synthetic_counts.index.tolist() if cls in known])
    total = float(sum(synthetic_counts[cls] for cls in classes))
    return classes, [float(synthetic_counts[cls]) / total for cls in classes]


def _class_matched_c2st(
    pairs: dict, encoding: TrainEncoding, seed: int, min_class_rows: int
) -> tuple[Optional[float], dict]:
    """The two-sample AUC on every class pooled (each class balanced by subsampling), and per class
    for classes with at least ``min_class_rows`` rows on both sides."""
    rng = np.random.default_rng(seed)
    real_parts, synthetic_parts, class_auc = [], [], {}
    for cls, (real, synthetic) in pairs.items():
        real_rows, synthetic_rows = _balance_by_subsampling(
            encoding.transform(real), encoding.transform(synthetic), rng
        )
        real_parts.append(real_rows)
        synthetic_parts.append(synthetic_rows)
        if len(real_rows) >= min_class_rows:
            class_auc[cls] = _c2st_auc(real_rows, synthetic_rows, seed)
    return _c2st_auc(np.vstack(real_parts), np.vstack(synthetic_parts), seed), class_auc


def _label_agreement(
    train: pd.DataFrame, synthetic: pd.DataFrame, label_column: str, encoding: TrainEncoding
) -> float:
    """Share of synthetic rows whose label a logistic regression fitted on real train rows predicts
    ("train on real, test on synthetic"). Rows that do not look like their class score low here
    even when every other fidelity figure looks fine."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(max_iter=2000).fit(encoding.transform(train), train[label_column].astype(str))
    predicted = model.predict(encoding.transform(synthetic))
    return float(np.mean(predicted == synthetic[label_column].astype(str).to_numpy()))


def _marginal_gaps(pairs: dict, weights: list[float], encoding: TrainEncoding) -> tuple[dict[str, float], float]:
    """Per-column KS/TV distance and the correlation gap, each averaged over classes by ``weights``."""
    features = encoding.numeric + list(encoding.categories)
    column_distance = {name: 0.0 for name in features}
    correlation_gap = 0.0
    for (real, synthetic), weight in zip(pairs.values(), weights):
        for name in features:
            column_distance[name] += weight * _column_distance(real[name], synthetic[name], encoding)
        correlation_gap += weight * _correlation_gap(real[encoding.numeric], synthetic[encoding.numeric])
    return column_distance, correlation_gap


def _balance_by_subsampling(
    real_rows: np.ndarray, synthetic_rows: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    size = min(len(real_rows), len(synthetic_rows))
    real_keep = np.sort(rng.choice(len(real_rows), size=size, replace=False))
    synthetic_keep = np.sort(rng.choice(len(synthetic_rows), size=size, replace=False))
    return real_rows[real_keep], synthetic_rows[synthetic_keep]


def _c2st_auc(real_rows: np.ndarray, synthetic_rows: np.ndarray, seed: int) -> Optional[float]:
    """Cross-validated AUC of a random forest telling the two equal-sized samples apart (None if too few)."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    if len(real_rows) < C2ST_MIN_ROWS_PER_SIDE:
        return None
    features = np.vstack([real_rows, synthetic_rows])
    is_synthetic = np.r_[np.zeros(len(real_rows)), np.ones(len(synthetic_rows))]
    forest = RandomForestClassifier(n_estimators=C2ST_TREES, min_samples_leaf=2, n_jobs=1, random_state=seed)
    folds = StratifiedKFold(n_splits=min(C2ST_FOLDS, len(real_rows)), shuffle=True, random_state=seed)
    scores = cross_val_predict(forest, features, is_synthetic, cv=folds, method="predict_proba")[:, 1]
    return float(roc_auc_score(is_synthetic, scores))


def _column_distance(real: pd.Series, synthetic: pd.Series, encoding: TrainEncoding) -> float:
    """KS statistic for a numeric column, total-variation distance for a categorical one."""
    from scipy.stats import ks_2samp

    if real.name in encoding.numeric:
        real_values = real.to_numpy(dtype=float, na_value=np.nan)
        synthetic_values = synthetic.to_numpy(dtype=float, na_value=np.nan)
        real_values = real_values[np.isfinite(real_values)]
        synthetic_values = synthetic_values[np.isfinite(synthetic_values)]
        if not len(real_values) or not len(synthetic_values):
            return 0.0
        return float(ks_2samp(real_values, synthetic_values).statistic)
    real_share = _category_strings(real).value_counts(normalize=True)
    synthetic_share = _category_strings(synthetic).value_counts(normalize=True)
    return float(0.5 * real_share.sub(synthetic_share, fill_value=0.0).abs().sum())


def _correlation_gap(real: pd.DataFrame, synthetic: pd.DataFrame) -> float:
    """Mean absolute difference between the numeric correlation matrices (upper triangle)."""
    if real.shape[1] < 2 or len(real) < 3 or len(synthetic) < 3:
        return 0.0
    upper = np.triu_indices(real.shape[1], k=1)
    gap = np.abs(real.astype(float).corr().to_numpy()[upper] - synthetic.astype(float).corr().to_numpy()[upper])
    return float(np.nanmean(gap)) if np.isfinite(gap).any() else 0.0


# --- diversity and privacy --------------------------------------------------------------------------


def _spread(rows: np.ndarray) -> float:
    if len(rows) < 2:
        return 0.0
    return float(np.mean(np.std(rows, axis=0, ddof=1)))


def _neighbour_distances(rows: np.ndarray) -> np.ndarray:
    """Each row's distance to its nearest other row (at least two rows)."""
    from sklearn.neighbors import NearestNeighbors

    return NearestNeighbors(n_neighbors=2).fit(rows).kneighbors(rows)[0][:, 1]


class NeighbourGaps(NamedTuple):
    """Nearest-neighbour figures of one class's synthetic rows against its real train rows."""

    near_duplicate_rate: float  # synthetic rows within NEAR_DUPLICATE_SHARE of the real median of another
    real_near_duplicate_rate: float  # real rows as close to another real row
    synthetic_median: float  # median distance to the nearest synthetic row of the same group
    real_median: float
    real_median_bound: float  # NEIGHBOUR_BOUND_CONFIDENCE lower bound of real_median; 0 when too few rows


def _neighbour_gaps(real_rows: np.ndarray, synthetic_rows: np.ndarray) -> NeighbourGaps:
    """Synthetic rows are grouped in at most as many rows as the class has real ones: more rows sit closer."""
    real_distances = _neighbour_distances(real_rows)
    real_median = float(np.median(real_distances))
    radius = NEAR_DUPLICATE_SHARE * real_median
    synthetic_distances = _grouped_neighbour_distances(synthetic_rows, len(real_rows))
    return NeighbourGaps(
        near_duplicate_rate=float(np.mean(synthetic_distances < radius)),
        real_near_duplicate_rate=float(np.mean(real_distances < radius)),
        synthetic_median=float(np.median(synthetic_distances)),
        real_median=real_median,
        real_median_bound=_median_lower_bound(real_distances, 1 - NEIGHBOUR_BOUND_CONFIDENCE),
    )


def _median_lower_bound(values: np.ndarray, alpha: float) -> float:
    """A lower bound of the median of the distribution ``values`` were drawn from, above that median with
    probability at most ``alpha`` whatever the distribution: the k-th smallest value for the largest k with
    P(Binomial(n, 1/2) < k) <= ``alpha`` (it lies above the median only when fewer than k values fall below it).
    0 when no k qualifies (too few values: six or fewer at ``alpha`` 0.01)."""
    from scipy.stats import binom

    ordered = np.sort(values)
    qualifying = int(np.sum(binom.cdf(np.arange(len(ordered)), len(ordered), 0.5) <= alpha))
    return float(ordered[qualifying - 1]) if qualifying else 0.0


def _grouped_neighbour_distances(rows: np.ndarray, group_size: int, seed: int = 0) -> np.ndarray:
    """Nearest-neighbour distances within random groups of at most ``group_size`` rows (at least two each)."""
    if len(rows) < 2:
        return np.empty(0)
    shuffled = rows[np.random.default_rng(seed).permutation(len(rows))]
    n_groups = min(math.ceil(len(rows) / max(group_size, 2)), len(rows) // 2)
    groups = np.array_split(shuffled, n_groups)
    return np.concatenate([_neighbour_distances(group) for group in groups])


def _closest_train_rows(
    encoding: TrainEncoding, train: pd.DataFrame, *queries: pd.DataFrame
) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each query frame: every row's distance to its closest train row, and that row's position."""
    from sklearn.neighbors import NearestNeighbors

    index = NearestNeighbors(n_neighbors=1).fit(encoding.transform(train))
    found = [index.kneighbors(encoding.transform(query)) for query in queries]
    return [(distances[:, 0], positions[:, 0]) for distances, positions in found]


def _copies(synthetic: pd.DataFrame, closest: pd.DataFrame, encoding: TrainEncoding) -> np.ndarray:
    """Per synthetic row: does it hold the same values as its closest train row (``closest``, row for row)?"""
    same = np.ones(len(synthetic), dtype=bool)
    if encoding.numeric:
        ours, theirs = _numeric_values(synthetic, encoding.numeric), _numeric_values(closest, encoding.numeric)
        same &= np.isclose(ours, theirs, rtol=COPY_RELATIVE_TOLERANCE, atol=0.0, equal_nan=True).all(axis=1)
    for name in encoding.categories:
        same &= _category_strings(synthetic[name]).to_numpy() == _category_strings(closest[name]).to_numpy()
    return same


def _describe_failed_expectation(entry: dict) -> str:
    where = f"column {entry['column']!r}" if entry["column"] is not None else "the table"
    what = entry["type"].replace("expect_", "").replace("_", " ")
    if "error" in entry:
        return f"{where}: {what} could not be evaluated ({entry['error']})"
    if "unexpected_count" in entry:
        return f"{where}: {what} failed for {entry['unexpected_count']} row(s), e.g. {entry['unexpected_examples']}"
    return f"{where}: {what} failed (observed {entry.get('observed_value')})"
