"""Euclidean distances between feature rows, in NumPy: pairwise, to the nearest row (in chunks, so memory
stays flat) and to the k-th nearest row. Used by the image fidelity, diversity and privacy checks."""

from __future__ import annotations

from typing import Optional

import numpy as np

DISTANCE_CHUNK_ROWS = 1024


def pairwise_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances ``(len(a), len(b))``."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    squared = (a * a).sum(axis=1)[:, None] + (b * b).sum(axis=1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.clip(squared, 0.0, None))


def nearest_distances(
    queries: np.ndarray, reference: Optional[np.ndarray] = None, exclude_self: bool = False
) -> np.ndarray:
    """Distance from each query row to its nearest reference row (``reference`` defaults to ``queries``;
    ``exclude_self`` skips the row itself), in chunks so memory stays flat."""
    reference = queries if reference is None else reference
    nearest = []
    for start in range(0, len(queries), DISTANCE_CHUNK_ROWS):
        distances = pairwise_distances(queries[start:start + DISTANCE_CHUNK_ROWS], reference)
        if exclude_self:
            rows = np.arange(distances.shape[0])
            distances[rows, start + rows] = np.inf
        nearest.append(distances.min(axis=1))
    return np.concatenate(nearest) if nearest else np.zeros(0)


def kth_neighbour_distance(features: np.ndarray, k: int) -> np.ndarray:
    """Distance from each row to its ``k``-th nearest other row."""
    distances = pairwise_distances(features, features)
    np.fill_diagonal(distances, np.inf)
    return np.partition(distances, k - 1, axis=1)[:, k - 1]
