"""Shared fixtures: a freshly migrated PostgreSQL database and a Redis database, both real servers.

``ATS_TEST_DATABASE_URL`` (default ``postgresql://127.0.0.1:5432/ats_test``) is dropped and recreated
once per session; ``ATS_TEST_REDIS_URL`` (default Redis database 15) is flushed before each test that
uses it. Nothing here is mocked: fakes exist only for paid external APIs.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from ats_pipelines.db import migrate
from ats_pipelines.fakes import alpaca_server, polygon_data, unusual_whales_server
from ats_pipelines.fakes.polygon_server import FakePolygonServer, Faults, serve
from ats_pipelines.resources import PolygonResource, RedisResource, TimescaleResource, UniverseResource
from ats_pipelines.settings import database_name, with_database

TEST_DATABASE_URL = os.environ.get("ATS_TEST_DATABASE_URL", "postgresql://127.0.0.1:5432/ats_test")
TEST_REDIS_URL = os.environ.get("ATS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
REPO_ROOT = Path(__file__).resolve().parent.parent


def recreate_database(url: str) -> None:
    """Drop and create the database ``url`` names (connecting as the URL says: sslmode and all)."""
    name = database_name(url)
    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')


@pytest.fixture(scope="session")
def database_url() -> str:
    """A database migrated to head, fresh for this test session."""
    recreate_database(TEST_DATABASE_URL)
    migrate.upgrade(TEST_DATABASE_URL)
    return TEST_DATABASE_URL


@pytest.fixture
def db(database_url: str) -> Iterator[TimescaleResource]:
    """The TimescaleResource on the test database; every table is emptied afterwards."""
    resource = TimescaleResource(database_url=database_url)
    yield resource
    resource.close()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "DO $$ DECLARE t text; BEGIN FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            " AND tablename <> 'alembic_version' LOOP EXECUTE format('TRUNCATE %I CASCADE', t); END LOOP; END $$"
        )


@pytest.fixture
def sql_conn(database_url: str) -> Iterator[psycopg.Connection]:
    """A plain autocommit connection for assertions that look at the database directly."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def cache() -> Iterator[RedisResource]:
    """The RedisResource on an emptied test database."""
    resource = RedisResource(redis_url=TEST_REDIS_URL)
    resource.client.flushdb()
    yield resource
    resource.client.flushdb()
    resource.close()


@pytest.fixture(scope="session")
def _polygon_server() -> Iterator[FakePolygonServer]:
    with serve() as server:
        yield server


@pytest.fixture
def fake_polygon(_polygon_server: FakePolygonServer) -> FakePolygonServer:
    """The local Polygon-compatible server, with no faults, its request counter at zero and its own splits."""
    _polygon_server.faults = Faults()
    _polygon_server.set_splits(polygon_data.SPLITS)
    return _polygon_server


@pytest.fixture(scope="session")
def _unusual_whales_server() -> Iterator[unusual_whales_server.FakeUnusualWhalesServer]:
    with unusual_whales_server.serve() as server:
        yield server


@pytest.fixture
def fake_unusual_whales(_unusual_whales_server) -> unusual_whales_server.FakeUnusualWhalesServer:
    """The local Unusual Whales-compatible server, serving no alerts until a test sets ``alerts``."""
    _unusual_whales_server.alerts = []
    return _unusual_whales_server


def market_resources(db: TimescaleResource, server: FakePolygonServer, api_key: str = "demo-key",
                     **universe: str) -> dict[str, object]:
    """Resources of the market-data assets against the test database and the fake server (fast backoff)."""
    return {
        "timescale": db,
        "polygon": PolygonResource(api_key=api_key, base_url=server.base_url, backoff_seconds=0.01,
                                   requests_per_minute=6000),
        "universe": UniverseResource(**universe),
    }


def feature_resources(db: TimescaleResource, stocks: str = "") -> dict[str, object]:
    """Resources of the features asset; ``stocks`` is the universe whose sessions coverage demands (besides the
    symbols with bars in the partition)."""
    return {"timescale": db, "universe": UniverseResource(stocks=stocks)}


def run(assets, resources, first: str, last: str | None = None, instance=None, raise_on_error=True, run_config=None):
    """Materialize ``assets`` for one partition, or a range as one run."""
    kwargs = ({"tags": {ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last}} if last
              else {"partition_key": first})
    return dg.materialize(assets, resources=resources, instance=instance or dg.DagsterInstance.ephemeral(),
                          raise_on_error=raise_on_error, run_config=run_config, **kwargs)


def metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    event = next(e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == asset)
    return {k: v.value for k, v in event.materialization.metadata.items()}


def checks(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {c.check_name: c.passed for c in result.get_asset_check_evaluations()}


TIMESCALE_SERVER_DIR = REPO_ROOT / "tests" / "timescale_server"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def timescale_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real TimescaleDB 2.23 (PGlite build, tests/timescale_server) migrated to head with its features on.

    The server takes one connection at a time: tests must close a connection before opening the next.
    Its output goes to ``timescale_server.log`` in the session's temporary folder.
    """
    if not (TIMESCALE_SERVER_DIR / "node_modules").is_dir():
        pytest.fail("tests/timescale_server/node_modules is missing: run scripts/bootstrap.sh (npm ci)")
    port = free_port()
    log_path = tmp_path_factory.mktemp("timescale") / "timescale_server.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(["node", "server.mjs", str(port)], cwd=TIMESCALE_SERVER_DIR,
                                   stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while f"ready {port}" not in log_path.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"TimescaleDB test server did not start:\n{log_path.read_text()[-2000:]}")
            time.sleep(0.1)
        url = f"postgresql://postgres:postgres@127.0.0.1:{port}/postgres?sslmode=disable"
        with _timescale_required():
            migrate.upgrade(url)
        yield url
        if process.poll() is not None:
            pytest.fail(f"TimescaleDB test server died:\n{log_path.read_text()[-2000:]}")
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextmanager
def _timescale_required() -> Iterator[None]:
    previous = os.environ.get("ATS_TIMESCALE")
    os.environ["ATS_TIMESCALE"] = "require"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("ATS_TIMESCALE")
        else:
            os.environ["ATS_TIMESCALE"] = previous


@pytest.fixture
def t0() -> datetime:
    """The first signal's bar: ten minutes ago, so the default limits let the signals of the next minutes trade
    (a signal's age runs from its bar's end; the newest bar is minutes old, as in a session), all on one
    day's partition (before midnight UTC when the minutes would cross it)."""
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=10)
    midnight = (start + timedelta(minutes=9)).replace(hour=0, minute=0)
    return midnight - timedelta(minutes=9) if start < midnight else start


ALPACA_PRICES = {"AAPL": 190.0, "MSFT": 400.0, "NVDA": 800.0, "TSLA": 180.0}


@pytest.fixture
def alpaca(monkeypatch):
    """The local Alpaca-compatible server, its credentials in the environment, quoting ALPACA_PRICES."""
    monkeypatch.setenv("ALPACA_API_KEY_ID", "demo-key-id")
    monkeypatch.setenv("ALPACA_API_SECRET_KEY", "demo-secret")
    monkeypatch.setenv("ALPACA_REQUESTS_PER_MINUTE", "60000")
    with alpaca_server.serve() as server:
        server.prices = dict(ALPACA_PRICES)
        yield server
