"""Dagster's own storage (runs, events, schedules) in PostgreSQL at ``DAGSTER_PG_URL``, or the local default.

``dagster.yaml`` names these classes rather than ``postgres_url: {env: DAGSTER_PG_URL}``: Dagster's ``env:``
has no default, so ``dg dev`` from a fresh shell would stop at a missing variable, and a committed ``.env``
would override the shell's value (Dagster loads ``.env`` over the environment). Here the environment wins and
the default is :data:`ats_pipelines.settings.DEFAULT_DAGSTER_PG_URL`.
"""

from __future__ import annotations

import psycopg
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

from ats_pipelines.settings import dagster_pg_url, redact_url


class _UrlFromEnvironment:
    """Nothing to configure: the URL is read when the instance (or a run worker's copy of it) is built."""

    @classmethod
    def config_type(cls) -> dict:
        return {}

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        url = dagster_pg_url()
        _require_reachable(url)
        return cls(postgres_url=url, inst_data=inst_data)


def _require_reachable(url: str) -> None:
    """Connect once, as the URL says; a database that is down or refuses the URL ends the process with one line
    naming DAGSTER_PG_URL (Dagster would retry, then print a traceback)."""
    try:
        psycopg.connect(url.replace("postgresql+psycopg2://", "postgresql://", 1), connect_timeout=10).close()
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SystemExit(f"Error: cannot use Dagster's database {redact_url(url)} ({reason}): check DAGSTER_PG_URL "
                         "and that PostgreSQL is running") from None


class RunStorage(_UrlFromEnvironment, PostgresRunStorage):
    """Runs in PostgreSQL."""


class EventLogStorage(_UrlFromEnvironment, PostgresEventLogStorage):
    """Events (materializations, checks, logs) in PostgreSQL."""


class ScheduleStorage(_UrlFromEnvironment, PostgresScheduleStorage):
    """Schedule and sensor state in PostgreSQL."""
