"""What the ``ats`` command prints when a setting or a service is missing: one line that names the variable or
the command to run, never a traceback (``ats --debug`` shows it)."""

from __future__ import annotations

import click
import psycopg
import psycopg_pool
import redis
import sqlalchemy.exc
from dagster._core.errors import DagsterHomeNotSetError

from ats_pipelines.db.migrate import DatabaseNotReady
from ats_pipelines.settings import database_url, redact_url, redis_url


def one_line(exc: Exception) -> str:
    """The message for ``exc``: what is missing and how to provide it."""
    if isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.orig is not None:
        exc = exc.orig
    database, cache = redact_url(database_url()), redact_url(redis_url())
    if isinstance(exc, DatabaseNotReady):
        return str(exc)
    if isinstance(exc, psycopg.errors.UndefinedTable | psycopg.errors.UndefinedColumn):
        return f"the database {database} is not at the head revision ({_first_line(exc)}): run `ats db upgrade`"
    if isinstance(exc, psycopg.OperationalError | psycopg_pool.PoolTimeout):
        return (f"cannot use the database {database} ({_first_line(exc)}): check ATS_DATABASE_URL and that "
                "PostgreSQL is running")
    if isinstance(exc, redis.AuthenticationError | redis.ConnectionError | redis.TimeoutError):
        return f"cannot use Redis at {cache} ({_first_line(exc)}): check ATS_REDIS_URL and that Redis is running"
    if isinstance(exc, DagsterHomeNotSetError):
        return ("DAGSTER_HOME is not set: run from the repository root (which holds dagster.yaml) or set "
                "DAGSTER_HOME to the folder holding dagster.yaml")
    return f"{type(exc).__name__}: {_first_line(exc)} (`ats --debug ...` shows the traceback)"


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__


class OneLineErrors(click.Group):
    """A command group whose commands end in one ``Error: ...`` line instead of a traceback, unless the
    ``--debug`` option of the group is given."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            if ctx.params.get("debug"):
                raise
            raise click.ClickException(one_line(exc)) from None
