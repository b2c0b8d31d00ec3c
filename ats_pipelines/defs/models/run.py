"""One training, end to end: dataset from the features table, walk-forward folds, held-out evaluation against
the active model, the model file, and the registry rows (run row first, model row and run completion last)."""

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import polars as pl
from pydantic import Field

from ats_pipelines.defs.features.technical import NAMES as TECHNICAL_FEATURES
from ats_pipelines.defs.features.versions import current_days, registered_versions
from ats_pipelines.defs.models import registry
from ats_pipelines.defs.models.dataset import DatasetError, labelled, walk_forward
from ats_pipelines.defs.models.training import (
    DEFAULT_PARAMS,
    FoldResult,
    importances,
    metrics,
    predict,
    train_walk_forward,
)
from ats_pipelines.resources import ModelIntegrityError, ModelStoreResource, TimescaleResource

MINUTE_MODEL = "next_bar_direction_xgb"  # 1m bars: the next bar's direction (traded live, ats live)
DAILY_MODEL = "next_session_direction_xgb"  # 1d bars: the next session's direction (traded at the next open)


class TrainingConfig(dg.Config):
    """What to train on and how; every default is shown in the Dagster launchpad."""

    model_name: str = Field(default=MINUTE_MODEL, description="registry name; versions grow per name")
    timeframe: str = Field(default="1m", description="feature timeframe the model reads and predicts")
    features: list[str] = Field(default=list(TECHNICAL_FEATURES), description="feature names (columns)")
    symbols: list[str] | None = Field(default=None, description="symbols to train on; default every symbol")
    start: str | None = Field(default=None, description="first bar time (ISO date or datetime, UTC); default: "
                              "lookback_days before the end of the newest day of features at their current "
                              "versions (or end)")
    lookback_days: int | None = Field(default=90, description="without start, the training set reaches this many "
                                      "days back from the end of the newest day of features (or end): the bound on "
                                      "its size and memory, about symbols x bars a session x sessions rows of the "
                                      "features as float32 and float64, plus the matrices of the fits running at "
                                      "once (QuantileDMatrix, about 5.5 bytes a value; 90 days of 500 symbols' 1m "
                                      "bars: 12 M rows, about 2.5 GB, and about 1.5 GB of matrices at two "
                                      "threads); null reads every stored bar")
    end: str | None = Field(default=None, description="bars before this time (ISO, UTC); default all")
    folds: int = Field(default=4, description="walk-forward folds before the held-out period")
    gap_bars: int = Field(default=10, description="bar times left out between every training and test window")
    held_out_fraction: float = Field(default=0.2, description="share of the latest bar times held out")
    num_boost_round: int = 200
    max_depth: int = int(DEFAULT_PARAMS["max_depth"])
    eta: float = float(DEFAULT_PARAMS["eta"])
    subsample: float = float(DEFAULT_PARAMS["subsample"])
    colsample_bytree: float = float(DEFAULT_PARAMS["colsample_bytree"])
    min_child_weight: float = float(DEFAULT_PARAMS["min_child_weight"])
    seed: int = int(DEFAULT_PARAMS["seed"])
    nthread: int = Field(default=int(DEFAULT_PARAMS["nthread"]), description="threads of a training: the "
                         "walk-forward's fits (folds + held-out) run side by side, as many at once as threads, one "
                         "thread each (with more threads than fits, the extra ones go to the largest windows); so "
                         "as many fold matrices are in memory at once")
    confidence_threshold: float = Field(default=0.6, description="probability that counts as a confident call")

    def xgboost_params(self) -> dict[str, object]:
        return {**DEFAULT_PARAMS, "max_depth": self.max_depth, "eta": self.eta, "subsample": self.subsample,
                "colsample_bytree": self.colsample_bytree, "min_child_weight": self.min_child_weight,
                "seed": self.seed, "nthread": self.nthread}

    def bound(self, value: str | None) -> datetime | None:
        return datetime.fromisoformat(value).replace(tzinfo=UTC) if value else None


@dataclass
class TrainingOutcome:
    """What a completed training produced."""

    run_id: str
    model_id: str
    version: str
    status: str
    reason: str
    folds: list[FoldResult]
    held_out: FoldResult
    active_auc: float | None
    importances: dict[str, float]
    file_path: str
    rows: int
    dataset_seconds: float
    training_seconds: float


def train_model(timescale: TimescaleResource, store: ModelStoreResource, config: TrainingConfig,
                log: list[str]) -> TrainingOutcome:
    """Run one training, the only one of its model name (TrainingBusy otherwise); a failure is recorded as a
    ``failed`` run (with its error) and re-raised, touching no model."""
    with registry.training_lock(timescale, config.model_name):
        return _train(timescale, store, config, log)


def _train(timescale: TimescaleResource, store: ModelStoreResource, config: TrainingConfig,
           log: list[str]) -> TrainingOutcome:
    run_id = str(uuid.uuid4())
    setup = {"xgboost": config.xgboost_params(), **config.model_dump(exclude={"model_name"})}
    registry.start_run(timescale, run_id, {"model_name": config.model_name, **setup})
    try:
        active = registry.active_model(timescale, config.model_name)
        comparable = active is not None and active.timeframe == config.timeframe
        versions = registered_versions(timescale, [*config.features, *(active.features if active else [])])
        if comparable and active.feature_versions != {f: versions.get(f) for f in active.features}:
            log.append(f"active model v{active.version} not compared: trained on other feature versions")
            comparable = False
        columns = list(dict.fromkeys([*config.features, *(active.features if comparable else [])]))
        started = time.perf_counter()
        data = training_set(timescale, config, columns, versions)
        dataset_seconds = time.perf_counter() - started
        log.append(f"dataset: {data.height} rows, {data['symbol'].n_unique()} symbols, "
                   f"{data['timestamp'].min()} .. {data['timestamp'].max()}")
        splits = walk_forward(data["timestamp"], config.folds, config.gap_bars, config.held_out_fraction)
        started = time.perf_counter()
        results = train_walk_forward(data, config.features, splits, config.xgboost_params(), config.num_boost_round,
                                     config.confidence_threshold, log)
        training_seconds = time.perf_counter() - started
        held_out = results[-1]
        status, reason, active_auc = _gate(store, active if comparable else None, held_out, data[splits[-1].test],
                                           config, log)
        log.append(f"promotion: {status}: {reason}")
        model_id, version = str(uuid.uuid4()), registry.next_version(timescale, config.model_name)
        path, sha256 = store.save(held_out.booster, config.model_name, version, model_id)
        gains = importances(held_out.booster, config.features)
        times = data["timestamp"]
        final = splits[-1]
        training_data = {"start": times[final.train.start].isoformat(), "end": times[final.train.stop - 1].isoformat(),
                         "held_out_start": times[final.test.start].isoformat(),
                         "held_out_end": times[final.test.stop - 1].isoformat(), "rows": data.height}
        run_metrics = {"folds": [r.as_record() for r in results[:-1]], "held_out": held_out.as_record()}
        registry.record_model(timescale, run_id, {
            "model_id": model_id, "model_name": config.model_name, "target": registry.TARGET,
            "features": list(config.features), "version": version, "status": status, "file_path": path,
            "created_at": datetime.now(UTC),
            "parameters": registry.jsonb_text({**setup, "label": "close[t+1] / close[t] - 1 > 0",
                                               "feature_versions": {f: versions[f] for f in config.features},
                                               "training_data": training_data,
                                               "file": {"format": "xgboost-ubj", "sha256": sha256}}),
            "metrics": registry.jsonb_text({**run_metrics, "feature_importance": gains,
                                            "promotion": {"decision": status, "reason": reason,
                                                          "active_model_auc": active_auc}}),
        }, "\n".join(log), run_metrics, active.model_id if active else None)
    except Exception as exc:
        log.append(f"failed: {type(exc).__name__}: {exc}")
        registry.finish_run(timescale, run_id, "failed", "\n".join(log))
        raise
    return TrainingOutcome(run_id, model_id, version, status, reason, results[:-1], held_out, active_auc, gains, path,
                           data.height, dataset_seconds, training_seconds)


def training_set(timescale: TimescaleResource, config: TrainingConfig, columns: list[str],
                 versions: dict[str, str]) -> pl.DataFrame:
    """The labelled rows of ``columns`` a training reads: only the days (before ``end``) whose every column is
    stored at its registered version in ``versions``, never old and new definitions mixed, from
    :func:`training_start`; DatasetError when there are none."""
    end = config.bound(config.end)
    days = [d for d in current_days(timescale, config.timeframe, versions, columns)
            if end is None or d <= (end - timedelta(microseconds=1)).date()]
    none = DatasetError(f"no labelled rows of timeframe {config.timeframe} with features {config.features} at "
                        "their current versions: materialize the features asset first")
    if not days:
        raise none
    data = labelled(timescale, config.timeframe, columns, training_start(config, days), end, config.symbols)
    data = data.filter(pl.col("timestamp").dt.date().is_in(days))
    if data.height == 0:
        raise none
    return data


def training_start(config: TrainingConfig, days: list[date]) -> datetime | None:
    """The first bar time of the training set: ``start``, else ``lookback_days`` before the end of the newest of
    ``days`` (the days a training may read, sorted, none after ``end``) or before ``end`` if that is earlier,
    else none (every stored bar). Counted from the recorded days: the table's newest bar would take a scan of
    the whole table."""
    if config.start or config.lookback_days is None or not days:
        return config.bound(config.start)
    until = datetime.combine(days[-1] + timedelta(days=1), datetime.min.time(), UTC)
    return min(until, config.bound(config.end) or until) - timedelta(days=config.lookback_days)


def _gate(store: ModelStoreResource, active: registry.RegisteredModel | None, held_out: FoldResult,
          rows: pl.DataFrame, config: TrainingConfig, log: list[str]) -> tuple[str, str, float | None]:
    """``(status, reason, active model's AUC)``: against chance alone without a comparable active model (or with
    one whose file fails verification); else both models on the held-out rows after the active model's training
    data only, since its own training rows would flatter it."""
    if active is None:
        return (*registry.promotion(held_out.metrics["auc"], None), None)
    try:
        booster = store.load(active.file_path, active.sha256)
    except ModelIntegrityError as exc:
        log.append(f"active model v{active.version} not compared: {exc}")
        return (*registry.promotion(held_out.metrics["auc"], None), None)
    after = rows.filter(pl.col("timestamp") > active.trained_through)
    if after.height == 0:
        return "rejected", (f"no held-out row after the active model's training data (up to "
                            f"{active.trained_through.isoformat()}): no out-of-sample comparison, it stays"), None
    y, threshold = after["label"].to_numpy(), config.confidence_threshold
    new_auc = metrics(y, predict(held_out.booster, after, config.features), threshold)["auc"]
    active_auc = metrics(y, predict(booster, after, active.features), threshold)["auc"]
    log.append(f"on the {after.height} held-out rows after v{active.version}'s training data: new model AUC "
               f"{new_auc}, active model AUC {active_auc}")
    status, reason = registry.promotion(new_auc, active_auc)
    return status, f"{reason} (on {after.height} held-out rows after its training data)", active_auc
