"""Curation of synthetic images before the gate (selective synthetic augmentation, Xue et al. 2019, arXiv 1912.03837).

The GAN over-generates ``factor`` candidates per image wanted. Per class, a candidate is kept when

1. it is no near-copy of a real train image: its distance to the closest train image in the checks' CNN features
   is at least the ``NEAR_COPY_QUANTILE`` of the train images' own distances to their closest other train image;
2. the checks' CNN, trained on the real train images only, gives its class a probability of at least
   ``MIN_CONFIDENCE`` (it looks like its class);
3. it adds coverage: among the confident candidates, images are picked one at a time, each the one farthest from
   the class's real train images and the images already picked (greedy farthest-point selection).

When too few candidates are confident, the rest are the most confident of the other non-copies, so the class
counts the sampling strategy asked for still hold; near-copies are never kept. Every choice here is made on the
train images and the candidates only: the rows that gate the publication are never looked at, so the gate's
interval needs no correction for it. Trying several factors or doses and keeping the best by the gate would be a
choice made on the gate's rows; ``docs/protocol.md`` says how to pay for that.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from quality.checks.image_features import FeatureExtractor, predict_proba
from quality.checks.neighbours import nearest_distances, pairwise_distances

NEAR_COPY_QUANTILE = 0.05
MIN_CONFIDENCE = 0.5
# Candidates generated per image kept; 1 keeps every sample (no curation). 4: on the built-in digits, curation from
# 4 candidates raised real + synthetic by 0.06-0.09 balanced accuracy (two seeds); on BreastMNIST it changed nothing.
DEFAULT_IMAGE_CURATION = 4


@dataclass(frozen=True)
class Curation:
    """Which candidates were kept (per class, in the order they were picked: the confident ones by coverage, then any
    others by confidence), and per class how many there were and why others went."""

    keep: np.ndarray
    candidates: dict[int, int]
    kept: dict[int, int]
    near_copies: dict[int, int]
    unconfident: dict[int, int]

    def summary(self, class_names: Sequence[str]) -> dict[str, object]:
        """Per class name: candidates, kept, near-copies and unconfident ones; and the share kept overall."""
        total = sum(self.candidates.values())
        named = {name: {class_names[cls]: count for cls, count in getattr(self, name).items()}
                 for name in ("candidates", "kept", "near_copies", "unconfident")}
        return {**named, "kept_fraction": round(sum(self.kept.values()) / total, 4) if total else None}


def curate_images(
    extractor: FeatureExtractor,
    train_images: np.ndarray,
    train_labels: np.ndarray,
    candidates: np.ndarray,
    candidate_labels: np.ndarray,
    wanted: Mapping[int, int],
) -> Curation:
    """Keep ``wanted[c]`` of the candidates of each class ``c`` (fewer only when the others are near-copies), best
    first, so the first ``k`` kept of a class are the best ``k``."""
    train_features = extractor.embed(train_images)
    copy_distance = float(np.quantile(nearest_distances(train_features, exclude_self=True), NEAR_COPY_QUANTILE))
    features = extractor.embed(candidates)
    confidence = predict_proba(extractor.model, candidates)[np.arange(len(candidates)), candidate_labels]
    near_copy = nearest_distances(features, train_features) < copy_distance
    keep, counts = [], {"candidates": {}, "kept": {}, "near_copies": {}, "unconfident": {}}
    for cls, n_wanted in sorted(wanted.items()):
        positions = np.flatnonzero(candidate_labels == cls)
        fresh = positions[~near_copy[positions]]
        confident = fresh[confidence[fresh] >= MIN_CONFIDENCE]
        picked = _farthest_points(features[confident], train_features[train_labels == cls], n_wanted)
        chosen = confident[picked]
        if len(chosen) < n_wanted:  # too few confident candidates: the most confident of the others
            others = fresh[confidence[fresh] < MIN_CONFIDENCE]
            chosen = np.r_[chosen, others[np.argsort(-confidence[others], kind="stable")][:n_wanted - len(chosen)]]
        keep.append(chosen)
        for name, value in (("candidates", len(positions)), ("kept", len(chosen)),
                            ("near_copies", len(positions) - len(fresh)), ("unconfident", len(fresh) - len(confident))):
            counts[name][int(cls)] = int(value)
    return Curation(keep=np.concatenate(keep) if keep else np.zeros(0, np.int64), **counts)


def _farthest_points(candidates: np.ndarray, anchors: np.ndarray, n: int) -> np.ndarray:
    """Positions of ``n`` candidates picked greedily, each the farthest from the anchors and those picked before."""
    if len(candidates) <= n:
        return np.arange(len(candidates))
    closest = (pairwise_distances(candidates, anchors).min(axis=1) if len(anchors)
               else np.full(len(candidates), np.inf))
    picked = []
    for _ in range(n):
        best = int(np.argmax(closest))
        picked.append(best)
        closest = np.minimum(closest, pairwise_distances(candidates, candidates[best:best + 1])[:, 0])
        closest[best] = -np.inf
    return np.array(picked, dtype=np.int64)
