"""Alembic, driven from code: upgrade, downgrade and current revision of the market-data database."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import create_engine, pool

from ats_pipelines.settings import redact_url

_MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def sqlalchemy_url(database_url: str) -> str:
    """The libpq URL in SQLAlchemy's form, on the psycopg 3 driver."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if database_url.startswith(prefix):
            return "postgresql+psycopg://" + database_url[len(prefix):]
    raise ValueError("the database URL must start with postgresql://")


def alembic_config(database_url: str) -> Config:
    """An Alembic config for our migrations folder and this database (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS_DIR))
    # Stored under our own key: Alembic interpolates '%' in options, and URLs may hold %-escapes.
    config.set_main_option("ats.database_url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


def current_revision(database_url: str) -> str | None:
    """The revision the database is at, or None before the first upgrade."""
    engine = create_engine(sqlalchemy_url(database_url), poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config("postgresql://unused")).get_current_head()


class DatabaseNotReady(RuntimeError):
    """The database is not at the head revision; the message says what to run."""


def require_head(database_url: str) -> None:
    """Raise :class:`DatabaseNotReady` unless the database is migrated to the head revision."""
    current, head = current_revision(database_url), head_revision()
    where = redact_url(database_url)
    if current is None:
        raise DatabaseNotReady(f"the database {where} is not migrated: run `ats db upgrade`")
    if current != head:
        try:
            ScriptDirectory.from_config(alembic_config(database_url)).get_revision(current)
        except CommandError:
            raise DatabaseNotReady(f"the database {where} is at revision {current}, which this version of "
                                   f"ats_pipelines does not know (its head is {head}): install the newer version"
                                   ) from None
        raise DatabaseNotReady(f"the database {where} is at revision {current}, behind {head}: run `ats db upgrade`")
