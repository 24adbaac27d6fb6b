"""How many boosting rounds the large-table lift needs: balanced accuracy and fit seconds of the downstream
histogram gradient boosting under (200 rounds, rate 0.1) and (100 rounds, rate 0.2), with the training rows
capped at 20,000 and at 10,000, for real only, SMOTE and class weights, on the validation split of the scale
benchmark's generated tables (``bench/scale_tables.py``).

    python -m bench.lift_boosting_settings > bench/results/lift_boosting_settings.txt
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from sklearn.metrics import balanced_accuracy_score

from assets.modalities import tabular
from bench.scale_tables import credit_table, mixed_table
from pipelines.config import DatasetConfig, PlanConfig
from quality.lift import tables as lift

SETTINGS = ((200, 0.1), (100, 0.2))
CAPS = (20_000, 10_000)
METHODS = (("real_only", None, None), ("smote", "smote", None), ("class_weights", None, "balanced"))


def main() -> None:
    with tempfile.TemporaryDirectory() as work:
        for name, table, label in (("mixed_54k", mixed_table(), "segment"), ("credit_10k", credit_table(), "default")):
            path = Path(work) / f"{name}.parquet"
            table.to_parquet(path, index=False)
            data = tabular.plan(tabular.load(DatasetConfig(source=str(path), label=label), name), PlanConfig())
            measure(name, data.fold_training_rows(0), data.fold_rows(0), label)


def measure(name: str, train, evaluation, label: str) -> None:
    for cap in CAPS:
        for rounds, rate in SETTINGS:
            for seed in (0, 1):
                capped, _ = lift.capped_training_rows(train, train.iloc[:0], label, seed, max_rows=cap)
                for method, resampler, class_weight in METHODS:
                    pipeline = lift.downstream_pipeline(capped, label, "hist_gradient_boosting", seed, resampler,
                                                        class_weight)
                    pipeline.named_steps["classifier"].set_params(max_iter=rounds, learning_rate=rate)
                    started = time.perf_counter()
                    pipeline.fit(lift.model_frame(capped, train, label), capped[label].to_numpy())
                    seconds = time.perf_counter() - started
                    predicted = pipeline.predict(lift.model_frame(evaluation, train, label))
                    score = balanced_accuracy_score(evaluation[label], predicted)
                    print(f"{name} cap={cap} rounds={rounds} rate={rate} seed={seed} {method}: "
                          f"balanced_accuracy={score:.4f} fit={seconds:.1f}s", flush=True)


if __name__ == "__main__":
    main()
