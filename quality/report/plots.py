"""PNG figures for Dagster metadata and data cards (matplotlib, headless)."""

from __future__ import annotations

import io
from typing import Any, Sequence

import numpy as np
import pandas as pd


def _figure(width: float, height: float):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt, plt.figure(figsize=(width, height), dpi=90)


def _png(plt, figure) -> bytes:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()


def loss_curves_png(history: Sequence[dict[str, float]], x_key: str = "step") -> bytes:
    """Generator and discriminator losses over training."""
    plt, figure = _figure(6, 3)
    axis = figure.add_subplot(1, 1, 1)
    frame = pd.DataFrame(list(history))
    x = frame[x_key] if x_key in frame else np.arange(len(frame))
    for column in frame.columns:
        if column.endswith("loss"):
            axis.plot(x, frame[column], label=column.replace("_", " "))
    axis.set_xlabel(x_key)
    axis.legend()
    axis.set_title("GAN losses")
    return _png(plt, figure)


def marginals_png(real: pd.DataFrame, synthetic: pd.DataFrame, columns: Sequence[str], max_columns: int = 6) -> bytes:
    """Real vs synthetic marginal distributions of a few columns."""
    shown = list(columns)[:max_columns]
    plt, figure = _figure(3 * min(3, len(shown)), 2.4 * int(np.ceil(len(shown) / 3)))
    for i, column in enumerate(shown, start=1):
        axis = figure.add_subplot(int(np.ceil(len(shown) / 3)), min(3, len(shown)), i)
        if pd.api.types.is_numeric_dtype(real[column]) and not pd.api.types.is_bool_dtype(real[column]):
            values = pd.concat([real[column], synthetic[column]]).dropna()
            bins = np.histogram_bin_edges(values, bins=20)
            axis.hist(real[column].dropna(), bins=bins, alpha=0.5, density=True, label="real")
            axis.hist(synthetic[column].dropna(), bins=bins, alpha=0.5, density=True, label="synthetic")
        else:
            shares = pd.DataFrame({
                "real": real[column].astype(str).value_counts(normalize=True),
                "synthetic": synthetic[column].astype(str).value_counts(normalize=True),
            }).fillna(0)
            shares.plot.bar(ax=axis, legend=False)
        axis.set_title(column, fontsize=8)
        axis.tick_params(labelsize=6)
    figure.axes[0].legend(fontsize=7)
    return _png(plt, figure)


def lift_png(report: dict[str, Any], metric: str = "balanced_accuracy") -> bytes:
    """Each method's lift over each reference, with its confidence interval."""
    lifts = [l for l in report["lifts"] if l["metric"] == metric]
    plt, figure = _figure(6, 0.45 * len(lifts) + 1.2)
    axis = figure.add_subplot(1, 1, 1)
    labels = [f"{l['method']} vs {l['reference']}" for l in lifts]
    means = np.array([l["mean"] for l in lifts])
    errors = np.array([[l["mean"] - l["ci_low"] for l in lifts], [l["ci_high"] - l["mean"] for l in lifts]])
    axis.errorbar(means, np.arange(len(lifts)), xerr=errors, fmt="o", capsize=3)
    axis.axvline(0, color="grey", linewidth=1)
    axis.set_yticks(np.arange(len(lifts)), labels, fontsize=7)
    axis.set_xlabel(f"{metric} lift ({report['evaluated_on']} split)")
    return _png(plt, figure)


def image_png(image: np.ndarray) -> bytes:
    """Encode a uint8 (H, W) or (H, W, C) array as PNG."""
    from PIL import Image

    array = image[..., 0] if image.ndim == 3 and image.shape[2] == 1 else image
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()
