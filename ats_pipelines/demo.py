"""The end-to-end demo: migrate, serve offline vendor data, materialize every asset, summarise, open the UI.

Everything runs on this machine unless real keys are in the environment: the Polygon (REST and WebSocket),
Unusual Whales and Alpaca APIs are local fake servers, the data lands in the database named by
``ATS_DATABASE_URL``, and the runs are recorded in the Dagster instance of ``DAGSTER_HOME`` so the UI shows
them. The terminal shows progress and the summary; Dagster's own output goes to ``var/log/``. Every process
the demo starts runs in its own process group and is stopped with it (Ctrl-C included).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO

import dagster as dg
import httpx
from dagster._core.events import RunFailureReason
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from ats_pipelines.db import migrate
from ats_pipelines.defs.trading.backtest import run_backtest
from ats_pipelines.defs.trading.risk import RiskLimits
from ats_pipelines.market_calendar import sessions
from ats_pipelines.resources import RedisResource, TimescaleResource, redis_keys
from ats_pipelines.settings import database_url, redact_url

# 20 sessions: Presidents' Day (no session) and the March DST change fall inside.
DEMO_RANGE = ("2024-02-12", "2024-03-11")
DEMO_UNIVERSE = "AAPL,MSFT,NVDA,AMZN,GOOGL,META,JPM,XOM,SPY,QQQ"
DEMO_API_KEY = "demo-key"
DEMO_ALPACA = {"ALPACA_API_KEY_ID": "demo-key-id", "ALPACA_API_SECRET_KEY": "demo-secret"}
LOG_DIR = Path("var/log")
UI_ADDRESS = ("127.0.0.1", 3000)


@dataclass(frozen=True)
class Vendor:
    """An external API the demo serves locally unless its key is in the environment."""

    name: str
    key_env: str  # set by the user: the real API is used
    base_env: str
    command: str  # the `ats` command of its fake server
    fake_env: dict[str, str]  # what the demo sets when it serves the fake


VENDORS = (
    Vendor("Polygon", "POLYGON_API_KEY", "POLYGON_BASE_URL", "fake-polygon", {"POLYGON_API_KEY": DEMO_API_KEY}),
    Vendor("Unusual Whales", "UNUSUAL_WHALES_API_KEY", "UNUSUAL_WHALES_BASE_URL", "fake-unusual-whales",
           {"UNUSUAL_WHALES_API_KEY": DEMO_API_KEY}),
    Vendor("Alpaca", "ALPACA_API_KEY_ID", "ALPACA_BASE_URL", "fake-alpaca", DEMO_ALPACA),
)

MARKET_DATA = ("stock_aggs", "stock_aggs_5m", "stock_aggs_15m", "stock_aggs_1h", "crypto_aggs", "options_aggs",
               "trades", "quotes")
REFERENCE_AND_FLOW = ("ticker_details", "market_holidays", "market_status", "news_articles", "stock_splits",
                      "dividends", "unusual_whales_options")
FEATURES = ("features",)
TRAINING = ("model_training_runs", "models")
SIGNALS = ("trading_signals",)
ORDERS = ("orders",)
BOOK = ("positions", "trading_metrics")
CACHES_AND_MONITORING = ("feature_cache", "model_cache", "trading_cache", "status_cache", "system_metrics")
# The live stage: the session after the demo range, replayed by the fake live feed on a replay clock (the fake
# REST server's own bars of that day, each sent once its minute has ended on that clock); `ats stream` stores
# and hands each bar to `ats live`, which trades it on the same clock under the default risk limits.
LIVE_SESSION = date(2024, 3, 12)
LIVE_STAGE_MINUTES = 60  # the first hour of the session, before the summary
LIVE_STAGE_SPEED = 60.0  # replay-clock seconds per wall second: the hour in a minute
LIVE_WARMUP_SECONDS = 15.0  # the processes start this long (wall time) before the clock reaches the open
UI_REPLAY_SPEED_ENV = "ATS_DEMO_REPLAY_SPEED"  # the rest of the session while the UI is up (default: 1, real time)


@dataclass(frozen=True)
class Stage:
    """One Dagster run of the demo: which assets, over the demo range or not, with which run config."""

    title: str
    assets: tuple[str, ...]
    ranged: bool = False
    config: dict[str, object] | None = None
    live: bool = False  # not a Dagster run: the live stage (the fake feed, `ats stream` and `ats live`)


STAGES = (
    Stage("market data: bars, roll-ups, options, ticks (one backfill run)", MARKET_DATA, ranged=True),
    Stage("reference data, splits, dividends, flow alerts", REFERENCE_AND_FLOW),
    Stage("features of every bar (one backfill run)", FEATURES, ranged=True),
    Stage("training run: walk-forward XGBoost, promotion gate", TRAINING),
    Stage("trading signals of the active model", SIGNALS, ranged=True),
    Stage("orders from the stored signals (default limits: too old to trade, blocked with the reason)", ORDERS,
          ranged=True),
    Stage(f"live: ats live trades the first {LIVE_STAGE_MINUTES} minutes of {LIVE_SESSION} replayed by the feed "
          f"({LIVE_STAGE_SPEED:g}x)", (), live=True),
    Stage("positions and trading metrics", BOOK),
    Stage("Redis caches and system metrics", CACHES_AND_MONITORING),
)


@dataclass(frozen=True)
class LiveReplay:
    """One replay clock for the fake feed and `ats live`: it reads ``start`` at wall time ``origin``."""

    start: datetime
    speed: float
    origin: float

    @classmethod
    def from_now(cls, start: datetime, speed: float) -> LiveReplay:
        """The clock reads ``start`` :data:`LIVE_WARMUP_SECONDS` from now (the processes start meanwhile)."""
        return cls(start, speed, time.time() + LIVE_WARMUP_SECONDS)

    def args(self) -> list[str]:
        return ["--replay-from", self.start.isoformat(), "--replay-speed", f"{self.speed:g}",
                "--replay-origin", f"{self.origin:.3f}"]


def live_session_open() -> datetime:
    return sessions(LIVE_SESSION, LIVE_SESSION)[0].open


class Children:
    """Processes the demo started, each in its own process group, all stopped together (SIGTERM to the group,
    SIGKILL after a grace period), whatever ends the demo."""

    def __init__(self) -> None:
        self._processes: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, args: list[str], log: IO[str]) -> subprocess.Popen:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
        self._processes.append((name, process))
        return process

    def running(self) -> list[tuple[str, subprocess.Popen]]:
        return list(self._processes)

    def stop_all(self, grace_seconds: float = 20.0) -> None:
        for _, process in reversed(self._processes):
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + grace_seconds
        for _, process in reversed(self._processes):
            with suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            _signal_group(process, signal.SIGKILL)  # the group's stragglers too (webserver, daemon, code server)
        self._processes.clear()


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


def _wait_for_http(url: str, process: subprocess.Popen, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited ({process.returncode}); see {LOG_DIR}/")
        try:
            httpx.get(url, timeout=0.5)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {seconds:.0f} s; see {LOG_DIR}/")


@contextmanager
def fake_polygon(port: int) -> Iterator[str]:
    """Run ``ats fake-polygon`` in a child process for the block; yields its base URL (for the benchmarks)."""
    children = Children()
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    with open(LOG_DIR / "fake-polygon.log", "a") as log:
        process = children.start("fake-polygon", _ats("fake-polygon", "--port", str(port)), log)
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_for_http(url + "/", process)
            yield url
        finally:
            children.stop_all()


def _ats(*args: str) -> list[str]:
    return [sys.executable, "-m", "ats_pipelines.cli", *args]


@contextmanager
def terminal_output_to(log_path: Path) -> Iterator[Console]:
    """Send everything written to this process's stdout and stderr (Dagster's logs, warnings) to
    ``log_path`` for the block; the returned console writes to the terminal."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    terminal = os.fdopen(os.dup(1), "w", buffering=1)
    with open(log_path, "a") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield Console(file=terminal, highlight=False)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            terminal.close()


def materialize(stage: Stage) -> dg.ExecuteInProcessResult:
    """The stage's assets as one run in the Dagster instance (so the UI shows it)."""
    from ats_pipelines.definitions import defs

    job = defs.resolve_implicit_global_asset_job_def()
    tags = {ASSET_PARTITION_RANGE_START_TAG: DEMO_RANGE[0], ASSET_PARTITION_RANGE_END_TAG: DEMO_RANGE[1]} \
        if stage.ranged else None
    run_config = {"ops": {name: {"config": stage.config} for name in stage.assets}} if stage.config else None
    return job.execute_in_process(instance=dg.DagsterInstance.get(), tags=tags, run_config=run_config,
                                  asset_selection=[dg.AssetKey(name) for name in stage.assets],
                                  raise_on_error=False)


def interrupted(result: dg.ExecuteInProcessResult) -> bool:
    """Whether Ctrl-C or SIGTERM ended the run (in a step or between steps): Dagster records the run as failed
    by an unexpected termination."""
    return any(event.is_job_failure and event.job_failure_data.failure_reason == RunFailureReason.UNEXPECTED_TERMINATION
               for event in result.all_events)


def demo_window() -> tuple[datetime, datetime]:
    """``[first day, day after the last)`` of the demo range, in UTC."""
    first, last = (date.fromisoformat(d) for d in DEMO_RANGE)
    return (datetime.combine(first, datetime.min.time(), UTC),
            datetime.combine(last + timedelta(days=1), datetime.min.time(), UTC))


ROW_COUNTS_SQL = """
SELECT 'stock_aggs ' || timeframe || CASE WHEN adjusted THEN '' ELSE ' raw' END AS what, count(*) AS rows
FROM stock_aggs GROUP BY timeframe, adjusted
UNION ALL SELECT 'stock_aggs_5m / 15m / 1h', (SELECT count(*) FROM stock_aggs_5m) + (SELECT count(*) FROM
    stock_aggs_15m) + (SELECT count(*) FROM stock_aggs_1h)
UNION ALL SELECT 'crypto_aggs', count(*) FROM crypto_aggs
UNION ALL SELECT 'options_aggs', count(*) FROM options_aggs
UNION ALL SELECT 'trades', count(*) FROM trades UNION ALL SELECT 'quotes', count(*) FROM quotes
UNION ALL SELECT 'ticker_details', count(*) FROM ticker_details
UNION ALL SELECT 'market_holidays', count(*) FROM market_holidays
UNION ALL SELECT 'market_status', count(*) FROM market_status
UNION ALL SELECT 'news_articles', count(*) FROM news_articles
UNION ALL SELECT 'stock_splits', count(*) FROM stock_splits
UNION ALL SELECT 'dividends', count(*) FROM dividends
UNION ALL SELECT 'unusual_whales_options', count(*) FROM unusual_whales_options
UNION ALL SELECT 'features ' || timeframe, count(*) FROM features GROUP BY timeframe
UNION ALL SELECT 'model_training_runs', count(*) FROM model_training_runs
UNION ALL SELECT 'models ' || status, count(*) FROM models GROUP BY status
UNION ALL SELECT 'trading_signals ' || signal_type, count(*) FROM trading_signals GROUP BY signal_type
UNION ALL SELECT 'orders ' || status, count(*) FROM orders GROUP BY status
UNION ALL SELECT 'positions ' || status, count(*) FROM positions GROUP BY status
UNION ALL SELECT 'trading_metrics', count(*) FROM trading_metrics
UNION ALL SELECT 'system_metrics', count(*) FROM system_metrics
UNION ALL SELECT 'ingest_rejects', count(*) FROM ingest_rejects
ORDER BY 1
"""
NEWEST_MODEL_SQL = """
SELECT model_name, version, status, (metrics -> 'held_out' ->> 'auc')::float8 AS auc,
       (metrics -> 'held_out' ->> 'accuracy')::float8 AS accuracy, (metrics -> 'held_out' ->> 'rows')::int AS rows
FROM models ORDER BY created_at DESC LIMIT 1
"""


BLOCKED_SQL = """
SELECT a.metadata ->> 'rule' AS rule, count(*) AS signals, min(a.message) AS example
FROM alerts a JOIN trading_signals s ON s.signal_id = (a.metadata ->> 'signal_id')::uuid
WHERE a.alert_type = 'risk_limit' AND s."timestamp" >= %(start)s AND s."timestamp" < %(end)s
GROUP BY 1 ORDER BY 1
"""
LIVE_ORDERS_SQL = """
SELECT o.status, count(*) AS orders FROM orders o JOIN trading_signals s ON s.signal_id = o.signal_id
WHERE s."timestamp" >= %(start)s AND s."timestamp" < %(end)s GROUP BY 1 ORDER BY 1
"""
LIVE_BOOK_SQL = """
SELECT (SELECT count(*) FROM positions WHERE status = 'open') AS open_positions,
       (SELECT coalesce(sum(pnl), 0)::float8 FROM positions WHERE status = 'open') AS unrealised,
       (SELECT metric_value::float8 FROM trading_metrics WHERE metric_name = 'equity' AND timeframe = '1m'
        ORDER BY "timestamp" DESC LIMIT 1) AS equity
"""


def trading_tables(timescale: TimescaleResource) -> list[Table]:
    """What the default limits let through: the stored signals' blocks (with a reason each), and the live
    stage's orders, positions and equity."""
    window = dict(zip(("start", "end"), demo_window(), strict=True))
    live_day = datetime.combine(LIVE_SESSION, datetime.min.time(), UTC)
    live = {"start": live_day, "end": live_day + timedelta(days=1)}
    blocked = Table(title=f"orders from the stored signals of {DEMO_RANGE[0]}...{DEMO_RANGE[1]}, under the default "
                    "limits", title_justify="left")
    for column in ("rule", "signals blocked", "e.g."):
        blocked.add_column(column, justify="right" if column == "signals blocked" else "left")
    for rule, count, example in timescale.read(BLOCKED_SQL, window).iter_rows():
        blocked.add_row(rule, f"{count:,}", example)
    book = Table(title=f"live: ats live on {LIVE_SESSION} (replayed)", title_justify="left")
    book.add_column("under the default limits")
    book.add_column("value", justify="right")
    for status, count in timescale.read(LIVE_ORDERS_SQL, live).iter_rows():
        book.add_row(f"orders {status}", f"{count:,}")
    for rule, count, _ in timescale.read(BLOCKED_SQL, live).iter_rows():
        book.add_row(f"signals blocked: {rule}", f"{count:,}")
    positions, unrealised, equity = timescale.read(LIVE_BOOK_SQL).row(0)
    book.add_row("open positions", f"{positions:,}")
    book.add_row("unrealised P&L", f"{unrealised:,.2f}")
    book.add_row("equity", f"{equity:,.2f}" if equity is not None else "-")
    return [blocked, book]


def summary_tables(timescale: TimescaleResource) -> list[Table]:
    """Rows per table, the newest model's held-out metrics, the backtest of the demo's signals, and what the
    default limits let trade (:func:`trading_tables`)."""
    rows = Table(title="rows in the database", title_justify="left")
    rows.add_column("table")
    rows.add_column("rows", justify="right")
    for what, count in timescale.read(ROW_COUNTS_SQL).iter_rows():
        rows.add_row(what, f"{count:,}")
    model = Table(title="the model (held-out fifth of the data, never trained on)", title_justify="left")
    for column in ("model", "version", "status", "AUC", "accuracy", "rows"):
        model.add_column(column, justify="right" if column in {"AUC", "accuracy", "rows"} else "left")
    found = timescale.read(NEWEST_MODEL_SQL)
    for name, version, status, auc, accuracy, count in found.iter_rows():
        model.add_row(name, str(version), "promoted (active)" if status == "active" else f"not promoted ({status})",
                      f"{auc:.3f}" if auc is not None else "-", f"{accuracy:.3f}" if accuracy is not None else "-",
                      f"{count:,}" if count is not None else "-")
    result = run_backtest(timescale, "next_bar_direction_xgb", *demo_window(), RiskLimits())
    pnl = Table(title="P&L: the demo's signals replayed on the simulated broker (again: ats backtest)",
                title_justify="left")
    pnl.add_column("figure")
    pnl.add_column("value", justify="right")
    total = result.end_equity / result.start_equity - 1
    for figure, value in (("orders", f"{result.orders:,}"), ("blocked by risk limits", f"{result.blocked:,}"),
                          ("equity", f"{result.start_equity:,.2f} -> {result.end_equity:,.2f} ({total:+.2%})"),
                          ("realised P&L", f"{result.realized_pnl:,.2f}"),
                          ("commissions", f"{result.commissions:,.2f}"),
                          ("max drawdown", f"{result.max_drawdown:.2%}"),
                          ("Sharpe", f"{result.sharpe:.2f}" if result.sharpe is not None else "n/a")):
        pnl.add_row(figure, value)
    return [rows, model, pnl, *trading_tables(timescale)]


def choose_vendors(say: Callable[[str], None]) -> list[Vendor]:
    """Say, before anything starts, which APIs are real (their key is set) and which are served locally;
    returns the vendors to fake."""
    fakes = []
    for vendor in VENDORS:
        if os.environ.get(vendor.key_env):
            say(f"{vendor.name}: {vendor.key_env} is set, using the real API "
                f"({os.environ.get(vendor.base_env) or 'its default address'})")
        else:
            fakes.append(vendor)
            say(f"{vendor.name}: no {vendor.key_env}, serving offline data from a local fake server")
    return fakes


def run_demo(ui: bool, port: int) -> None:
    """The README's main command: see the module docstring."""
    console = Console(highlight=False)
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("ATS_UNIVERSE", DEMO_UNIVERSE)
    os.environ.setdefault("ATS_BROKER", "simulated")
    fakes = choose_vendors(console.print)
    children = Children()
    previous = stop_on_signals()
    try:
        with ExitStack() as stack:
            stack.callback(children.stop_all)
            log = stack.enter_context(open(LOG_DIR / "servers.log", "a"))
            for offset, vendor in enumerate(fakes):
                url = f"http://127.0.0.1:{port + offset}"
                _wait_for_http(url + "/", children.start(vendor.command, _ats(vendor.command, "--port",
                                                                              str(port + offset)), log))
                os.environ.update({vendor.base_env: url, **vendor.fake_env})
                console.print(f"  {vendor.name} fake server: {url}")
            fake_feed = any(v.name == "Polygon" for v in fakes) and not os.environ.get("POLYGON_WS_URL")
            live = LivePath(port + len(VENDORS), log, fake_feed)
            _pipeline(console, stack, live)
            if ui:
                _serve_ui(console, children, live)
    except KeyboardInterrupt:
        console.print("\nstopping: every process the demo started is being stopped")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def stop_on_signals() -> dict[int, object]:
    """Ctrl-C, SIGTERM and SIGHUP raise KeyboardInterrupt, so the demo stops its children on any of them
    (installed again after each Dagster run, which sets and resets its own handlers); returns the previous ones."""
    return {sig: signal.signal(sig, _raise_interrupt) for sig in STOP_SIGNALS}


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@dataclass(frozen=True)
class LivePath:
    """The live feed (the local fake, replaying a recorded session, unless the real Polygon feed is used),
    `ats stream` and `ats live`, on one clock."""

    ws_port: int
    log: IO[str]
    fake_feed: bool

    def start(self, children: Children, replay: LiveReplay | None) -> None:
        clock = replay.args() if replay else []
        if self.fake_feed:
            feed = children.start("fake-polygon-ws", _ats("fake-polygon-ws", "--port", str(self.ws_port), *clock),
                                  self.log)
            _wait_for_http(f"http://127.0.0.1:{self.ws_port}/", feed)
            os.environ["POLYGON_WS_URL"] = f"ws://127.0.0.1:{self.ws_port}"
        with open(LOG_DIR / "stream.log", "a") as stream_log:
            children.start("stream", _ats("stream"), stream_log)
        with open(LOG_DIR / "live.log", "a") as live_log:
            children.start("live", _ats("live", "--report-to-dagster", *clock), live_log)

    def run_stage(self) -> str:
        """The live stage: the first :data:`LIVE_STAGE_MINUTES` of :data:`LIVE_SESSION` through the whole live
        path, until ``ats live`` has handled the last of them; returns what it did."""
        if not self.fake_feed:
            return "skipped: the real Polygon feed is traded on the wall clock while the UI is up"
        children = Children()
        opens = live_session_open()
        last_bar = opens + timedelta(minutes=LIVE_STAGE_MINUTES - 1)
        redis = RedisResource()
        redis.client.delete(redis_keys.component_status("live"))
        try:
            self.start(children, LiveReplay.from_now(opens, LIVE_STAGE_SPEED))
            deadline = time.monotonic() + LIVE_WARMUP_SECONDS + LIVE_STAGE_MINUTES * 60 / LIVE_STAGE_SPEED + 180
            while (handled := _live_last_bar(redis)) is None or handled < last_bar:
                exited = [name for name, process in children.running() if process.poll() is not None]
                if exited or time.monotonic() > deadline:
                    raise RuntimeError(f"the live stage stopped at bar {handled} ({', '.join(exited) or 'too slow'}"
                                       f"); see {LOG_DIR}/live.log and {LOG_DIR}/stream.log")
                time.sleep(0.5)
        finally:
            children.stop_all()
        return f"ats live handled every bar to {last_bar:%H:%M} UTC"


def _live_last_bar(redis: RedisResource) -> datetime | None:
    last = redis.client.hget(redis_keys.component_status("live"), "last_bar")
    return datetime.fromisoformat(last.decode() if isinstance(last, bytes) else last) if last else None


def _pipeline(console: Console, stack: ExitStack, live: LivePath) -> None:
    url = database_url()
    console.print(f"database: {redact_url(url)}; universe {os.environ['ATS_UNIVERSE']}; sessions "
                  f"{DEMO_RANGE[0]}...{DEMO_RANGE[1]}; broker {os.environ['ATS_BROKER']}")
    log_path = LOG_DIR / "demo.log"
    console.print(f"Dagster's own output goes to {log_path}")
    failed: list[str] = []
    with terminal_output_to(log_path) as terminal:
        migrate.upgrade(url, "head")
        timescale = TimescaleResource()
        stack.callback(timescale.close)
        terminal.print(timescale.mode().describe())
        columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/"
                   "{task.total}"), TimeElapsedColumn())
        with Progress(*columns, console=terminal) as progress:
            overall = progress.add_task("the whole pipeline", total=len(STAGES))
            for stage in STAGES:
                step = progress.add_task(stage.title, total=1)
                started = time.monotonic()
                if stage.live:
                    try:
                        done = live.run_stage()
                    except RuntimeError as exc:
                        progress.console.print(f"[red]FAILED[/] {stage.title}: {exc}")
                        failed.append(stage.title)
                        break
                    progress.update(step, completed=1)
                    progress.advance(overall)
                    progress.console.print(f"[green]ok[/] {stage.title} ({time.monotonic() - started:.1f} s, "
                                           f"{done})")
                    continue
                result = materialize(stage)
                if not result.success and interrupted(result):
                    raise KeyboardInterrupt  # Ctrl-C reached the run: stop as between runs, not "FAILED"
                progress.update(step, completed=1)
                progress.advance(overall)
                checks = result.get_asset_check_evaluations()
                bad = [f"{c.asset_key.to_user_string()}.{c.check_name}" for c in checks if not c.passed]
                state = "[green]ok[/]" if result.success and not bad else "[red]FAILED[/]"
                progress.console.print(f"{state} {stage.title} ({time.monotonic() - started:.1f} s, "
                                       f"{len(checks)} checks{', failed: ' + ', '.join(bad) if bad else ''})")
                if not result.success:
                    failed.append(stage.title)
                    break
        for table in summary_tables(timescale):
            terminal.print(table)
    if failed:
        raise SystemExit(f"a demo run failed ({failed[0]}); its logs are in {log_path} and in the Dagster UI")


def _serve_ui(console: Console, children: Children, live: LivePath) -> None:
    """The live path (the rest of the replayed session, or the real feed on the wall clock) and ``dg dev``
    (webserver and daemon: schedules and sensors run), until Ctrl-C."""
    stop_on_signals()  # the Dagster runs before reset the process's handlers
    replay = None
    if live.fake_feed:
        speed = float(os.environ.get(UI_REPLAY_SPEED_ENV) or 1.0)
        replay = LiveReplay.from_now(live_session_open() + timedelta(minutes=LIVE_STAGE_MINUTES), speed)
        console.print(f"  Polygon WebSocket fake live feed: ws://127.0.0.1:{live.ws_port}, replaying {LIVE_SESSION} "
                      f"from {replay.start:%H:%M} UTC at {speed:g}x ({UI_REPLAY_SPEED_ENV}); the live clock is the "
                      "replay's, so orders go out in that session's hours whatever the hour here")
    live.start(children, replay)
    console.print(f"streaming the universe into Redis and the database (ats stream; log {LOG_DIR}/stream.log)")
    console.print(f"trading each completed bar the stream publishes under the default limits (ats live; log "
                  f"{LOG_DIR}/live.log): orders, positions and equity in the database and as materializations of "
                  "orders and positions in the UI; watch them arrive with: .venv/bin/ats book")
    host, ui_port = UI_ADDRESS
    dg_cli = str(Path(sys.executable).with_name("dg"))
    with open(LOG_DIR / "dagster-dev.log", "a") as ui_log:
        ui_process = children.start("dg dev", [dg_cli, "dev", "--host", host, "--port", str(ui_port)], ui_log)
    console.print(f"starting the Dagster UI and daemon (dg dev; log {LOG_DIR}/dagster-dev.log) ...")
    _wait_for_http(f"http://{host}:{ui_port}/server_info", ui_process, seconds=180)
    console.print(f"[bold]Dagster UI: http://{host}:{ui_port}[/]  (schedules and sensors run; Ctrl-C stops "
                  "everything the demo started)")
    ui_process.wait()
    console.print(f"dg dev exited ({ui_process.returncode}); see {LOG_DIR}/dagster-dev.log")
