"""The command-line contract outside checks rely on: `dagster asset materialize --partition-range` with only
POLYGON_API_KEY, POLYGON_BASE_URL, ATS_UNIVERSE and an empty DAGSTER_HOME lands the range's 1m bars, and a
second identical command changes nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date

import psycopg

from ats_pipelines.db import migrate
from ats_pipelines.fakes import polygon_data
from ats_pipelines.market_calendar import sessions
from ats_pipelines.settings import with_database
from tests.conftest import TEST_DATABASE_URL, recreate_database

CONTRACT_DB_URL = with_database(TEST_DATABASE_URL, "ats_test_contract")


def materialize(env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dagster", "asset", "materialize", "-m", "ats_pipelines.definitions",
         "--select", "stock_aggs", "--partition-range", "2024-03-06...2024-03-12"],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "RUN_SUCCESS" in result.stderr + result.stdout


def bars(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute("SELECT symbol, timestamp, open, high, low, close, volume FROM stock_aggs"
                        " WHERE timeframe = '1m' ORDER BY symbol, timestamp").fetchall()


def test_the_partition_range_command_lands_the_bars_once(fake_polygon, tmp_path):
    recreate_database(CONTRACT_DB_URL)
    migrate.upgrade(CONTRACT_DB_URL)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POLYGON_", "ATS_", "DAGSTER_"))}
    env.update(POLYGON_API_KEY="demo-key", POLYGON_BASE_URL=fake_polygon.base_url, ATS_UNIVERSE="AAPL,MSFT",
               ATS_DATABASE_URL=CONTRACT_DB_URL, DAGSTER_HOME=str(tmp_path))
    materialize(env)
    with psycopg.connect(CONTRACT_DB_URL) as conn:
        first = bars(conn)
    expected = sum(len(polygon_data.minute_bars(s, d.day)) for s in ("AAPL", "MSFT")
                   for d in sessions(date(2024, 3, 6), date(2024, 3, 12)))
    assert len(first) == expected
    materialize(env)
    with psycopg.connect(CONTRACT_DB_URL) as conn:
        assert bars(conn) == first
        assert conn.execute("SELECT count(*) - count(DISTINCT (symbol, timestamp, timeframe, adjusted))"
                            " FROM stock_aggs").fetchone()[0] == 0
