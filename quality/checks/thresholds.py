"""The thresholds of the quality checks: their defaults and ranges, declared once.

Each threshold means one thing. Where tables and images measure a property differently, each has its own
name: a table's C2ST is a random forest on encoded rows, an image's a logistic regression in CNN features;
a table's spread is the mean per-column standard deviation, an image's the square root of the total
feature variance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Threshold:
    default: float
    bounds: dict[str, float]
    description: str


THRESHOLDS: dict[str, Threshold] = {
    "max_table_c2st_auc": Threshold(0.9, {"ge": 0.5, "le": 1.0},
                                    "Tables: highest AUC of a random forest telling synthetic from real train rows."),
    "max_image_c2st_auc": Threshold(0.9, {"ge": 0.5, "le": 1.0},
                                    "Images: highest AUC of a logistic regression telling synthetic from real "
                                    "images in the checks' CNN features."),
    "max_duplicate_rate": Threshold(0.05, {"ge": 0.0, "le": 1.0},
                                    "Highest share of synthetic samples that repeat (or nearly repeat) another."),
    "min_table_spread_ratio": Threshold(0.5, {"ge": 0.0},
                                        "Tables: lowest ratio of a class's mean per-column standard deviation, "
                                        "synthetic over real."),
    "min_image_spread_ratio": Threshold(0.5, {"ge": 0.0},
                                        "Images: lowest ratio of a class's root total feature variance, synthetic "
                                        "over real."),
    "privacy_quantile": Threshold(0.05, {"gt": 0.0, "lt": 1.0},
                                  "Quantile of held-out real rows' distance to the closest train record that "
                                  "defines 'too close'."),
    "max_close_fraction": Threshold(0.1, {"ge": 0.0, "le": 1.0},
                                    "Highest share of synthetic samples closer to a train record than that quantile."),
}

# Names that meant two things (one per modality) before each got its own.
RENAMED_THRESHOLDS = {
    "max_c2st_auc": ("max_table_c2st_auc", "max_image_c2st_auc"),
    "min_spread_ratio": ("min_table_spread_ratio", "min_image_spread_ratio"),
}


def threshold_defaults() -> dict[str, float]:
    return {name: threshold.default for name, threshold in THRESHOLDS.items()}


def renamed_threshold_message(name: str) -> str:
    table, image = RENAMED_THRESHOLDS[name]
    return f"{name} is now two thresholds, {table} for tables and {image} for images: use those names"


def check_threshold_names(values: dict[str, Any]) -> None:
    """Raise ``ValueError`` for a name that is no threshold, saying what a renamed one became."""
    for name in values:
        if name in RENAMED_THRESHOLDS:
            raise ValueError(renamed_threshold_message(name))
        if name not in THRESHOLDS:
            raise ValueError(f"{name} is no quality threshold; known: {', '.join(THRESHOLDS)}")
