"""The README's main command, minus the UI: `ats demo --no-ui` runs the pipeline end to end."""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg
import redis

from tests.conftest import TEST_DATABASE_URL, TEST_REDIS_URL, recreate_database

DEMO_DB_URL = TEST_DATABASE_URL.rsplit("/", 1)[0] + "/ats_test_demo"
DEMO_REDIS_URL = TEST_REDIS_URL.rsplit("/", 1)[0] + "/14"


def test_demo_backfills_the_market_data_and_passes_its_checks(tmp_path):
    recreate_database(DEMO_DB_URL)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POLYGON_", "ATS_", "DAGSTER_"))}
    redis.Redis.from_url(DEMO_REDIS_URL).flushdb()  # its own Redis database: no state from other runs
    env.update(ATS_DATABASE_URL=DEMO_DB_URL, DAGSTER_HOME=str(tmp_path), ATS_UNIVERSE="AAPL,SPY",
               ATS_MODEL_DIR=str(tmp_path / "models"), ATS_REDIS_URL=DEMO_REDIS_URL)
    result = subprocess.run([sys.executable, "-m", "ats_pipelines.cli", "demo", "--no-ui", "--port", "8791"],
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "plain PostgreSQL mode" in result.stdout or "TimescaleDB mode" in result.stdout
    assert "FAILED" not in result.stdout
    with psycopg.connect(DEMO_DB_URL) as conn:
        bars = {symbol: (regular, extended) for symbol, regular, extended in conn.execute(
            "SELECT symbol, count(*) FILTER (WHERE local::time >= '09:30' AND local::time < '16:00'),"
            " count(*) FILTER (WHERE local::time < '09:30' OR local::time >= '16:00')"
            " FROM (SELECT symbol, timestamp AT TIME ZONE 'America/New_York' AS local FROM stock_aggs"
            "       WHERE timeframe = '1m' AND adjusted) AS b GROUP BY 1")}
        rollups, hours = conn.execute(
            "SELECT (SELECT count(*) FROM stock_aggs_1h), count(DISTINCT (symbol, date_trunc('hour', timestamp)))"
            " FROM stock_aggs WHERE timeframe = '1m'").fetchone()
        reference = conn.execute("SELECT (SELECT count(*) FROM news_articles), (SELECT count(*) FROM ticker_details),"
                                 " (SELECT count(*) FROM unusual_whales_options)").fetchone()
        runs = conn.execute("SELECT status FROM model_training_runs").fetchall()
        model = conn.execute("SELECT status, metrics -> 'held_out' ->> 'auc' FROM models").fetchall()
        feature_bars = dict(conn.execute("SELECT timeframe, count(DISTINCT (symbol, timestamp)) FROM features"
                                         " GROUP BY 1"))
    assert set(bars) == {"AAPL", "SPY"} and bars["SPY"][0] == 5 * 390  # five full sessions, DST change included
    assert min(extended for _, extended in bars.values()) > 5 * 100  # and the pre- and post-market bars
    assert rollups == hours > 2 * 5 * 7  # every hour with a 1m bar, extended hours included
    assert reference == (2, 2, 60)  # both recorded news pages, the universe's details, an hour of alerts
    # The fake market's minute returns carry a little momentum: the model finds it and is promoted
    assert runs == [("completed",)] and len(model) == 1 and model[0][0] == "active" and float(model[0][1]) > 0.55
    assert "backtest of the demo signals" in result.stdout and "equity 100,000.00 ->" in result.stdout
    assert "orders filled" in result.stdout and "trading_metrics" in result.stdout
    assert "models " in result.stdout and "trading_signals" in result.stdout
    assert feature_bars == {"1m": sum(regular for regular, _ in bars.values()), "1d": 2 * 5}  # every session bar
