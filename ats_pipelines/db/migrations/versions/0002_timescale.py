"""TimescaleDB hypertables, compression, retention and continuous aggregates (when available).

On plain PostgreSQL this revision records itself and changes nothing; `ats db mode` says so. To add
TimescaleDB to an existing plain database later: install the extension, then
`ats db downgrade 0001 && ats db upgrade` (tables keep their data: create_hypertable migrates it).

Revision ID: 0002
Revises: 0001
"""

from ats_pipelines.db.migration_ops import enable_timescale, execute_sql_file, timescale_installed

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if enable_timescale():
        execute_sql_file("schema/0002_timescale.up.sql")


def downgrade() -> None:
    if timescale_installed():
        execute_sql_file("schema/0002_timescale.down.sql")
