"""Alembic environment: migrations run on one connection, inside one transaction per revision."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from ats_pipelines.db.migrate import sqlalchemy_url

config = context.config


def run_migrations_online() -> None:
    engine = create_engine(sqlalchemy_url(config.get_main_option("ats.database_url")), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (SQL-script) migrations are not supported: the revisions inspect the server")
run_migrations_online()
