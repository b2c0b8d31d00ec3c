"""A synthetic market for the live loop's tests and benchmark: random-walk minute bars over regular sessions,
and a small model on them registered as active."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl
import xgboost as xgb

from ats_pipelines.defs.features.technical import NAMES
from ats_pipelines.defs.features.versions import current_versions
from ats_pipelines.defs.models import registry
from ats_pipelines.defs.models.dataset import feature_matrix
from ats_pipelines.market_calendar import sessions


def session_bars(symbols: list[str], first: date, last: date, seed: int = 3) -> pl.DataFrame:
    """Adjusted 1m stock_aggs rows of every regular-session minute from ``first`` to ``last``, plus one
    pre-market bar per session (which minute features leave out)."""
    rng = np.random.default_rng(seed)
    times = [t for s in sessions(first, last) for t in
             [s.open - timedelta(minutes=30), *(s.open + timedelta(minutes=i) for i in range(s.minutes))]]
    frames = []
    for symbol in symbols:
        close = 50 * (1 + len(frames)) * np.exp(np.cumsum(rng.normal(0, 0.002, len(times))))
        spread = np.abs(rng.normal(0, 0.001, len(times))) * close
        frames.append(pl.DataFrame({
            "timestamp": times, "symbol": symbol, "open": close * (1 + rng.normal(0, 0.0005, len(times))),
            "high": close + spread, "low": close - spread, "close": close,
            "volume": rng.integers(100, 10_000, len(times)),
            "vwap": close * (1 + rng.normal(0, 0.0003, len(times))), "timeframe": "1m", "adjusted": True}))
    return pl.concat(frames).sort("timestamp", "symbol")


def activate_model(db, store, model_name: str, trained_through, seed: int = 1) -> str:
    """Train a small booster on the stored 1m technical features up to ``trained_through`` (label: RSI above
    50, so its calls are confident) and register it as the active model of ``model_name``; returns its id."""
    matrix = feature_matrix(db, "1m", NAMES, end=trained_through + timedelta(microseconds=1))
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 2, "eta": 0.3, "nthread": 1, "seed": seed},
                        xgb.DMatrix(matrix.select(NAMES).to_numpy().astype(np.float32),
                                    label=(matrix["rsi_14"] > 50).cast(pl.Int8).to_numpy(), feature_names=list(NAMES)),
                        num_boost_round=20)
    model_id, run_id = str(uuid.uuid4()), str(uuid.uuid4())
    version = registry.next_version(db, model_name)
    path, sha256 = store.save(booster, model_name, version, model_id)
    registry.start_run(db, run_id, {"model_name": model_name})
    active = registry.active_model(db, model_name)
    registry.record_model(db, run_id, {
        "model_id": model_id, "model_name": model_name, "target": registry.TARGET, "features": list(NAMES),
        "version": version, "status": "active", "file_path": path, "created_at": datetime.now(UTC),
        "parameters": registry.jsonb_text({"timeframe": "1m", "training_data": {"end": trained_through.isoformat()},
                                           "feature_versions": current_versions(NAMES),
                                           "file": {"format": "xgboost-ubj", "sha256": sha256}}),
        "metrics": registry.jsonb_text({"held_out": {"auc": 0.9}}),
    }, "", {}, active.model_id if active else None)
    return model_id
