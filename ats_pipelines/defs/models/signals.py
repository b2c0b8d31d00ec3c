"""Trading signals: the active model scores every bar of a partition after its training data.

A probability of up at or above the threshold is a ``buy``, at or below ``1 - threshold`` a ``sell``;
anything between is no signal. Each signal carries the exact feature values it was scored on and a
deterministic id (model, symbol, bar time, timeframe), so a re-run writes nothing new. A model scores only
bars whose features have the versions it was trained on (FeatureVersionError otherwise).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime

import polars as pl
import xgboost as xgb

from ats_pipelines.defs.features.versions import require_versions, stored_versions
from ats_pipelines.defs.models.dataset import feature_matrix
from ats_pipelines.defs.models.registry import RegisteredModel
from ats_pipelines.defs.models.training import predict
from ats_pipelines.resources import ModelStoreResource, TimescaleResource

SIGNAL_NAMESPACE = uuid.UUID("6f1d3c52-8a0e-4d8b-9a51-3f0c2f5f2a11")


def signal_id(model_id: str, symbol: str, timestamp: datetime, timeframe: str) -> str:
    """The deterministic id of a model's signal on one bar."""
    return str(uuid.uuid5(SIGNAL_NAMESPACE, f"{model_id}|{symbol}|{timestamp.isoformat()}|{timeframe}"))


def signal_rows(timescale: TimescaleResource, store: ModelStoreResource, model: RegisteredModel,
                window: tuple[datetime, datetime], threshold: float) -> tuple[pl.DataFrame, int]:
    """``trading_signals`` rows for the bars in ``window`` after the model's training data, and how many bars
    were scored. Raises ModelIntegrityError (no signal at all) when the model file fails its checksum, and
    FeatureVersionError (from :func:`score_bars`) when the window's stored feature versions are not the model's."""
    booster = store.load(model.file_path, model.sha256)
    bars = scorable(feature_matrix(timescale, model.timeframe, model.features, *window), model)
    if bars.height == 0:
        return pl.DataFrame(), 0
    versions = stored_versions(timescale, model.timeframe, model.features, window)
    return score_bars(booster, model, bars, threshold, versions), bars.height


def scorable(matrix: pl.DataFrame, model: RegisteredModel) -> pl.DataFrame:
    """The rows of a feature matrix (``symbol, timestamp`` and the model's features) the model may score: after
    its training data, with every feature defined."""
    return matrix.filter(pl.col("timestamp") > model.trained_through).drop_nans(model.features)


def score_bars(booster: xgb.Booster, model: RegisteredModel, bars: pl.DataFrame, threshold: float,
               versions: Mapping[str, str | set[str]]) -> pl.DataFrame:
    """The ``trading_signals`` rows of the confident calls among ``bars`` (from :func:`scorable`): the batch
    asset and the live loop both score through here, so a bar gives the same row on either clock. ``versions``
    are those of the bars' features (stored ones in batch, the running code's live); FeatureVersionError when
    they differ from the versions the model was trained on."""
    require_versions(model.label, model.features, model.feature_versions, versions)
    up = pl.Series("probability_up", predict(booster, bars, model.features), dtype=pl.Float64)
    scored = bars.with_columns(up).filter((pl.col("probability_up") >= threshold)
                                          | (pl.col("probability_up") <= 1 - threshold))
    buy = pl.col("probability_up") >= threshold
    ids = pl.Series("signal_id", [signal_id(model.model_id, symbol, timestamp, model.timeframe)
                                  for symbol, timestamp in zip(scored["symbol"], scored["timestamp"], strict=True)],
                    dtype=pl.String)
    return scored.select(
        pl.lit(ids).alias("signal_id"),
        "timestamp", "symbol",
        pl.when(buy).then(pl.lit("buy")).otherwise(pl.lit("sell")).alias("signal_type"),
        pl.when(buy).then(pl.col("probability_up")).otherwise(1 - pl.col("probability_up")).round(4)
        .alias("confidence"),
        pl.lit(model.model_id).alias("model_id"),
        pl.lit(model.timeframe).alias("timeframe"),
        pl.struct(pl.lit(threshold).alias("threshold"), pl.lit(model.version).alias("model_version"),
                  pl.col("probability_up").round(6)).alias("parameters"),
        pl.struct(*model.features).alias("features_snapshot"),
    )
