"""The ``ats`` command: database migrations and reports, and the end-to-end demo."""

from __future__ import annotations

import functools
import logging
import os
from datetime import UTC, datetime
from pathlib import Path

import click

from ats_pipelines.cli_errors import OneLineErrors
from ats_pipelines.db import migrate
from ats_pipelines.db.report import schema_report
from ats_pipelines.resources.timescale import TimescaleResource
from ats_pipelines.settings import database_url, redact_url


@click.group(cls=OneLineErrors)
@click.option("-v", "--verbose", is_flag=True, help="log migration steps")
@click.option("--debug", is_flag=True, help="log everything and show the traceback of an error")
def main(verbose: bool, debug: bool) -> None:
    """ats_pipelines: market data into TimescaleDB and Redis, orchestrated by Dagster.

    A missing setting or service ends a command with one line naming the variable or the command to run."""
    logging.basicConfig(level=logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if not os.environ.get("DAGSTER_HOME") and Path("dagster.yaml").is_file():
        os.environ["DAGSTER_HOME"] = str(Path.cwd())  # the repository root's instance, as `make` sets it


def migrated(command):
    """Run ``command`` only on a database at the head revision (else one line: run `ats db upgrade`)."""

    @functools.wraps(command)
    def checked(*args, **kwargs):
        migrate.require_head(database_url())
        return command(*args, **kwargs)

    return checked


@main.group()
def db() -> None:
    """Migrations of the database named by ATS_DATABASE_URL."""


@db.command()
@click.argument("revision", default="head")
def upgrade(revision: str) -> None:
    """Upgrade to REVISION (default: head), then say which mode the database runs in."""
    url = database_url()
    click.echo(f"upgrading {redact_url(url)} to {revision}")
    migrate.upgrade(url, revision)
    _echo_mode()


@db.command()
@click.argument("revision", default="-1")
def downgrade(revision: str) -> None:
    """Downgrade to REVISION (default: one step back; 'base' removes everything)."""
    url = database_url()
    click.echo(f"downgrading {redact_url(url)} to {revision}")
    migrate.downgrade(url, revision)


@db.command()
def current() -> None:
    """Print the database's revision and the newest one available."""
    click.echo(f"current: {migrate.current_revision(database_url()) or 'none (empty database)'}")
    click.echo(f"head:    {migrate.head_revision()}")


@db.command()
def mode() -> None:
    """Print whether the database runs with TimescaleDB or on plain PostgreSQL."""
    _echo_mode()


@db.command()
def report() -> None:
    """Print the mode and every table with its key, size and TimescaleDB settings."""
    resource = TimescaleResource()
    try:
        click.echo(schema_report(resource))
    finally:
        resource.close()


def _echo_mode() -> None:
    resource = TimescaleResource()
    try:
        click.echo(resource.mode().describe())
    finally:
        resource.close()


@main.command()
@click.option("--ui/--no-ui", default=True, help="start the Dagster UI, daemon and stream afterwards")
@click.option("--port", default=8765, show_default=True,
              help="first port of the local fake servers (Polygon; Unusual Whales, Alpaca and the WebSocket "
                   "feed take the next three)")
def demo(ui: bool, port: int) -> None:
    """Materialize every asset for a demo universe (10 symbols, 20 sessions) from local fake vendor servers
    (or the real APIs where their keys are set), print a summary, then run the Dagster UI, daemon and stream
    until Ctrl-C."""
    from ats_pipelines.demo import run_demo

    run_demo(ui, port)


@main.command()
@click.option("--flush-seconds", default=1.0, show_default=True, help="how often buffered rows are written")
@migrated
def stream(flush_seconds: float) -> None:
    """Stream trades, quotes and minute bars of the universe (stocks and crypto) from the Polygon WebSocket
    (POLYGON_WS_URL) into Redis and TimescaleDB until SIGTERM or Ctrl-C, which flush the buffer first."""
    from ats_pipelines.resources import PolygonResource, RedisResource
    from ats_pipelines.stream.service import (
        StreamAuthError,
        StreamService,
        run_until_signalled,
        settings_from_environment,
    )

    logging.getLogger("ats_pipelines.stream").setLevel(logging.INFO)
    try:
        settings = settings_from_environment(flush_seconds)
        click.echo(f"streaming {settings.symbols} from {redact_url(settings.url)}")
        # A short connection timeout: a database that is down costs a flush seconds, not the shutdown minutes.
        redis = RedisResource()  # the gap filler's Polygon requests share the key's rate limit with the runs
        unwritten = run_until_signalled(StreamService(settings, TimescaleResource(connect_timeout_seconds=5), redis,
                                                      PolygonResource(api_key=settings.api_key, redis=redis)))
    except StreamAuthError as exc:
        raise click.ClickException(str(exc)) from None
    if unwritten:
        raise click.ClickException(f"stream stopped with {unwritten} buffered rows NOT written: the database "
                                   "refused them until the end")
    click.echo("stream stopped; buffered rows written")


def replay_options(command):
    """``--replay-from``, ``--replay-speed`` and ``--replay-origin``: one replay clock for the feed and the loop."""
    for option in reversed((
            click.option("--replay-from", default=None, help="ISO time (UTC): the clock starts there instead of "
                         "now, to trade a recorded session as if live"),
            click.option("--replay-speed", default=1.0, show_default=True,
                         help="with --replay-from: clock seconds per wall second"),
            click.option("--replay-origin", default=None, type=float, help="with --replay-from: the wall time "
                         "(Unix seconds) at which the clock reads --replay-from (default: the start; processes "
                         "given the same three values share one clock)"))):
        command = option(command)
    return command


def _dagster_listener():
    import dagster as dg

    from ats_pipelines.live.dagster_events import report_to_dagster

    return report_to_dagster(dg.DagsterInstance.get())


def _utc(iso: str) -> datetime:
    at = datetime.fromisoformat(iso)
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


@main.command()
@click.option("--strategy", default="default", show_default=True, help="strategy the orders are placed for")
@click.option("--model", "model_name", default="next_bar_direction_xgb", show_default=True,
              help="the active model of this name scores each bar (a promotion is picked up at the next bar)")
@click.option("--threshold", default=0.6, show_default=True, help="buy at P(up) >= threshold, sell at <= 1 - it")
@click.option("--consumer", default=None, help="consumer name in the stream's group (default live-<host>); a "
              "restart under the same name resumes its unacknowledged bars")
@click.option("--report-to-dagster", is_flag=True, help="record each bar's orders and positions as runless "
              "materializations in the Dagster instance of DAGSTER_HOME (the UI shows them arriving)")
@replay_options
@migrated
def live(strategy: str, model_name: str, threshold: float, consumer: str | None, report_to_dagster: bool,
         replay_from: str | None, replay_speed: float, replay_origin: float | None) -> None:
    """Trade while the market is open: at every completed bar the stream publishes (ATS_UNIVERSE), compute
    the features, score the active model, write the signals and place the orders (ATS_BROKER) under the
    default risk limits, until SIGTERM or Ctrl-C."""
    import signal
    import threading

    from ats_pipelines.live.clock import replay_clock, wall_clock
    from ats_pipelines.live.loop import LiveLoop, LiveSettings
    from ats_pipelines.resources import ModelStoreResource, RedisResource, UniverseResource
    from ats_pipelines.resources.brokers import BrokerResource

    logging.getLogger("ats_pipelines.live").setLevel(logging.INFO)
    clock = replay_clock(_utc(replay_from), replay_speed, replay_origin) if replay_from else wall_clock
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    symbols = UniverseResource().stock_symbols()
    redis = RedisResource()
    with LiveLoop(TimescaleResource(), redis, BrokerResource(redis=redis), ModelStoreResource(), symbols,
                  LiveSettings(strategy=strategy, model_name=model_name, threshold=threshold), clock=clock,
                  consumer=consumer, on_book_change=_dagster_listener() if report_to_dagster else None) as loop:
        click.echo(f"live loop on {len(symbols)} symbols as {loop.bus.consumer}; strategy {strategy}, model "
                   f"{model_name}")
        loop.run(stop)
    click.echo("live loop stopped")


@main.command()
@click.option("--orders", default=20, show_default=True, help="how many of the newest orders to list")
@migrated
def book(orders: int) -> None:
    """Show the trading book as it stands: the live loop's state, the newest orders, the open positions with
    their P&L and each strategy's last recorded equity (run it again to see them arrive)."""
    from rich.console import Console

    from ats_pipelines.defs.trading.book import book_tables
    from ats_pipelines.resources import RedisResource

    console = Console(highlight=False)
    for table in book_tables(TimescaleResource(), RedisResource(), orders):
        console.print(table)


@main.command()
@click.option("--model", "model_name", default="next_bar_direction_xgb", show_default=True,
              help="whose stored signals to trade")
@click.option("--start", default="2000-01-01", show_default=True, help="first day (UTC)")
@click.option("--end", default="2100-01-01", show_default=True, help="day after the last (UTC)")
@click.option("--cash", default=100_000.0, show_default=True)
@migrated
def backtest(model_name: str, start: str, end: str, cash: float) -> None:
    """Trade a model's stored signals through the risk limits and the simulated broker (fills at the next
    bar's open against the stored bars) and print the equity curve and its summary."""

    from ats_pipelines.defs.trading.backtest import run_backtest
    from ats_pipelines.defs.trading.risk import RiskLimits

    result = run_backtest(TimescaleResource(), model_name, datetime.fromisoformat(start).replace(tzinfo=UTC),
                          datetime.fromisoformat(end).replace(tzinfo=UTC), RiskLimits(), cash=cash)
    click.echo(f"backtest of {model_name}:\n{result.summary()}")


@main.command("emergency-stop")
@click.option("--reason", required=True, help="why: recorded with the stop")
@click.option("--liquidate", is_flag=True, help="also close every position at the broker")
@migrated
def emergency_stop(reason: str, liquidate: bool) -> None:
    """Stop all trading now: record the stop, mirror it to Redis, cancel open orders (and liquidate) at the
    broker ATS_BROKER chooses, as the runs do. No order goes out until `ats resume`."""
    import getpass

    from ats_pipelines.defs.trading.orders import stop_every_account
    from ats_pipelines.resources import RedisResource, configured

    timescale = TimescaleResource()
    event, accounts = stop_every_account(timescale, RedisResource(), lambda: configured.broker.accounts(timescale),
                                         description=reason, triggered_by=f"cli:{getpass.getuser()}",
                                         liquidate=liquidate)
    click.echo(f"emergency stop {event} in force; {configured.broker.chosen()} broker: {accounts} account(s) "
               + ("canceled and liquidated" if liquidate else "canceled"))


@main.command()
@click.option("--resolution", required=True, help="what was done: recorded with every resolved stop")
@migrated
def resume(resolution: str) -> None:
    """Lift the emergency stop, recording the resolution."""
    import getpass

    from ats_pipelines.defs.trading.emergency import resume as resume_trading
    from ats_pipelines.resources import RedisResource

    count = resume_trading(TimescaleResource(), RedisResource(), resolution=resolution,
                           resolved_by=f"cli:{getpass.getuser()}")
    click.echo(f"{count} emergency stop(s) resolved; orders may go out again")


@main.command("fake-polygon")
@click.option("--port", default=8765, show_default=True)
@click.option("--api-key", default="demo-key", show_default=True, help="the one key the server accepts")
def fake_polygon(port: int, api_key: str) -> None:
    """Serve deterministic offline data in Polygon's REST formats (for the demo and benchmarks)."""
    from ats_pipelines.fakes.polygon_server import FakePolygonServer, Faults

    _serve_until_interrupted(FakePolygonServer(port, Faults(api_key=api_key)), "Polygon")


@main.command("fake-polygon-ws")
@click.option("--port", default=8767, show_default=True)
@click.option("--api-key", default="demo-key", show_default=True, help="the one key the server accepts")
@replay_options
def fake_polygon_ws(port: int, api_key: str, replay_from: str | None, replay_speed: float,
                    replay_origin: float | None) -> None:
    """Serve Polygon's WebSocket protocol with a live synthetic feed (a trade and a quote of every subscribed
    symbol each second, its minute bar once the minute ended), for the demo; with --replay-from, the stocks'
    recorded minute bars of the fake REST server on that replay clock."""
    import time

    from ats_pipelines.fakes.polygon_ws_server import Replay, serve

    replay = Replay(_utc(replay_from), replay_speed, replay_origin) if replay_from else None
    with serve(api_key, port, live_feed=True, replay=replay) as server:
        try:  # Ctrl-C right after the line still ends cleanly
            click.echo(f"fake Polygon WebSocket on {server.url} (Ctrl-C stops it)")
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


@main.command("fake-unusual-whales")
@click.option("--port", default=8766, show_default=True)
@click.option("--api-key", default="demo-key", show_default=True, help="the one token the server accepts")
def fake_unusual_whales(port: int, api_key: str) -> None:
    """Serve an hour of synthetic flow alerts in Unusual Whales' REST format (for the demo)."""

    from ats_pipelines.fakes.unusual_whales_server import FakeUnusualWhalesServer, demo_alerts

    _serve_until_interrupted(FakeUnusualWhalesServer(port, api_key, demo_alerts(datetime.now(UTC))), "Unusual Whales")


@main.command("fake-alpaca")
@click.option("--port", default=8768, show_default=True)
@click.option("--key-id", default="demo-key-id", show_default=True, help="the one key id the server accepts")
@click.option("--secret", default="demo-secret", show_default=True, help="the one secret the server accepts")
def fake_alpaca(port: int, key_id: str, secret: str) -> None:
    """Serve Alpaca's trading API (orders, positions, account) in memory, for the demo's offline broker."""
    from ats_pipelines.fakes.alpaca_server import FakeAlpacaServer

    _serve_until_interrupted(FakeAlpacaServer(port, key_id, secret), "Alpaca")


def _serve_until_interrupted(server, vendor: str) -> None:
    try:  # Ctrl-C right after the line still ends cleanly
        click.echo(f"fake {vendor} API on {server.base_url}", err=True)
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
