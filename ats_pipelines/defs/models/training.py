"""Walk-forward XGBoost training and the metrics every fold and the held-out period report."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl
import xgboost as xgb
from scipy.stats import rankdata

from ats_pipelines.defs.models.dataset import Split

DEFAULT_PARAMS: dict[str, object] = {
    "objective": "binary:logistic", "eval_metric": "logloss", "tree_method": "hist", "max_depth": 4,
    "eta": 0.05, "subsample": 0.8, "colsample_bytree": 0.8, "min_child_weight": 5.0, "seed": 7, "nthread": 2,
}


def metrics(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, float | int]:
    """Accuracy (at 0.5), ROC AUC, log loss, and the hit rate of the confident predictions (probability of up
    at least ``threshold`` or at most ``1 - threshold``) with how many there were."""
    y = y.astype(np.int8)
    confident = (p >= threshold) | (p <= 1 - threshold)
    hits = ((p >= 0.5) == (y == 1))
    positives = int(y.sum())
    negatives = len(y) - positives
    auc = float("nan")
    if positives and negatives:
        ranks = rankdata(p)  # ties get their average rank
        auc = float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))
    clipped = np.clip(p, 1e-15, 1 - 1e-15)
    return {
        "rows": int(len(y)),
        "positive_rate": round(float(y.mean()), 6) if len(y) else float("nan"),
        "accuracy": round(float(hits.mean()), 6),
        "auc": round(auc, 6),
        "log_loss": round(float(-np.mean(y * np.log(clipped) + (1 - y) * np.log(1 - clipped))), 6),
        "confident_rows": int(confident.sum()),
        "confident_hit_rate": round(float(hits[confident].mean()), 6) if confident.any() else float("nan"),
    }


@dataclass
class FoldResult:
    """One split's metrics, the time ranges it used, and (for the held-out split) the trained booster."""

    name: str
    metrics: dict[str, float | int]
    train_range: tuple[str, str]
    test_range: tuple[str, str]
    seconds: float
    booster: xgb.Booster | None = field(default=None, repr=False)

    def as_record(self) -> dict[str, object]:
        return {"fold": self.name, **self.metrics, "train_start": self.train_range[0],
                "train_end": self.train_range[1], "test_start": self.test_range[0], "test_end": self.test_range[1],
                "seconds": round(self.seconds, 3)}


def train_walk_forward(data: pl.DataFrame, features: Sequence[str], splits: Sequence[Split],
                       params: Mapping[str, object], rounds: int, threshold: float,
                       log: list[str]) -> list[FoldResult]:
    """Train and evaluate one booster per split, in order; the last split's booster is kept."""
    x = feature_array(data, features)
    y = data["label"].to_numpy()
    times = data["timestamp"]
    results = []
    for split in splits:
        started = time.perf_counter()
        train = xgb.DMatrix(x[split.train], label=y[split.train], feature_names=list(features))
        booster = xgb.train(dict(params), train, num_boost_round=rounds)
        p = booster.inplace_predict(x[split.test])
        result = FoldResult(
            split.name, metrics(y[split.test], p, threshold),
            (str(times[split.train.start]), str(times[split.train.stop - 1])),
            (str(times[split.test.start]), str(times[split.test.stop - 1])),
            time.perf_counter() - started, booster if split is splits[-1] else None,
        )
        log.append(f"{split.name}: trained on {split.train.stop} rows {result.train_range[0]} .. "
                   f"{result.train_range[1]}, tested on {result.metrics['rows']} rows {result.test_range[0]} .. "
                   f"{result.test_range[1]}: {result.metrics}")
        results.append(result)
    return results


def importances(booster: xgb.Booster, features: Sequence[str]) -> dict[str, float]:
    """Total gain per feature, as a share of all gain (0 for features no tree used)."""
    gain = booster.get_score(importance_type="total_gain")
    total = sum(gain.values()) or 1.0
    return {f: round(gain.get(f, 0.0) / total, 6) for f in features}


def feature_array(frame: pl.DataFrame, features: Sequence[str]) -> np.ndarray:
    """The ``features`` columns of ``frame`` as XGBoost takes them: one float32 array, a row per bar, rows
    contiguous (so a split's rows are a view, copied once into its matrix)."""
    return frame.select(pl.col(features).cast(pl.Float32)).to_numpy(order="c")


def predict(booster: xgb.Booster, matrix: pl.DataFrame, features: Sequence[str]) -> np.ndarray:
    """Probability of up for each row of ``matrix``: the booster's own prediction, straight from the array
    (no DMatrix to build; the same values), its features checked by name as a DMatrix would."""
    if booster.feature_names is not None and list(booster.feature_names) != list(features):
        raise ValueError(f"the booster was trained on {booster.feature_names}, not {list(features)}")
    return booster.inplace_predict(feature_array(matrix, features))
