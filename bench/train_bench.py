"""Training benchmark: the training asset end to end next to ``xgboost.train`` alone on the same matrix.

Prints one JSON line. Setup (not timed): 100 symbols × 5,000 1m bars of random walks into stock_aggs, their
technical features (computed by the features code) into the features table. Timed:

* ours — one materialization of ``train_model`` (dataset read with COPY and pivoted in Polars, walk-forward
  folds, held-out evaluation, model file, registry rows), through Dagster;
* baseline — ``xgboost.train`` on the same matrix, with the same parameters and the same splits, in the same
  run; nothing else (no read, no prediction, no metrics, no file).

    python -m bench.train_bench [--symbols 100] [--bars 5000] [--database-url postgresql://127.0.0.1:5432/ats_bench]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import timedelta

import dagster as dg
import numpy as np
import polars as pl
import xgboost as xgb

from ats_pipelines.defs.features.assets import register_features
from ats_pipelines.defs.features.rows import feature_rows
from ats_pipelines.defs.features.technical import NAMES, TECHNICAL, compute_technical
from ats_pipelines.defs.features.versions import record_versions, spec_versions
from ats_pipelines.defs.models.assets import train_model_assets
from ats_pipelines.defs.models.dataset import labelled, walk_forward
from ats_pipelines.defs.models.run import TrainingConfig
from ats_pipelines.resources import ModelStoreResource, TimescaleResource
from bench.common import fresh_database
from bench.features_bench import START, synthetic_bars


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--symbols", type=int, default=100)
    parser.add_argument("--bars", type=int, default=5_000)
    parser.add_argument("--database-url", default="postgresql://127.0.0.1:5432/ats_bench")
    args = parser.parse_args()

    url = args.database_url
    fresh_database(url)
    timescale = TimescaleResource(database_url=url)
    bars = synthetic_bars(args.symbols, args.bars)
    timescale.write("stock_aggs", bars.select(
        "timestamp", "symbol", pl.col("close").alias("open"), "high", "low", "close",
        pl.col("volume").cast(pl.Int64), "vwap", pl.lit("1m").alias("timeframe"), pl.lit(True).alias("adjusted")))
    rows = feature_rows(compute_technical(bars), TECHNICAL, "1m", START).frame
    timescale.write("features", rows)
    register_features(timescale, TECHNICAL)  # as the features asset does: the versions training reads
    record_versions(timescale, "1m", spec_versions(TECHNICAL),
                    (rows["timestamp"].min(), rows["timestamp"].max() + timedelta(days=1)))
    timescale.refresh_statistics("features")

    config = TrainingConfig()
    with tempfile.TemporaryDirectory() as models_dir:
        started = time.perf_counter()
        resources = {"timescale": timescale, "model_store": ModelStoreResource(directory=models_dir)}
        result = dg.materialize([train_model_assets], instance=dg.DagsterInstance.ephemeral(), resources=resources)
        ours = time.perf_counter() - started
    assert result.success
    inside = next(e.materialization.metadata for e in result.get_asset_materialization_events()
                  if e.asset_key.to_user_string() == "model_training_runs")

    started = time.perf_counter()
    data = labelled(timescale, config.timeframe, config.features)
    read_seconds = time.perf_counter() - started
    splits = walk_forward(data["timestamp"], config.folds, config.gap_bars, config.held_out_fraction)
    x = data.select(config.features).to_numpy().astype(np.float32)
    y = data["label"].to_numpy()
    matrices = [xgb.DMatrix(x[s.train], label=y[s.train], feature_names=list(NAMES)) for s in splits]
    started = time.perf_counter()
    for matrix in matrices:
        xgb.train(config.xgboost_params(), matrix, num_boost_round=config.num_boost_round)
    baseline = time.perf_counter() - started
    timescale.close()

    trained_rows = sum(s.train.stop - s.train.start for s in splits)
    print(json.dumps({
        "bench": "train",
        "symbols": args.symbols,
        "bars": bars.height,
        "feature_rows": rows.height,
        "dataset_rows": data.height,
        "features": len(config.features),
        "folds": config.folds,
        "rounds": config.num_boost_round,
        "trained_rows": trained_rows,
        "ours_seconds": round(ours, 2),
        "ours_trained_rows_per_s": round(trained_rows / ours),
        "baseline_xgboost_train_seconds": round(baseline, 2),
        "baseline_trained_rows_per_s": round(trained_rows / baseline),
        "ratio": round(baseline / ours, 3),
        "ours_dataset_seconds": inside["dataset_seconds"].value,
        "ours_folds_seconds": inside["training_seconds"].value,
        "dataset_read_again_seconds": round(read_seconds, 2),
    }))


if __name__ == "__main__":
    main()
