"""The `ats db` commands against the migrated test database."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
from click.testing import CliRunner

from ats_pipelines.cli import main
from ats_pipelines.db import migrate


def test_db_current_mode_and_report(db, database_url, monkeypatch):
    monkeypatch.setenv("ATS_DATABASE_URL", database_url)
    db.write("market_status", pl.DataFrame({
        "timestamp": [datetime(2024, 3, 6, 15, tzinfo=UTC)] * 2, "market": ["crypto", "forex"],
        "status": ["open", "open"]}))
    runner = CliRunner()
    current = runner.invoke(main, ["db", "current"])
    assert current.exit_code == 0 and f"current: {migrate.head_revision()}" in current.output
    report = runner.invoke(main, ["db", "report"])
    assert report.exit_code == 0, report.output
    assert report.output.startswith(("plain PostgreSQL mode", "TimescaleDB mode"))
    line = next(row for row in report.output.splitlines() if row.startswith("market_status "))
    assert line.split()[1] == "2" and "(timestamp, market)" in line
    assert "30 tables" in report.output
