"""The features asset against the real PostgreSQL: bars from the fake Polygon server → stock_aggs → features.

Every technical value is checked against TA-Lib called here, independently, over the symbol's whole
stored history; partitions alone equal partitions inside a range; later bars change nothing earlier.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl
import pytest
import talib

from ats_pipelines.defs.features.assets import ALL_FEATURES, features, register_features
from ats_pipelines.defs.features.checks import coverage
from ats_pipelines.defs.features.specs import FeatureSpec, code_version
from ats_pipelines.defs.features.technical import LEAD_IN_BARS, NAMES, compute_technical
from ats_pipelines.defs.market_data.assets import stock_aggs
from ats_pipelines.defs.options_flow.assets import RECORD_COVERAGE_SQL
from ats_pipelines.fakes.live_market import session_bars
from ats_pipelines.market_calendar import NEW_YORK, sessions
from tests.conftest import checks, feature_resources, market_resources, metadata, run

SYMBOLS = "AAPL,MSFT"
FEATURE_QUERY = ("SELECT symbol, timeframe, feature_name, timestamp, feature_value::float8 FROM features"
                 " ORDER BY 1, 2, 3, 4")


def ingest(db, fake_polygon, first: str, last: str) -> None:
    run([stock_aggs], market_resources(db, fake_polygon, stocks=SYMBOLS), first, last)


def materialize(db, first: str, last: str | None = None, timeframes: str | None = None):
    config = {"ops": {"features": {"config": {"timeframes": timeframes}}}} if timeframes else None
    return run([features], feature_resources(db), first, last, run_config=config)


def stored(sql_conn) -> dict[tuple, float]:
    return {tuple(r[:4]): r[4] for r in sql_conn.execute(FEATURE_QUERY).fetchall()}


def talib_reference(bars: pl.DataFrame) -> dict[str, np.ndarray]:
    """The named indicators the way a TA-Lib user computes them, over one symbol's whole history."""
    h, low, c, v, vw = (bars[x].to_numpy().astype(float) for x in ("high", "low", "close", "volume", "vwap"))
    ret = talib.ROCP(c, 1)
    macd, signal, hist = talib.MACD(c, fastperiod=12, slowperiod=26, signalperiod=9)
    upper, middle, lower = talib.BBANDS(c, timeperiod=20, nbdevup=2, nbdevdn=2, matype=0)
    sample = np.sqrt(20 / 19)
    return {
        "return_1": ret, "log_return_1": np.concatenate([[np.nan], np.log(c[1:] / c[:-1])]),
        "sma_20_vs_close": talib.SMA(c, 20) / c - 1, "sma_50_vs_close": talib.SMA(c, 50) / c - 1,
        "ema_12_vs_close": talib.EMA(c, 12) / c - 1, "ema_26_vs_close": talib.EMA(c, 26) / c - 1,
        "rsi_14": talib.RSI(c, 14), "macd_12_26_9_over_close": macd / c, "macd_signal_12_26_9_over_close": signal / c,
        "macd_hist_12_26_9_over_close": hist / c, "bb_percent_b_20_2": (c - lower) / (upper - lower),
        "bb_width_20_2": (upper - lower) / middle, "atr_14_over_close": talib.ATR(h, low, c, 14) / c,
        "volatility_20": talib.STDDEV(ret, 20, 1) * sample, "vwap_deviation": c / vw - 1,
        "volume_zscore_20": (v - talib.SMA(v, 20)) / (talib.STDDEV(v, 20, 1) * sample),
    }


def history(sql_conn, symbol: str, timeframe: str) -> pl.DataFrame:
    """The symbol's adjusted bars; minute bars of the regular sessions only (the extended hours are left out)."""
    rows = sql_conn.execute(
        "SELECT timestamp, high::float8, low::float8, close::float8, volume::float8, vwap::float8 FROM stock_aggs"
        " WHERE symbol = %s AND timeframe = %s AND adjusted ORDER BY timestamp", (symbol, timeframe)).fetchall()
    if timeframe == "1m":
        hours = {s.day: (s.open, s.close) for s in sessions(date(2024, 1, 1), date(2024, 12, 31))}
        rows = [r for r in rows if (h := hours.get(r[0].astimezone(NEW_YORK).date())) and h[0] <= r[0] < h[1]]
    return pl.DataFrame(rows, schema=["timestamp", "high", "low", "close", "volume", "vwap"], orient="row")


def test_every_indicator_equals_talib_over_the_whole_history_after_a_backfill(db, sql_conn, fake_polygon):
    ingest(db, fake_polygon, "2024-03-04", "2024-03-15")
    result = materialize(db, "2024-03-06", "2024-03-15")
    assert checks(result) == {"no_non_finite_values": True, "coverage": True}
    values = stored(sql_conn)
    window_start = datetime(2024, 3, 6, tzinfo=UTC)
    compared = 0
    for symbol in SYMBOLS.split(","):
        for timeframe in ("1m", "1d"):
            bars = history(sql_conn, symbol, timeframe)
            for name, reference in talib_reference(bars).items():
                expected = {(symbol, timeframe, name, t): x for t, x in zip(bars["timestamp"], reference, strict=True)
                            if t >= window_start and np.isfinite(x)}
                got = {k: v for k, v in values.items() if k[:3] == (symbol, timeframe, name)}
                assert got.keys() == expected.keys(), (symbol, timeframe, name)
                worst = max((abs(got[k] - expected[k]) for k in expected), default=0.0)
                assert worst <= 1e-6, (symbol, timeframe, name, worst)
                compared += len(expected)
    assert compared > 90_000
    assert {k[2] for k in values if k[1] == "1m"} == set(NAMES)
    md = metadata(result, "features")
    assert md["rows"] == len(values) and md["rows_inserted"] == len(values)
    assert md["rows_momentum"] + md["rows_trend"] + md["rows_volatility"] + md["rows_volume"] + md.get(
        "rows_flow", 0) == len(values)
    assert md["time_range"].startswith("2024-03-06T00:00:00+00:00")


def test_a_partition_alone_equals_the_same_partition_inside_a_range(db, sql_conn, fake_polygon):
    ingest(db, fake_polygon, "2024-03-04", "2024-03-15")
    materialize(db, "2024-03-05", "2024-03-15")
    day = datetime(2024, 3, 14, tzinfo=UTC)
    in_range = {k: v for k, v in stored(sql_conn).items() if day <= k[3] < day + timedelta(days=1)}
    sql_conn.execute("TRUNCATE features")
    materialize(db, "2024-03-14")
    alone = stored(sql_conn)
    assert alone.keys() == in_range.keys() and len(alone) > 10_000
    assert max(abs(alone[k] - in_range[k]) for k in alone) <= 1e-6


def test_appending_later_bars_changes_no_stored_value_at_or_before_them(db, sql_conn, fake_polygon):
    ingest(db, fake_polygon, "2024-03-04", "2024-03-08")
    materialize(db, "2024-03-04", "2024-03-08")
    before = stored(sql_conn)
    ingest(db, fake_polygon, "2024-03-11", "2024-03-13")
    result = materialize(db, "2024-03-04", "2024-03-13")
    after = stored(sql_conn)
    cutoff = datetime(2024, 3, 9, tzinfo=UTC)
    assert {k: v for k, v in after.items() if k[3] < cutoff} == before
    assert any(k[3] >= cutoff for k in after)
    md = metadata(result, "features")
    assert (md["rows_updated"], md["rows_deleted"]) == (0, 0) and md["rows_inserted"] == len(after) - len(before)


def test_rerunning_a_partition_changes_nothing(db, sql_conn, fake_polygon):
    ingest(db, fake_polygon, "2024-03-06", "2024-03-07")
    materialize(db, "2024-03-07")
    first = sql_conn.execute("SELECT count(*), sum(feature_value), max(xmin::text::bigint) FROM features").fetchone()
    again = materialize(db, "2024-03-07")
    md = metadata(again, "features")
    assert (md["rows_inserted"], md["rows_updated"], md["rows_deleted"]) == (0, 0, 0)
    assert md["rows_unchanged"] == first[0] > 0
    assert sql_conn.execute(
        "SELECT count(*), sum(feature_value), max(xmin::text::bigint) FROM features").fetchone() == first


def test_changed_bars_replace_exactly_their_features(db, sql_conn, fake_polygon):
    ingest(db, fake_polygon, "2024-03-06", "2024-03-07")
    materialize(db, "2024-03-07", timeframes="1m")
    count = len(stored(sql_conn))
    sql_conn.execute("UPDATE stock_aggs SET close = close * 1.01 WHERE symbol = 'AAPL' AND timeframe = '1m'"
                     " AND timestamp = (SELECT max(timestamp) FROM stock_aggs WHERE symbol = 'AAPL'"
                     " AND timestamp < '2024-03-07 21:00+00')")  # the session's last bar (post-market is no input)
    sql_conn.execute("DELETE FROM stock_aggs WHERE symbol = 'MSFT' AND timeframe = '1m' AND timestamp >= '2024-03-07'")
    md = metadata(materialize(db, "2024-03-07", timeframes="1m"), "features")
    assert md["rows_deleted"] > 0 and 0 < md["rows_updated"] <= len(NAMES)
    assert not sql_conn.execute("SELECT 1 FROM features WHERE symbol = 'MSFT' AND timestamp >= '2024-03-07'"
                                ).fetchall()
    assert len(stored(sql_conn)) == count - md["rows_deleted"]


def test_flow_features_count_only_alerts_before_the_close(db, sql_conn, fake_polygon):
    ingest(db, fake_polygon, "2024-03-06", "2024-03-07")
    close = datetime(2024, 3, 7, 21, 0, tzinfo=UTC)  # 16:00 New York
    previous_close = datetime(2024, 3, 6, 21, 0, tzinfo=UTC)
    alerts = [  # (created, underlying, type, sentiment, premium)
        (previous_close - timedelta(minutes=1), "AAPL", "C", "bullish", 1_000.0),  # the previous session's
        (previous_close + timedelta(hours=2), "AAPL", "C", "bullish", 50_000.0),  # after hours: counts for 03-07
        (close - timedelta(hours=3), "AAPL", "P", "bearish", 20_000.0),
        (close - timedelta(hours=1), "AAPL", "C", "neutral", 5_000.0),
        (close - timedelta(seconds=1), "AAPL", "P", "bullish", 10_000.0),
        (close, "AAPL", "C", "bullish", 999_000.0),  # at the close: too late
        (close + timedelta(hours=1), "AAPL", "P", "bearish", 777_000.0),
        (close - timedelta(hours=2), "MSFT", "C", "bullish", 3_000.0),
    ]
    db.write("unusual_whales_options", pl.DataFrame([{
        "timestamp": t, "symbol": f"O:{u}240315{k}00100000", "underlying": u,
        "expiration": datetime(2024, 3, 15).date(), "strike": 100.0, "option_type": k, "premium": p,
        "premium_type": "debit", "sentiment": s, "volume": 10, "days_to_expiration": 8, "alert_id": f"a{i}",
    } for i, (t, u, k, s, p) in enumerate(alerts)]).with_columns(pl.col("volume").cast(pl.Int32),
                                                                  pl.col("days_to_expiration").cast(pl.Int32)))
    db.execute(RECORD_COVERAGE_SQL, {"from": previous_close - timedelta(days=2), "to": close})  # ingest succeeded
    materialize(db, "2024-03-07")
    flow = {(r[0], r[1]): r[2] for r in sql_conn.execute(
        "SELECT symbol, feature_name, feature_value::float8 FROM features WHERE feature_group = 'flow'"
        " AND timeframe = '1d'").fetchall()}
    assert flow[("AAPL", "flow_alert_count")] == 4
    assert flow[("AAPL", "flow_net_premium")] == 50_000 - 20_000 + 10_000
    assert flow[("AAPL", "flow_call_put_premium_ratio")] == pytest.approx(55_000 / 30_000, abs=1e-8)
    assert (flow[("MSFT", "flow_alert_count")], flow[("MSFT", "flow_net_premium")]) == (1, 3_000)
    assert ("MSFT", "flow_call_put_premium_ratio") not in flow  # no put premium: undefined, not stored
    stamp = sql_conn.execute("SELECT DISTINCT timestamp FROM features WHERE feature_group = 'flow'").fetchall()
    bar = sql_conn.execute("SELECT timestamp FROM stock_aggs WHERE symbol = 'AAPL' AND timeframe = '1d' AND adjusted"
                           " AND timestamp >= '2024-03-07'").fetchall()
    assert stamp == bar


def test_a_changed_definition_changes_the_version_and_the_metadata_row(db, sql_conn):
    assert register_features(db, ALL_FEATURES) == [s.name for s in ALL_FEATURES]
    assert register_features(db, ALL_FEATURES) == []
    created, updated, version = sql_conn.execute(
        "SELECT created_at, updated_at, version FROM feature_metadata WHERE feature_name = 'sma_20_vs_close'"
    ).fetchone()
    sma = next(s for s in ALL_FEATURES if s.name == "sma_20_vs_close")
    changed = FeatureSpec(sma.name, sma.group, sma.description, sma.formula, {"timeperiod": 21}, sma.warmup)
    assert changed.version != sma.version and len(changed.version) <= 16
    new_specs = tuple(changed if s is sma else s for s in ALL_FEATURES)
    assert code_version(new_specs) != code_version(ALL_FEATURES)
    assert register_features(db, new_specs) == ["sma_20_vs_close"]
    row = sql_conn.execute("SELECT created_at, updated_at, version, parameters FROM feature_metadata"
                           " WHERE feature_name = 'sma_20_vs_close'").fetchone()
    assert row[0] == created and row[1] > updated and row[2] == changed.version != version
    assert row[3] == {"timeperiod": 21}
    register_features(db, new_specs[1:])
    assert sql_conn.execute("SELECT is_active FROM feature_metadata WHERE feature_name = 'return_1'").fetchone() == (
        False,)


def test_coverage_fails_when_stored_rows_are_missing(db, sql_conn, fake_polygon):
    ingest(db, fake_polygon, "2024-03-07", "2024-03-07")
    result = materialize(db, "2024-03-07", timeframes="1m")
    assert checks(result)["coverage"]
    sql_conn.execute("DELETE FROM features WHERE ctid IN (SELECT ctid FROM features WHERE feature_name = 'rsi_14'"
                     " LIMIT 3)")
    window = (datetime(2024, 3, 7, tzinfo=UTC), datetime(2024, 3, 8, tzinfo=UTC))
    from ats_pipelines.defs.features.assets import technical_part
    check = coverage(db, technical_part(db, "1m", window).expected, window, ["1m"])
    assert not check.passed and check.metadata["mismatches"].value == 1


def test_unknown_timeframes_are_refused_with_a_clear_error(db):
    with pytest.raises(Exception, match="unknown feature timeframe"):
        materialize(db, "2024-03-07", timeframes="1m,7m")


def test_the_lead_in_is_enough_for_whole_history_values():
    """Each partition reads LEAD_IN_BARS earlier bars; on a volatile series priced like bitcoin the values
    after that lead-in equal the whole-history values to 1e-6, and a short lead-in would not."""
    rng = np.random.default_rng(3)
    n = 4_000
    close = 60_000 * np.exp(np.cumsum(rng.normal(0, 0.02, n)))
    bars = pl.DataFrame({
        "symbol": ["X:BTCUSD"] * n, "timestamp": pl.datetime_range(datetime(2020, 1, 1, tzinfo=UTC),
                                                                  datetime(2020, 1, 1, tzinfo=UTC) + timedelta(
                                                                      minutes=n - 1), "1m", eager=True),
        "high": close * (1 + np.abs(rng.normal(0, 0.01, n))), "low": close * (1 - np.abs(rng.normal(0, 0.01, n))),
        "close": close, "volume": rng.gamma(2, 50, n), "vwap": close * (1 + rng.normal(0, 0.001, n)),
    })
    whole = compute_technical(bars).tail(500)
    tail = compute_technical(bars.tail(LEAD_IN_BARS + 500)).tail(500)
    for name in NAMES:
        assert np.nanmax(np.abs(whole[name].to_numpy() - tail[name].to_numpy())) < 1e-6, name
    shorter = compute_technical(bars.tail(150 + 500)).tail(500)
    assert max(np.nanmax(np.abs(whole[n].to_numpy() - shorter[n].to_numpy())) for n in NAMES) > 1e-6


def test_unsorted_bars_are_refused():
    bars = pl.DataFrame({"symbol": ["A", "B", "A"],
                         "timestamp": [datetime(2024, 1, 1, i, tzinfo=UTC) for i in range(3)],
                         "high": [1.0] * 3, "low": [1.0] * 3, "close": [1.0] * 3, "volume": [1.0] * 3,
                         "vwap": [1.0] * 3})
    with pytest.raises(ValueError, match="sorted by symbol"):
        compute_technical(bars)


def test_a_2_for_1_split_leaves_the_features_of_the_days_before_it_unchanged(db, sql_conn):
    """Bars of 2024-03-04..07 at the old scale, features of the 5th to the 7th; a 2:1 split executes on the 8th:
    the re-fetch rewrites the earlier adjusted bars at half the price and twice the volume, the 8th arrives at
    the new scale, and the recomputed features of the days before the split equal the first ones."""
    bars = session_bars(["AAA"], date(2024, 3, 4), date(2024, 3, 8)).with_columns(
        pl.col("open", "high", "low", "close", "vwap").round(4))
    split_day = datetime(2024, 3, 8, tzinfo=NEW_YORK).astimezone(UTC)
    before = bars.filter(pl.col("timestamp") < split_day)
    db.write("stock_aggs", before)
    materialize(db, "2024-03-05", "2024-03-07", timeframes="1m")
    first = stored(sql_conn)
    adjusted = before.with_columns(pl.col("open", "high", "low", "close", "vwap") / 2, pl.col("volume") * 2)
    db.write("stock_aggs", pl.concat([adjusted, bars.filter(pl.col("timestamp") >= split_day)
                                      .with_columns(pl.col("open", "high", "low", "close", "vwap") / 2)]))
    assert history(sql_conn, "AAA", "1m")["close"][0] == before["close"][1] / 2  # the history did change
    materialize(db, "2024-03-05", "2024-03-08", timeframes="1m")
    again = stored(sql_conn)
    assert len(first) > 10_000 and {k[2] for k in first} == set(NAMES)
    assert {k: again[k] for k in first} == first
    assert any(k[3] >= split_day for k in again)  # the split day itself has features, on the new scale


def test_a_session_without_a_successful_flow_ingest_has_no_flow_features(db, sql_conn, fake_polygon):
    ingest(db, fake_polygon, "2024-03-06", "2024-03-08")
    close = datetime(2024, 3, 7, 21, 0, tzinfo=UTC)
    db.execute(RECORD_COVERAGE_SQL, {"from": close - timedelta(days=1), "to": close})  # 03-07's window only
    result = materialize(db, "2024-03-07", "2024-03-08")
    assert checks(result)["coverage"]  # absent flow features are not a coverage failure
    flow = sql_conn.execute("SELECT DISTINCT symbol, timestamp, feature_name FROM features"
                            " WHERE feature_group = 'flow'").fetchall()
    assert {t.astimezone(NEW_YORK).date() for _, t, _ in flow} == {date(2024, 3, 7)}  # 03-08: absent, not zero
    assert {name for *_, name in flow} == {"flow_net_premium", "flow_alert_count"}  # zero alerts, covered: zero
