"""Scale benchmark: the daily pipeline at two sizes, seconds and peak memory per symbol-session of each stage.

Prints one JSON line. Each size is a fresh database, then five stages, each in a fresh Python process (so its
``ru_maxrss`` is that stage's own peak resident memory; imports included, which is the fixed part):

* ``bars`` — one backfill run of ``stock_aggs`` over the sessions (1m with extended hours, 1d, raw 1d) from the
  local fake Polygon server (in its own process: its memory is not the stage's);
* ``features`` — one range run of the ``features`` asset (1m and 1d), with its Parquet export on
  (``ATS_FEATURE_EXPORT_DIR``, a temporary directory; ``--no-export``: off);
* ``dataset`` — the training read alone: :func:`training_set` of the 1m features (read, pivot, labels, the
  days at current versions) over the training's window;
* ``training`` — one ``train_model`` materialization (dataset, walk-forward folds, held-out, file, registry);
* ``signals`` — one range run of ``trading_signals`` over the sessions. The trained model has seen every
  session, so before this stage (untimed) its recorded training end is moved before the first session: the
  stage then scores every bar of the range, as a model trained earlier would.

Figures per stage and size: ``seconds``, ``peak_rss_mb``, ``us_per_symbol_session`` (seconds per
symbol-session, µs), and the growth ratios from the small to the large size: ``cost_growth`` (seconds per
symbol-session, large over small: 1.0 is linear, above it grows faster than the work) and ``rss_growth``
(peak RSS, large over small). The baseline of each figure is the same stage at the small size, in the same run.

    python -m bench.scale_bench [--symbols 12] [--sessions 3] [--factor 4] [--rounds 50]
        [--database-url postgresql://127.0.0.1:5432/ats_bench]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta

STAGES = ("bars", "features", "dataset", "training", "signals")
FIRST_SESSION = date(2024, 1, 2)


def session_range(sessions: int) -> tuple[str, str]:
    """The first and last date of ``sessions`` regular sessions from FIRST_SESSION."""
    from ats_pipelines.market_calendar import sessions as calendar

    days = [s.day for s in calendar(FIRST_SESSION, FIRST_SESSION + timedelta(days=sessions * 2 + 10))][:sessions]
    return days[0].isoformat(), days[-1].isoformat()


def run_stage(args: argparse.Namespace) -> dict[str, float]:
    """One stage in this process; returns its seconds (imports and setup excluded)."""
    import dagster as dg
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

    from ats_pipelines.defs.features.assets import features
    from ats_pipelines.defs.features.versions import registered_versions
    from ats_pipelines.defs.market_data.assets import stock_aggs
    from ats_pipelines.defs.models.assets import trading_signals, train_model_assets
    from ats_pipelines.defs.models.run import TrainingConfig, training_set
    from ats_pipelines.demo import DEMO_API_KEY
    from ats_pipelines.resources import ModelStoreResource, PolygonResource, TimescaleResource, UniverseResource

    timescale = TimescaleResource(database_url=args.database_url)
    symbols = [f"Z{i:03d}" for i in range(args.symbols)]
    tags = {ASSET_PARTITION_RANGE_START_TAG: args.first, ASSET_PARTITION_RANGE_END_TAG: args.last}
    store = ModelStoreResource(directory=args.models_dir)
    training = {"ops": {"train_model": {"config": {"num_boost_round": args.rounds, "folds": 2}}}}
    runs = {
        "bars": lambda: dg.materialize([stock_aggs], tags=tags, instance=dg.DagsterInstance.ephemeral(), resources={
            "timescale": timescale, "universe": UniverseResource(stocks=",".join(symbols)),
            "polygon": PolygonResource(api_key=DEMO_API_KEY, base_url=args.base_url, requests_per_minute=60_000)}),
        "features": lambda: dg.materialize([features], tags=tags, instance=dg.DagsterInstance.ephemeral(),
                                           resources={"timescale": timescale,
                                                      "universe": UniverseResource(stocks=",".join(symbols))}),
        "dataset": lambda: training_set(timescale, TrainingConfig(), _feature_names(),
                                        registered_versions(timescale, _feature_names())),
        "training": lambda: dg.materialize([train_model_assets], instance=dg.DagsterInstance.ephemeral(),
                                           run_config=training, resources={"timescale": timescale,
                                                                           "model_store": store}),
        "signals": lambda: dg.materialize([trading_signals], tags=tags, instance=dg.DagsterInstance.ephemeral(),
                                          resources={"timescale": timescale, "model_store": store}),
    }
    if args.stage == "signals":
        timescale.execute("UPDATE models SET parameters = jsonb_set(parameters, '{training_data,end}', "
                          "to_jsonb(%(end)s::text)) WHERE status = 'active'", {"end": "2000-01-01T00:00:00+00:00"})
    started = time.perf_counter()
    result = runs[args.stage]()
    seconds = time.perf_counter() - started
    if hasattr(result, "success"):
        assert result.success, f"stage {args.stage} failed"
    timescale.close()
    return {"seconds": seconds}


def _feature_names() -> list[str]:
    from ats_pipelines.defs.features.technical import NAMES

    return list(NAMES)


def stage_in_subprocess(stage: str, args: argparse.Namespace, first: str, last: str, symbols: int,
                        models_dir: str, base_url: str) -> dict[str, float]:
    """Run one stage in a fresh interpreter (the export on, in a directory beside the models, unless
    ``--no-export``); its seconds and peak RSS (MiB)."""
    from ats_pipelines.defs.features.export import EXPORT_DIR_ENV

    env = {k: v for k, v in os.environ.items() if k != EXPORT_DIR_ENV}
    if not args.no_export:
        env[EXPORT_DIR_ENV] = os.path.join(models_dir, "features")
    out = subprocess.run(
        [sys.executable, "-m", "bench.scale_bench", "--stage", stage, "--first", first, "--last", last,
         "--symbols", str(symbols), "--rounds", str(args.rounds), "--models-dir", models_dir,
         "--base-url", base_url, "--database-url", args.database_url],
        check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def one_size(args: argparse.Namespace, symbols: int, sessions: int, base_url: str) -> dict[str, dict]:
    """A fresh database and every stage at one size."""
    from bench.common import fresh_database

    fresh_database(args.database_url)
    first, last = session_range(sessions)
    with tempfile.TemporaryDirectory() as models_dir:
        stages = {stage: stage_in_subprocess(stage, args, first, last, symbols, models_dir, base_url)
                  for stage in STAGES}
    units = symbols * sessions
    return {stage: {"seconds": round(f["seconds"], 3), "peak_rss_mb": round(f["peak_rss_mb"], 1),
                    "us_per_symbol_session": round(f["seconds"] / units * 1e6)} for stage, f in stages.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--symbols", type=int, default=12, help="symbols at the small size")
    parser.add_argument("--sessions", type=int, default=3, help="sessions at the small size")
    parser.add_argument("--factor", type=int, default=4, help="the large size has factor × symbols and sessions")
    parser.add_argument("--rounds", type=int, default=50, help="boosting rounds of the training stage")
    parser.add_argument("--port", type=int, default=8767)
    parser.add_argument("--no-export", action="store_true", help="the features' Parquet export off")
    parser.add_argument("--database-url", default="postgresql://127.0.0.1:5432/ats_bench")
    parser.add_argument("--stage", choices=STAGES, help=argparse.SUPPRESS)
    parser.add_argument("--first", help=argparse.SUPPRESS)
    parser.add_argument("--last", help=argparse.SUPPRESS)
    parser.add_argument("--models-dir", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.stage:
        figures = run_stage(args)
        figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(figures))
        return

    from ats_pipelines.demo import fake_polygon

    small_units = args.symbols * args.sessions
    large_units = small_units * args.factor * args.factor
    with fake_polygon(args.port) as base_url:
        small = one_size(args, args.symbols, args.sessions, base_url)
        large = one_size(args, args.symbols * args.factor, args.sessions * args.factor, base_url)
    growth = {stage: {
        "cost_growth": round(large[stage]["seconds"] / large_units / (small[stage]["seconds"] / small_units), 3),
        "rss_growth": round(large[stage]["peak_rss_mb"] / small[stage]["peak_rss_mb"], 3),
    } for stage in STAGES}
    print(json.dumps({
        "bench": "scale",
        "small": {"symbols": args.symbols, "sessions": args.sessions, "symbol_sessions": small_units, **small},
        "large": {"symbols": args.symbols * args.factor, "sessions": args.sessions * args.factor,
                  "symbol_sessions": large_units, **large},
        "growth_large_over_small": growth,
        "work_growth": large_units / small_units,
        "rounds": args.rounds,
        "feature_export": not args.no_export,
    }))


if __name__ == "__main__":
    main()
