"""The end-to-end demo: migrate, serve offline vendor data, backfill the pipeline, open the UI.

Everything runs on this machine: the Polygon and Unusual Whales APIs are local fake servers (unless
``POLYGON_BASE_URL`` / ``UNUSUAL_WHALES_BASE_URL`` are set), the data lands in the database named by
``ATS_DATABASE_URL``, and the runs are recorded in the Dagster instance of ``DAGSTER_HOME`` so the UI
shows them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, date, datetime, timedelta

import click
import dagster as dg
import httpx
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from ats_pipelines.db import migrate
from ats_pipelines.defs.trading.backtest import run_backtest
from ats_pipelines.defs.trading.risk import RiskLimits
from ats_pipelines.resources import TimescaleResource
from ats_pipelines.settings import database_url, redact_url

DEMO_RANGE = ("2024-03-06", "2024-03-12")  # five sessions around the March DST change
DEMO_API_KEY = "demo-key"
FAKE_SERVERS = (("POLYGON", "fake-polygon"), ("UNUSUAL_WHALES", "fake-unusual-whales"))  # on --port, --port + 1


@contextmanager
def fake_polygon(port: int) -> Iterator[str]:
    """Run ``ats fake-polygon`` in a child process for the block; yields its base URL."""
    with _fake_server("fake-polygon", port) as url:
        yield url


@contextmanager
def _fake_server(command: str, port: int) -> Iterator[str]:
    process = subprocess.Popen([sys.executable, "-m", "ats_pipelines.cli", command, "--port", str(port)])
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(url + "/", timeout=0.5)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def live_stream(port: int) -> Iterator[None]:
    """``ats stream`` in a child process (against a local live-feed server unless POLYGON_WS_URL is set);
    SIGTERM at the end makes it flush its buffer."""
    with ExitStack() as stack:
        if not os.environ.get("POLYGON_WS_URL"):
            http_url = stack.enter_context(_fake_server("fake-polygon-ws", port))
            os.environ["POLYGON_WS_URL"] = http_url.replace("http://", "ws://")
            click.echo(f"Polygon WebSocket: local live-feed server at {os.environ['POLYGON_WS_URL']}")
        process = subprocess.Popen([sys.executable, "-m", "ats_pipelines.cli", "stream"])
        click.echo("streaming the universe into Redis and the database (ats stream)")
        try:
            yield
        finally:
            process.terminate()
            process.wait(timeout=30)


MARKET_DATA = ("stock_aggs", "stock_aggs_5m", "stock_aggs_15m", "stock_aggs_1h", "crypto_aggs", "options_aggs",
               "trades", "quotes")
REFERENCE_AND_FLOW = ("ticker_details", "market_holidays", "market_status", "news_articles",
                      "unusual_whales_options")
FEATURES = ("features",)
TRAINING = ("model_training_runs", "models")
SIGNALS = ("trading_signals",)
ORDERS = ("orders",)
BOOK = ("positions", "trading_metrics")
# The demo trades old sessions on the simulated broker: signal and market-data age limits would (rightly)
# refuse two-year-old signals and data, so the demo lifts just those two.
DEMO_TRADING = {"max_signal_age_minutes": 1e9, "max_data_age_minutes": 1e9}


def materialize(names: tuple[str, ...], tags: dict[str, str] | None = None,
                config: dict[str, object] | None = None) -> dg.ExecuteInProcessResult:
    """Materialize the named assets as one run in the Dagster instance (so the UI shows it); ``config`` is
    every asset's run config."""
    from ats_pipelines.definitions import defs

    job = defs.resolve_implicit_global_asset_job_def()
    run_config = {"ops": {name: {"config": config} for name in names}} if config else None
    return job.execute_in_process(instance=dg.DagsterInstance.get(), tags=tags, run_config=run_config,
                                  asset_selection=[dg.AssetKey(name) for name in names])


def summary(timescale: TimescaleResource) -> str:
    counts = timescale.read(
        "SELECT 'stock_aggs ' || timeframe AS what, count(*) AS rows FROM stock_aggs GROUP BY timeframe"
        " UNION ALL SELECT 'stock_aggs_5m', count(*) FROM stock_aggs_5m"
        " UNION ALL SELECT 'crypto_aggs', count(*) FROM crypto_aggs"
        " UNION ALL SELECT 'options_aggs', count(*) FROM options_aggs"
        " UNION ALL SELECT 'trades', count(*) FROM trades UNION ALL SELECT 'quotes', count(*) FROM quotes"
        " UNION ALL SELECT 'ticker_details', count(*) FROM ticker_details"
        " UNION ALL SELECT 'market_holidays', count(*) FROM market_holidays"
        " UNION ALL SELECT 'market_status', count(*) FROM market_status"
        " UNION ALL SELECT 'news_articles', count(*) FROM news_articles"
        " UNION ALL SELECT 'flow alerts', count(*) FROM unusual_whales_options"
        " UNION ALL SELECT 'features ' || timeframe, count(*) FROM features GROUP BY timeframe"
        " UNION ALL SELECT 'models ' || status, count(*) FROM models GROUP BY status"
        " UNION ALL SELECT 'trading_signals', count(*) FROM trading_signals"
        " UNION ALL SELECT 'orders ' || status, count(*) FROM orders GROUP BY status"
        " UNION ALL SELECT 'positions ' || status, count(*) FROM positions GROUP BY status"
        " UNION ALL SELECT 'trading_metrics', count(*) FROM trading_metrics"
        " UNION ALL SELECT 'ingest_rejects', count(*) FROM ingest_rejects ORDER BY 1"
    )
    return "\n".join(f"  {what:<16} {rows:>9,}" for what, rows in counts.iter_rows())


def demo_window() -> tuple[datetime, datetime]:
    """``[first day, day after the last)`` of the demo range, in UTC."""
    first, last = (date.fromisoformat(d) for d in DEMO_RANGE)
    return (datetime.combine(first, datetime.min.time(), UTC),
            datetime.combine(last + timedelta(days=1), datetime.min.time(), UTC))


def run_demo(ui: bool, port: int) -> None:
    url = database_url()
    click.echo(f"database: {redact_url(url)}")
    migrate.upgrade(url, "head")
    timescale = TimescaleResource()
    click.echo(timescale.mode().describe())
    with ExitStack() as stack:
        for offset, (vendor, command) in enumerate(FAKE_SERVERS):
            if not os.environ.get(f"{vendor}_BASE_URL"):
                base_url = stack.enter_context(_fake_server(command, port + offset))
                os.environ.update({f"{vendor}_BASE_URL": base_url, f"{vendor}_API_KEY": DEMO_API_KEY})
                click.echo(f"{vendor.replace('_', ' ').title()} API: local fake server at {base_url}")
        first, last = DEMO_RANGE
        click.echo(f"backfilling {first}...{last} as one run (universe: {os.environ.get('ATS_UNIVERSE') or 'default'})")
        demo_range = {ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last}
        os.environ.setdefault("ATS_BROKER", "simulated")
        click.echo(f"broker: {os.environ['ATS_BROKER']}")
        results = [materialize(MARKET_DATA, demo_range), materialize(REFERENCE_AND_FLOW),
                   materialize(FEATURES, demo_range), materialize(TRAINING), materialize(SIGNALS, demo_range),
                   materialize(ORDERS, demo_range, DEMO_TRADING), materialize(BOOK, config=DEMO_TRADING)]
        for check in (c for r in results for c in r.get_asset_check_evaluations()):
            click.echo(f"  check {check.asset_key.to_user_string()}.{check.check_name}: "
                       f"{'passed' if check.passed else 'FAILED'}")
        click.echo("rows now in the database:\n" + summary(timescale))
        if not all(r.success for r in results):
            timescale.close()
            raise click.ClickException("a demo run failed; see the Dagster logs above")
        backtest = run_backtest(timescale, "next_bar_direction_xgb", *demo_window(), RiskLimits())
        click.echo("backtest of the demo signals (simulated broker; again any time: ats backtest):\n"
                   + backtest.summary())
        timescale.close()
        if ui:
            stack.enter_context(live_stream(port + len(FAKE_SERVERS)))
            click.echo("starting the Dagster UI on http://127.0.0.1:3000 (Ctrl-C stops it)")
            subprocess.run([sys.executable, "-m", "dagster", "dev", "-m", "ats_pipelines.definitions",
                            "-h", "127.0.0.1", "-p", "3000"], check=False)
