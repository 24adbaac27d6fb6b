"""A Great Expectations 1.x suite derived from the real train split, as plain JSON, and its runner.

The spec is a list of ``{"type": ..., "kwargs": {...}}`` dicts so it can be saved next to the
results and read by a human; :func:`run_suite` turns it into a GX ``ExpectationSuite`` and
validates one frame in an ephemeral context. GX is imported inside the functions: importing it
takes seconds, and most callers of this package never validate.

Column kinds (:func:`is_numeric_column`): int/float columns are numeric; object, string,
category and bool columns are categorical.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

NUMERIC_TYPES = [
    "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64",
    "Int8Dtype", "Int16Dtype", "Int32Dtype", "Int64Dtype",
    "UInt8Dtype", "UInt16Dtype", "UInt32Dtype", "UInt64Dtype",
    "Float32Dtype", "Float64Dtype",
]
INTEGER_TYPES = [name for name in NUMERIC_TYPES if "int" in name.lower()]
# GX checks each value's Python type for object columns; category columns are cast to object first.
CATEGORICAL_TYPES = ["object", "str", "StringDtype", "bool", "BooleanDtype"]
MAX_EXAMPLES = 3


def is_numeric_column(column: pd.Series) -> bool:
    """True for int/float columns; bool counts as categorical."""
    return pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(column.dtype)


def expectation_suite_spec(train: pd.DataFrame, range_margin: float = 0.0) -> list[dict]:
    """Expectations every valid row of this table meets, derived from the real train split only.

    ``range_margin`` widens each numeric range by that fraction of its width on both sides (0 by
    default: the GAN clips to the range it was fitted on).
    """
    if train.empty:
        raise ValueError("train is empty: an expectation suite needs real rows to derive ranges and categories from")
    if range_margin < 0:
        raise ValueError(f"range_margin must be >= 0, got {range_margin}")
    spec: list[dict] = [
        _expectation("expect_table_columns_to_match_set", column_set=[str(c) for c in train.columns], exact_match=True)
    ]
    for name in train.columns:
        column = train[name]
        non_null = column.dropna()
        if is_numeric_column(column):
            spec.append(_expectation("expect_column_values_to_be_in_type_list", column=name, type_list=NUMERIC_TYPES))
            if pd.api.types.is_integer_dtype(column.dtype):
                spec.append(
                    _expectation("expect_column_values_to_be_in_type_list", column=name, type_list=INTEGER_TYPES)
                )
            if len(non_null):
                spec.append(_range_expectation(name, non_null, range_margin))
        else:
            value_types = sorted({type(value).__name__ for value in non_null.unique().tolist()})
            type_list = CATEGORICAL_TYPES + [t for t in value_types if t not in CATEGORICAL_TYPES]
            spec.append(_expectation("expect_column_values_to_be_in_type_list", column=name, type_list=type_list))
            if len(non_null):
                categories = sorted(non_null.unique().tolist(), key=lambda value: (str(type(value)), value))
                spec.append(_expectation("expect_column_values_to_be_in_set", column=name, value_set=categories))
        if not column.isna().any():
            spec.append(_expectation("expect_column_values_to_not_be_null", column=name))
    return spec


def run_suite(spec: list[dict], frame: pd.DataFrame, suite_name: str) -> dict:
    """Validate ``frame`` against ``spec`` and return a JSON-serialisable summary.

    The summary holds ``success``, counts, and per expectation ``type``, ``column``, ``success``,
    ``unexpected_count`` (column-value expectations) or ``observed_value`` (aggregate ones) and up
    to three ``unexpected_examples``.
    """
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    if not spec:
        raise ValueError("spec is empty: build one with expectation_suite_spec(train)")
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch_definition = (
        context.data_sources.add_pandas(f"{suite_name}_source")
        .add_dataframe_asset(f"{suite_name}_frame")
        .add_batch_definition_whole_dataframe("whole_frame")
    )
    batch = batch_definition.get_batch(batch_parameters={"dataframe": _categories_as_objects(frame)})
    suite = gx.ExpectationSuite(name=suite_name)
    for entry in spec:
        suite.add_expectation(ExpectationConfiguration(type=entry["type"], kwargs=entry["kwargs"]).to_domain_obj())
    validation = batch.validate(suite, result_format="BASIC")
    expectations = [_summarise(result) for result in validation.results]
    return {
        "suite_name": suite_name,
        "success": bool(validation.success),
        "n_rows": int(len(frame)),
        "n_expectations": len(expectations),
        "n_failed": sum(not entry["success"] for entry in expectations),
        "expectations": expectations,
    }


def _expectation(expectation_type: str, **kwargs: Any) -> dict:
    if "column" in kwargs:
        kwargs["column"] = str(kwargs["column"])
    return {"type": expectation_type, "kwargs": kwargs}


def _range_expectation(name: str, non_null: pd.Series, range_margin: float) -> dict:
    low, high = non_null.min(), non_null.max()
    if pd.api.types.is_integer_dtype(non_null.dtype) and range_margin == 0:
        low, high = int(low), int(high)
    else:
        margin = range_margin * float(high - low)
        low, high = float(low) - margin, float(high) + margin
    return _expectation("expect_column_values_to_be_between", column=name, min_value=low, max_value=high)


def _categories_as_objects(frame: pd.DataFrame) -> pd.DataFrame:
    """GX cannot type-check pandas category columns; their values are what the suite is about."""
    category_columns = [name for name in frame.columns if isinstance(frame[name].dtype, pd.CategoricalDtype)]
    if not category_columns:
        return frame
    return frame.astype({name: object for name in category_columns})


def _summarise(result: Any) -> dict:
    config = result.expectation_config
    details = result.result or {}
    summary: dict[str, Any] = {
        "type": config.type,
        "column": config.kwargs.get("column"),
        "success": bool(result.success),
    }
    if result.exception_info and result.exception_info.get("raised_exception"):
        summary["success"] = False
        summary["error"] = str(result.exception_info.get("exception_message"))
    if "unexpected_count" in details:
        summary["unexpected_count"] = int(details["unexpected_count"])
        examples = details.get("partial_unexpected_list") or []
        summary["unexpected_examples"] = [_json_scalar(value) for value in examples[:MAX_EXAMPLES]]
    if "observed_value" in details:
        summary["observed_value"] = _json_value(details["observed_value"])
    return summary


def _json_value(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_json_scalar(item) for item in value]
    return _json_scalar(value)


def _json_scalar(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return value if math.isfinite(value) else str(value)
    if value is pd.NA or (not isinstance(value, (list, dict)) and pd.isna(value)):
        return None
    return str(value)
