"""Splits and dividends against the real PostgreSQL and the fake Polygon server: a new split re-writes the
symbol's split-adjusted history in one run (the sensor's), raw bars and other symbols stay, re-runs change nothing."""

from __future__ import annotations

from datetime import date

import dagster as dg
import pytest
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from ats_pipelines.defs.market_data.assets import stock_aggs
from ats_pipelines.defs.market_data.sensors import split_adjustment_sensor
from ats_pipelines.defs.reference.assets import dividends, stock_splits
from ats_pipelines.fakes import polygon_data
from tests.conftest import market_resources, metadata, run

BARS = ("SELECT symbol, adjusted, timeframe, timestamp, close::float8, volume FROM stock_aggs"
        " ORDER BY symbol, adjusted, timeframe, timestamp")


def reference(resources: dict) -> dg.ExecuteInProcessResult:
    return dg.materialize([stock_splits, dividends], resources=resources, instance=dg.DagsterInstance.ephemeral())


def sensor_requests(db) -> list[dg.RunRequest]:
    with dg.build_sensor_context(resources={"timescale": db}, instance=dg.DagsterInstance.ephemeral()) as context:
        return [r for r in split_adjustment_sensor(context) if isinstance(r, dg.RunRequest)]


def test_a_new_split_rewrites_the_adjusted_history_in_one_run_and_leaves_raw_bars_alone(db, sql_conn, fake_polygon):
    resources = market_resources(db, fake_polygon, stocks="AAPL,MSFT")
    run([stock_aggs], resources, "2024-03-04", "2024-03-08")
    settled = metadata(reference(resources), "stock_splits")["splits_without_history_to_adjust"]
    assert settled == 1  # AAPL's 2020 split: no stored bar before it, nothing to re-fetch
    assert sensor_requests(db) == []
    before = {row[:4]: row[4:] for row in sql_conn.execute(BARS).fetchall()}

    fake_polygon.set_splits((*polygon_data.SPLITS, polygon_data.Split("AAPL", date(2024, 3, 7), 1, 2)))
    reference(resources)
    requests = sensor_requests(db)
    assert len(requests) == 1
    request = requests[0]
    assert request.tags[ASSET_PARTITION_RANGE_START_TAG] == "2024-03-04"
    assert request.tags[ASSET_PARTITION_RANGE_END_TAG] == "2024-03-06"  # bars from the execution date on are new
    instance = dg.DagsterInstance.ephemeral()
    result = run([stock_aggs], resources, "2024-03-04", "2024-03-06", instance=instance,
                 run_config=request.run_config)
    assert len(instance.get_runs()) == 1 and metadata(result, "stock_aggs")["splits_applied"] == 1

    after = {row[:4]: row[4:] for row in sql_conn.execute(BARS).fetchall()}
    assert after.keys() == before.keys()
    changed = {key for key in before if after[key] != before[key]}
    expected = {key for key in before if key[0] == "AAPL" and key[1]  # AAPL's adjusted bars before the split
                and key[3].astimezone(polygon_data.NEW_YORK).date() < date(2024, 3, 7)}
    assert changed == expected and len(expected) > 1500
    for key in expected:
        (close, volume), (old_close, old_volume) = after[key], before[key]
        assert close == pytest.approx(old_close / 2, abs=1e-4) and volume == old_volume * 2
    assert sql_conn.execute("SELECT count(*) FROM stock_splits WHERE history_adjusted_at IS NULL").fetchone()[0] == 0
    assert sensor_requests(db) == []

    again = run([stock_aggs], resources, "2024-03-04", "2024-03-06", run_config=request.run_config)
    assert metadata(again, "stock_aggs")["rows_written"] == 0
    assert {row[:4]: row[4:] for row in sql_conn.execute(BARS).fetchall()} == after


def test_dividends_land_with_their_dates_and_a_rerun_changes_nothing(db, sql_conn, fake_polygon):
    resources = market_resources(db, fake_polygon, stocks="AAPL,MSFT,SPY")
    first = metadata(reference(resources), "dividends")
    served = {s: polygon_data.dividends(s) for s in ("AAPL", "MSFT", "SPY")}
    assert first["rows_inserted"] == sum(map(len, served.values())) > 0
    payer = next(s for s, rows in served.items() if rows)
    newest = served[payer][0]
    row = sql_conn.execute(
        "SELECT cash_amount::float8, ex_dividend_date, pay_date, record_date, dividend_type, frequency, polygon_id"
        " FROM dividends WHERE symbol = %s ORDER BY ex_dividend_date DESC LIMIT 1", (payer,)).fetchone()
    assert row == (newest["cash_amount"], date.fromisoformat(newest["ex_dividend_date"]),
                   date.fromisoformat(newest["pay_date"]), date.fromisoformat(newest["record_date"]), "CD", 4,
                   newest["id"])
    again = metadata(reference(resources), "dividends")
    assert (again["rows_inserted"], again["rows_updated"]) == (0, 0)
