"""Models assets: one training writes model_training_runs and models; trading_signals scores each partition."""

import time

import dagster as dg
from pydantic import Field

from ats_pipelines.defs.automation import follows_inputs
from ats_pipelines.defs.market_data.checks import check_specs
from ats_pipelines.defs.market_data.partitions import (
    backfill_policy,
    daily_partitions,
    day_windows,
    partition_label,
    partition_window,
)
from ats_pipelines.defs.models import registry
from ats_pipelines.defs.models.checks import MODEL_CHECKS, SIGNAL_CHECKS, models_have_metrics, signals_have_snapshots
from ats_pipelines.defs.models.run import DAILY_MODEL, MINUTE_MODEL, TrainingConfig, TrainingOutcome, train_model
from ats_pipelines.defs.models.signals import signal_rows
from ats_pipelines.resources import ModelStoreResource, TimescaleResource

MODEL_KINDS = {"python", "xgboost", "timescaledb"}


@dg.multi_asset(
    name="train_model",
    specs=[
        dg.AssetSpec("model_training_runs", deps=["features"], group_name="models", kinds=MODEL_KINDS,
                     description="One row per training: parameters, status (running, completed, failed), walk-forward "
                     "fold metrics, held-out metrics and the training log."),
        dg.AssetSpec("models", deps=["features"], group_name="models", kinds=MODEL_KINDS,
                     description="XGBoost next-bar-direction models: features, parameters, held-out metrics, feature "
                     "importances, a version per name, the file with its SHA-256, and the promotion gate's verdict "
                     "(active, rejected, retired)."),
    ],
    check_specs=check_specs("models", MODEL_CHECKS),
)
def train_model_assets(context: dg.AssetExecutionContext, config: TrainingConfig, timescale: TimescaleResource,
                       model_store: ModelStoreResource):
    started, log = time.monotonic(), []
    try:
        outcome = train_model(timescale, model_store, config, log)
    finally:
        for line in log:
            context.log.info(line)
    yield dg.MaterializeResult(asset_key="model_training_runs", metadata={
        "run_id": outcome.run_id, "status": "completed", "rows": outcome.rows,
        "fold_metrics": dg.MetadataValue.md(_fold_table(outcome)),
        "dataset_seconds": round(outcome.dataset_seconds, 3), "training_seconds": round(outcome.training_seconds, 3),
        "seconds": round(time.monotonic() - started, 3),
    })
    yield dg.MaterializeResult(asset_key="models", check_results=[models_have_metrics(timescale)], metadata={
        "model_id": outcome.model_id, "model_name": config.model_name, "version": outcome.version,
        "status": outcome.status, "promotion": outcome.reason,
        "held_out_auc": outcome.held_out.metrics["auc"],
        "held_out_accuracy": outcome.held_out.metrics["accuracy"],
        "active_model_auc": outcome.active_auc if outcome.active_auc is not None else "none",
        "file_path": outcome.file_path,
        "fold_metrics": dg.MetadataValue.md(_fold_table(outcome)),
        "feature_importance": dg.MetadataValue.md(_importance_table(outcome.importances)),
    })


class SignalsConfig(dg.Config):
    """Which models score the bars and how confident a call must be."""

    model_names: list[str] = Field(default=[MINUTE_MODEL, DAILY_MODEL], description="the active model of each "
                                   "name scores the bars of its own timeframe (1m: the next bar; 1d: the next session)")
    threshold: float = Field(default=0.6, description="buy at P(up) >= threshold, sell at P(up) <= 1 - threshold")


@dg.asset(
    group_name="models",
    partitions_def=daily_partitions,
    backfill_policy=backfill_policy(),
    deps=["features", "models"],
    kinds=MODEL_KINDS,
    check_specs=check_specs("trading_signals", SIGNAL_CHECKS),
    automation_condition=follows_inputs(),
    description="Buy and sell signals of the active models (next minute bar, next session) on every bar of the "
    "partition after each model's training data, with the feature values used; deterministic ids, so re-runs "
    "add nothing (nor after the live loop scored the same bars).",
)
def trading_signals(context: dg.AssetExecutionContext, config: SignalsConfig, timescale: TimescaleResource,
                    model_store: ModelStoreResource) -> dg.MaterializeResult:
    window = partition_window(context)
    scored, counts, written, used = 0, {"buy": 0, "sell": 0}, {}, []
    for name in config.model_names:
        model = registry.active_model(timescale, name)
        if model is None:
            context.log.warning(f"no active model named {name}: no signals of it")
            continue
        used.append(f"{name} v{model.version} ({model.timeframe})")
        for day in day_windows(window):  # a day at a time: a range run's memory is one day's
            rows, bars = signal_rows(timescale, model_store, model, day, config.threshold)
            scored += bars
            if rows.height:
                for kind, count in rows.group_by("signal_type").len().iter_rows():
                    counts[kind] += count
                for key, value in timescale.write("trading_signals", rows).as_metadata().items():
                    written[key] = written.get(key, 0) + value if isinstance(value, int | float) else value
    return dg.MaterializeResult(check_results=[signals_have_snapshots(timescale, window)], metadata={
        "partitions": partition_label(context), "models": ", ".join(used) or "none",
        "threshold": config.threshold, "bars_scored": scored, **counts, **written,
    })


def _fold_table(outcome: TrainingOutcome) -> str:
    lines = ["| split | rows | accuracy | AUC | log loss | confident hit rate | confident rows | train | test |",
             "|---|---|---|---|---|---|---|---|---|"]
    for fold in [*outcome.folds, outcome.held_out]:
        m = fold.metrics
        lines.append(f"| {fold.name} | {m['rows']} | {m['accuracy']} | {m['auc']} | {m['log_loss']} | "
                     f"{m['confident_hit_rate']} | {m['confident_rows']} | {fold.train_range[0]} .. "
                     f"{fold.train_range[1]} | {fold.test_range[0]} .. {fold.test_range[1]} |")
    return "\n".join(lines)


def _importance_table(gains: dict[str, float]) -> str:
    ranked = sorted(gains.items(), key=lambda item: -item[1])
    return "\n".join(["| feature | share of gain |", "|---|---|", *(f"| {f} | {g} |" for f, g in ranked)])
