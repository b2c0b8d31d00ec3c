"""Every PostgreSQL connection takes the URL's libpq parameters (sslmode among them): the pool, the COPY paths,
the migrations, the admin helpers and Dagster's own storage; printed URLs stay redacted."""

from __future__ import annotations

import polars as pl
import psycopg
import pytest
import sqlalchemy.exc
from click.testing import CliRunner

from ats_pipelines.cli import main
from ats_pipelines.db import migrate
from ats_pipelines.instance_storage import RunStorage
from ats_pipelines.resources import TimescaleResource

PROBE = "ats_url_probe"


def with_query(url: str, query: str) -> str:
    return url + ("&" if "?" in url else "?") + query


def test_the_pool_and_the_copy_paths_take_the_urls_parameters(db, database_url):
    probe = TimescaleResource(database_url=with_query(database_url, f"application_name={PROBE}&sslmode=prefer"))
    try:
        assert probe.read("SELECT current_setting('application_name') AS name")["name"].to_list() == [PROBE]
        copied = probe.read_copy("SELECT current_setting('application_name') AS name", None, {"name": pl.String})
        assert copied["name"].to_list() == [PROBE]
        [row] = probe.read_series("SELECT current_setting('application_name'), ARRAY[%(shard)s::int8] "
                                  "WHERE %(shard)s = 0 AND %(shards)s = 2", {}, keys=1, arrays=1)
        assert row[0] == PROBE
        assert migrate.current_revision(probe.url) == migrate.head_revision()
    finally:
        probe.close()


def _server_has_ssl(database_url: str) -> bool:
    with psycopg.connect(database_url) as conn:
        return conn.execute("SHOW ssl").fetchone()[0] == "on"


def test_sslmode_require_reaches_every_connection(database_url, monkeypatch):
    """Against a server without SSL each path refuses to go on in clear; with SSL each one is encrypted."""
    required = with_query(database_url, "sslmode=require")
    if _server_has_ssl(database_url):
        resource = TimescaleResource(database_url=required)
        assert resource.read("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")["ssl"].to_list() == [True]
        resource.close()
        return
    refused = "SSL was required"
    with pytest.raises(psycopg.OperationalError, match=refused):
        TimescaleResource(database_url=required, connect_timeout_seconds=5).mode()
    with pytest.raises(sqlalchemy.exc.OperationalError, match=refused):
        migrate.current_revision(required)
    with pytest.raises(sqlalchemy.exc.OperationalError, match=refused):
        migrate.upgrade(required)
    monkeypatch.setenv("DAGSTER_PG_URL", with_query(database_url.replace("postgresql://", "postgresql+psycopg2://"),
                                                    "sslmode=require"))
    with pytest.raises(SystemExit, match=f"Error: cannot use Dagster's database .*{refused}.*DAGSTER_PG_URL"):
        RunStorage.from_config_value(None, {})


def test_a_refused_connection_is_one_line_without_the_password(database_url, monkeypatch):
    host = database_url.split("://", 1)[1]
    monkeypatch.setenv("ATS_DATABASE_URL", with_query(f"postgresql://nobody:hunter2@{host}",
                                                      "sslmode=require&password=hunter3"))
    result = CliRunner().invoke(main, ["db", "current"])
    assert result.exit_code == 1
    assert "hunter" not in result.output and "sslmode" not in result.output
    [line] = result.output.strip().splitlines()
    assert line.startswith("Error: cannot use the database postgresql://nobody:***@") and "ATS_DATABASE_URL" in line
    with_traceback = CliRunner().invoke(main, ["--debug", "db", "current"])
    assert isinstance(with_traceback.exception, sqlalchemy.exc.OperationalError)  # --debug: the exception itself
