"""Validity checks: are the synthetic samples well-formed at all? Blocking for both modalities.

Tables: the Great Expectations suite derived from train, train labels only, no infinities, and no class
missing a column's values significantly more often than its real rows. Images: shape, dtype, pixel range,
no constant or all-identical images, and one valid label per image.
"""

from __future__ import annotations

from typing import Mapping, Optional

import numpy as np
import pandas as pd

from quality.checks.gx_suite import expectation_suite_spec, is_numeric_column, run_suite
from quality.checks.result import CheckResult
from quality.checks.table_encoding import numeric_values, require_label, sorted_labels
from quality.data.artifacts import PROVENANCE_COLUMNS

MAX_PROBLEMS_LISTED = 5
# Family-wise level of the one-sided tests that a class's synthetic rows miss values of a column more often than
# its real rows (Bonferroni over the column/class pairs): a generator that learned blanks where a class has none
# fails, while a class of 20 real rows is not held to rates it cannot pin down.
MISSING_RATE_TEST_LEVEL = 0.01
# ... and by at least this many percentage points: with thousands of rows a class's synthetic rows missing 11% of a
# column against 10% of its real rows is "significant", yet no defect worth blocking a publication for.
MISSING_RATE_TOLERANCE = 0.02


# --- tables -----------------------------------------------------------------------------------------------------------


def validity_check(
    train: pd.DataFrame, synthetic: pd.DataFrame, label_column: str, range_margin: float = 0.0
) -> CheckResult:
    """Blocking: synthetic rows meet the GX suite derived from train, carry only train labels and no infinities,
    and no class's synthetic rows miss a column's values significantly more often than its real train rows.

    ``range_margin`` widens the numeric ranges (see :func:`quality.checks.gx_suite.expectation_suite_spec`).
    """
    require_label(train, label_column)
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
        known = sorted_labels(train[label_column].dropna().unique().tolist())
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


def _unknown_labels(train: pd.DataFrame, synthetic: pd.DataFrame, label_column: str) -> list:
    if label_column not in synthetic:
        return []
    known = set(train[label_column].dropna().tolist())
    return sorted_labels([label for label in synthetic[label_column].dropna().unique().tolist() if label not in known])


def _excess_missing_rates(train: pd.DataFrame, synthetic: pd.DataFrame, label_column: str) -> list[str]:
    """Column/class pairs whose synthetic rows are missing values significantly more often than the class's real
    rows (one-sided Fisher exact tests, Bonferroni at ``MISSING_RATE_TEST_LEVEL``), and more often by over
    ``MISSING_RATE_TOLERANCE``, described for the user."""
    from scipy.stats import fisher_exact

    features = [name for name in train.columns if name != label_column and name in synthetic]
    pairs = []
    for cls in sorted_labels(synthetic[label_column].dropna().unique().tolist()):
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
    counts = np.isinf(numeric_values(frame, numeric)).sum(axis=0)
    return {name: int(count) for name, count in zip(numeric, counts) if count}


def _describe_failed_expectation(entry: dict) -> str:
    where = f"column {entry['column']!r}" if entry["column"] is not None else "the table"
    what = entry["type"].replace("expect_", "").replace("_", " ")
    if "error" in entry:
        return f"{where}: {what} could not be evaluated ({entry['error']})"
    if "unexpected_count" in entry:
        return f"{where}: {what} failed for {entry['unexpected_count']} row(s), e.g. {entry['unexpected_examples']}"
    return f"{where}: {what} failed (observed {entry.get('observed_value')})"


# --- images -----------------------------------------------------------------------------------------------------------


def image_validity_check(
    train_images: np.ndarray,
    synthetic_images: np.ndarray,
    synthetic_labels: np.ndarray,
    n_classes: int,
    expected_counts: Optional[Mapping[int, int]] = None,
) -> CheckResult:
    """Blocking: shape ``(H, W, C)`` equal to train's, uint8 in 0..255, no NaN, no constant image, not all
    images identical, labels one per image within ``0..n_classes-1``.

    ``expected_counts`` (class -> number requested) additionally fails when a class that was asked for
    comes back empty or with a different count.
    """
    images = np.asarray(synthetic_images)
    labels = np.asarray(synthetic_labels)
    expected_shape = tuple(np.shape(train_images)[1:])
    problems: list[str] = []
    metrics: dict = {"n_images": int(len(images)) if images.ndim else 0, "shape": list(images.shape),
                     "dtype": str(images.dtype)}

    if tuple(images.shape[1:]) != expected_shape or images.ndim != 4:
        problems.append(f"images have shape {images.shape}, expected (N, {', '.join(map(str, expected_shape))})")
    problems += _pixel_problems(images, metrics)
    problems += _label_problems(labels, len(images) if images.ndim else 0, n_classes, expected_counts, metrics)
    passed = not problems
    return CheckResult(
        name="image_validity",
        passed=passed,
        blocking=True,
        metrics=metrics,
        threshold={"shape": list(expected_shape), "dtype": "uint8", "range": [0, 255], "n_classes": int(n_classes)},
        details="synthetic images are valid" if passed else "invalid synthetic images: " + "; ".join(problems),
    )


def _pixel_problems(images: np.ndarray, metrics: dict) -> list[str]:
    """dtype, NaN, range, constant images and all-identical images; figures go into ``metrics``."""
    if images.dtype != np.uint8 and (images.dtype == bool or not np.issubdtype(images.dtype, np.number)):
        return [f"images have non-numeric dtype {images.dtype}, expected uint8"]
    problems = [] if images.dtype == np.uint8 else [f"images have dtype {images.dtype}, expected uint8"]
    if not images.size or images.ndim == 0:
        return problems
    values = images.astype(np.float64, copy=False)
    n_nan = int(np.isnan(values).sum())
    finite = values[np.isfinite(values)]
    n_out = int(((finite < 0) | (finite > 255)).sum())
    metrics.update(n_nan_values=n_nan, n_out_of_range_values=n_out)
    if n_nan:
        return problems + [f"{n_nan} NaN pixel value(s)"]
    if n_out:
        problems.append(f"{n_out} pixel value(s) outside 0..255")
    flat = values.reshape(len(images), -1)
    n_constant = int((flat.std(axis=1) == 0).sum())
    metrics["n_constant_images"] = n_constant
    if n_constant:
        problems.append(f"{n_constant} constant image(s) (every pixel the same value)")
    if len(images) > 1 and bool((flat == flat[:1]).all()):
        problems.append(f"all {len(images)} images are identical")
    return problems


def _label_problems(
    labels: np.ndarray, n_images: int, n_classes: int, expected_counts: Optional[Mapping[int, int]], metrics: dict
) -> list[str]:
    if labels.shape != (n_images,):
        return [f"labels have shape {labels.shape}, expected ({n_images},), one per image"]
    if n_images and not np.issubdtype(labels.dtype, np.integer):
        return [f"labels have dtype {labels.dtype}, expected integer class indices"]
    problems = []
    outside = np.unique(labels[(labels < 0) | (labels >= n_classes)])
    if outside.size:
        problems.append(f"label(s) {outside.tolist()} outside the class set 0..{n_classes - 1}")
    counts = np.bincount(labels[(labels >= 0) & (labels < n_classes)].astype(np.int64), minlength=n_classes)
    metrics["per_class_counts"] = {str(cls): int(n) for cls, n in enumerate(counts)}
    for cls, wanted in (expected_counts or {}).items():
        got = int(counts[int(cls)]) if 0 <= int(cls) < n_classes else 0
        if int(wanted) > 0 and got == 0:
            problems.append(f"class {cls} was requested {wanted} image(s) but has none")
        elif got != int(wanted):
            problems.append(f"class {cls} has {got} image(s) but {wanted} were requested")
    return problems
