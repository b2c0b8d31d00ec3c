"""Walk-forward XGBoost training and the metrics every fold and the held-out period report."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import polars as pl
import xgboost as xgb
from scipy.stats import rankdata

from ats_pipelines.defs.models.dataset import Split

T = TypeVar("T")

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
    """Train and evaluate one booster per split (side by side, :func:`side_by_side`); the last split's booster
    is kept. A split's matrix is a ``QuantileDMatrix``: the histogram index ``hist`` trains on (quantile cuts,
    binned rows), built straight from the array, the same cuts and model as a ``DMatrix`` gives in about half
    the memory (no copy of the values beside the bins). A line per finished split goes to ``log`` in the
    splits' order, also when another split fails."""
    x = feature_array(data, features)
    y = data["label"].to_numpy()
    times = data["timestamp"]
    finished: dict[int, FoldResult] = {}

    def fit(index: int, threads: int, cancelled: threading.Event) -> FoldResult:
        split = splits[index]
        started = time.perf_counter()
        train = xgb.QuantileDMatrix(x[split.train], label=y[split.train], feature_names=list(features),
                                    nthread=threads)
        booster = xgb.train({**params, "nthread": threads}, train, num_boost_round=rounds,
                            callbacks=[StopWhenSet(cancelled)])
        if cancelled.is_set():
            raise FitCancelled(split.name)
        p = booster.inplace_predict(x[split.test])
        finished[index] = FoldResult(
            split.name, metrics(y[split.test], p, threshold),
            (str(times[split.train.start]), str(times[split.train.stop - 1])),
            (str(times[split.test.start]), str(times[split.test.stop - 1])),
            time.perf_counter() - started, booster if index == len(splits) - 1 else None,
        )
        return finished[index]

    try:
        return side_by_side([s.train_rows for s in splits], int(params["nthread"]), fit)
    finally:
        for index in sorted(finished):
            result = finished[index]
            log.append(f"{result.name}: trained on {splits[index].train.stop} rows {result.train_range[0]} .. "
                       f"{result.train_range[1]}, tested on {result.metrics['rows']} rows {result.test_range[0]} "
                       f".. {result.test_range[1]}: {result.metrics}")


class FitCancelled(Exception):
    """A fit stopped before its end: another fit of the same :func:`side_by_side` failed, or its caller was
    interrupted."""


class StopWhenSet(xgb.callback.TrainingCallback):
    """Ends an ``xgboost.train`` after the boosting round in which ``event`` is set."""

    def __init__(self, event: threading.Event) -> None:
        super().__init__()
        self.event = event

    def after_iteration(self, model: xgb.Booster, epoch: int, evals_log: dict) -> bool:
        return self.event.is_set()


def side_by_side(sizes: Sequence[int], nthread: int, fit: Callable[[int, int, threading.Event], T]) -> list[T]:
    """``fit(index, threads, cancelled)`` of every job (``sizes[index]``, its training rows), results in the
    jobs' order: as many at once as ``nthread`` allows (one thread each; with fewer jobs than threads the
    threads are shared out, the extra ones to the largest jobs), the largest first, so the longest fit does
    not start last.

    On the first failure (or an interruption of the caller) ``cancelled`` is set, jobs not yet started never
    start, and the error is raised once the running fits have returned: a fit that can take long checks
    ``cancelled`` (:class:`StopWhenSet`) and raises :class:`FitCancelled`.

    On the few-hundred-thousand-row matrices of a walk-forward, XGBoost's own threads wait on each other at
    every tree level, while separate boosters never do (docs/models.md, Speed). And a booster's threads are
    fixed by the setting alone, so a model is the same on any machine."""
    workers = max(1, min(nthread, len(sizes)))
    largest_first = sorted(range(len(sizes)), key=lambda i: sizes[i], reverse=True)
    base, extra = divmod(max(nthread, workers), workers)
    threads = {index: base + int(rank < extra) for rank, index in enumerate(largest_first)}
    cancelled = threading.Event()

    def job(index: int) -> T:
        if cancelled.is_set():
            raise FitCancelled(f"job {index}")
        try:
            return fit(index, threads[index], cancelled)
        except BaseException:
            cancelled.set()  # before this worker takes the next job
            raise

    pool = ThreadPoolExecutor(workers, thread_name_prefix="fold")
    try:
        futures = {index: pool.submit(job, index) for index in largest_first}
        wait(futures.values(), return_when=FIRST_EXCEPTION)
        failures = [e for f in futures.values() if f.done() and (e := f.exception()) is not None]
        errors = [e for e in failures if not isinstance(e, FitCancelled)] or failures
        if errors:
            raise errors[0]
        return [futures[index].result() for index in range(len(sizes))]
    except BaseException:
        cancelled.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


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
