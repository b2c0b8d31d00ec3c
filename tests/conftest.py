"""Shared fixtures: a freshly migrated PostgreSQL database and a Redis database, both real servers.

``ATS_TEST_DATABASE_URL`` (default ``postgresql://127.0.0.1:5432/ats_test``) is dropped and recreated
once per session; ``ATS_TEST_REDIS_URL`` (default Redis database 15) is flushed before each test that
uses it. Nothing here is mocked: fakes exist only for paid external APIs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from ats_pipelines.db import migrate
from ats_pipelines.resources import RedisResource, TimescaleResource

TEST_DATABASE_URL = os.environ.get("ATS_TEST_DATABASE_URL", "postgresql://127.0.0.1:5432/ats_test")
TEST_REDIS_URL = os.environ.get("ATS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
REPO_ROOT = Path(__file__).resolve().parent.parent


def recreate_database(url: str) -> None:
    """Drop and create the database named at the end of ``url``."""
    base, name = url.rsplit("/", 1)
    with psycopg.connect(base + "/postgres", autocommit=True) as admin:
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
