"""Monitoring: a failed run produces exactly one alert row."""

from __future__ import annotations

import base64

import dagster as dg

from ats_pipelines.defs.features.assets import features
from ats_pipelines.defs.monitoring.sensors import run_failure_alert_sensor
from tests.conftest import feature_resources


def evaluate_twice(sensor, instance: dg.DagsterInstance, result: dg.ExecuteInProcessResult, db,
                   event_type: dg.DagsterEventType, failure: bool = False) -> None:
    """Evaluate a run-status sensor on ``result``'s run twice (as after a restart)."""
    event = next(e for e in result.all_events if e.event_type == event_type)
    for _ in range(2):
        with dg.build_run_status_sensor_context(sensor_name=sensor.name, dagster_instance=instance,
                                                dagster_run=result.dagster_run, dagster_event=event,
                                                resources={"timescale": db}) as context:
            sensor(context.for_run_failure() if failure else context)


def test_a_failed_run_produces_one_alert(db, sql_conn):
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([features], resources=feature_resources(db), instance=instance, partition_key="2024-03-07",
                            raise_on_error=False,
                            run_config={"ops": {"features": {"config": {"timeframes": "7m"}}}})
    assert not result.success
    # the sensor may see the same failure twice (a restart): still one alert
    evaluate_twice(run_failure_alert_sensor, instance, result, db, dg.DagsterEventType.RUN_FAILURE, failure=True)
    rows = sql_conn.execute("SELECT alert_type, severity, status, message, metadata->>'run_id' FROM alerts").fetchall()
    assert len(rows) == 1
    alert_type, severity, status, message, run_id = rows[0]
    assert (alert_type, severity, status, run_id) == ("run_failure", "error", "open", result.run_id)
    assert result.run_id in message


def test_round_trips_are_matched_first_in_first_out_net_of_commissions():
    import polars as pl
    import pytest

    from ats_pipelines.defs.monitoring.trading_metrics import fifo_book

    fills = pl.DataFrame({"symbol": ["AAPL", "MSFT", "AAPL", "AAPL"], "side": ["buy", "buy", "sell", "sell"],
                          "quantity": [10.0, 5.0, 4.0, 6.0], "price": [100.0, 50.0, 110.0, 95.0],
                          "commission": [1.0, 0.5, 0.4, 0.6]})
    # 4 sold at 110 against 100: +40 - 0.10 x 4 (buy side) - 0.10 x 4 (sell side) = 39.20
    # 6 sold at 95: -30 - 0.60 - 0.60 = -31.20; MSFT still open
    assert fifo_book(fills).round_trips == pytest.approx([39.2, -31.2])


def test_fifo_lots_follow_splits_and_collect_dividends_once():
    from datetime import UTC, date, datetime
    from decimal import Decimal

    import polars as pl
    import pytest

    from ats_pipelines.defs.monitoring.trading_metrics import fifo_book
    from ats_pipelines.resources.corporate_actions import Dividend, Split, day_start

    fills = pl.DataFrame({"symbol": ["AAPL", "AAPL"], "side": ["buy", "sell"], "quantity": [25.0, 100.0],
                          "price": [400.0, 101.0], "commission": [0.25, 1.0],
                          "timestamp": [datetime(2024, 3, 6, 15, tzinfo=UTC), datetime(2024, 3, 20, 15, tzinfo=UTC)]})
    actions = [Split("AAPL", day_start(date(2024, 3, 7)), Decimal(4), False),
               Dividend("AAPL", day_start(date(2024, 3, 8)), day_start(date(2024, 3, 14)), Decimal("0.24"))]
    book = fifo_book(fills, actions, until=datetime(2024, 3, 31, tzinfo=UTC))
    # 25 at 400 become 100 at 100 (commission 0.01 -> 0.0025 a share); sold 100 at 101 (0.01 a share):
    # +100 - 0.25 - 1.00 = 98.75 — not a 7,500 phantom loss and a 75-share short
    assert book.round_trips == pytest.approx([98.75])
    assert book.dividends == pytest.approx(24.0)  # 100 shares held when the ex-date began, x 0.24, once
    assert not any(book.lots["AAPL"])
    assert fifo_book(fills, actions, until=datetime(2024, 3, 10, tzinfo=UTC)).dividends == 0.0  # not yet paid


def test_trading_metrics_record_equity_exposure_and_the_curve(db, cache, sql_conn, monkeypatch, t0):
    from ats_pipelines.defs.monitoring.assets import trading_metrics
    from ats_pipelines.fakes.alpaca_server import serve
    from tests.test_trading import broker_for, trade, write_signals

    for name, value in (("ALPACA_API_KEY_ID", "demo-key-id"), ("ALPACA_API_SECRET_KEY", "demo-secret"),
                        ("ALPACA_REQUESTS_PER_MINUTE", "6000")):
        monkeypatch.setenv(name, value)
    with serve() as alpaca:
        alpaca.prices = {"AAPL": 190.0}
        write_signals(db, sql_conn, t0, [("AAPL", "buy", 0)])
        trade(db, cache, alpaca, t0)
        alpaca.last_equity = 99_000.0
        result = dg.materialize([trading_metrics], instance=dg.DagsterInstance.ephemeral(),
                                resources={"timescale": db, "broker": broker_for(alpaca)})
    metrics = dict(sql_conn.execute("SELECT metric_name, metric_value::float8 FROM trading_metrics"
                                    " WHERE symbol IS NULL").fetchall())
    assert metrics["equity"] == 100_000.0 and metrics["daily_pnl"] == 1_000.0
    assert metrics["gross_exposure"] == 52 * 190.0 and metrics["open_positions"] == 1
    assert sql_conn.execute("SELECT metric_value::float8 FROM trading_metrics WHERE symbol = 'AAPL'"
                            " AND metric_name = 'position_value'").fetchone()[0] == 52 * 190.0
    event = result.get_asset_materialization_events()[0]
    curve = event.materialization.metadata["equity_curve"].value
    assert "| day | equity |" in curve
    png = base64.b64decode(curve.split("base64,", 1)[1].split(")", 1)[0])
    assert png.startswith(b"\x89PNG") and len(png) > 1_000


def test_successful_runs_leave_their_duration_rows_and_api_use_in_system_metrics(db, sql_conn, fake_polygon):
    from ats_pipelines.defs.market_data.assets import stock_aggs
    from ats_pipelines.defs.monitoring.sensors import run_metrics_sensor
    from tests.conftest import market_resources

    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([stock_aggs], resources=market_resources(db, fake_polygon, stocks="AAPL"),
                            instance=instance, partition_key="2024-03-07")
    evaluate_twice(run_metrics_sensor, instance, result, db, dg.DagsterEventType.RUN_SUCCESS)
    metrics = dict(sql_conn.execute("SELECT metric_name, metric_value::float8 FROM system_metrics"
                                    " WHERE component = '__ephemeral_asset_job__'").fetchall())
    written = next(e for e in result.get_asset_materialization_events()).materialization.metadata["rows_written"]
    assert metrics["rows_written"] == written.value > 300
    assert metrics["api_requests"] >= 2 and metrics["run_seconds"] > 0
    assert 0 < metrics["api_latency_ms"] < 10_000
    assert sql_conn.execute("SELECT count(*) FROM system_metrics").fetchone()[0] == len(metrics)


def test_a_failed_asset_check_becomes_one_alert(db, sql_conn):
    from ats_pipelines.defs.monitoring.sensors import run_metrics_sensor

    @dg.asset(check_specs=[dg.AssetCheckSpec("always_fails", asset="probe")])
    def probe():
        return dg.MaterializeResult(check_results=[dg.AssetCheckResult(check_name="always_fails", passed=False,
                                                                       severity=dg.AssetCheckSeverity.WARN)])

    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([probe], instance=instance)
    evaluate_twice(run_metrics_sensor, instance, result, db, dg.DagsterEventType.RUN_SUCCESS)
    assert sql_conn.execute("SELECT alert_type, severity, component, message FROM alerts").fetchall() == [
        ("check_failed", "warning", "probe", "check always_fails of probe failed")]
