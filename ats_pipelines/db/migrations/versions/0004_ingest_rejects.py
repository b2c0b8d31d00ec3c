"""The quarantine table of rejected vendor records.

Revision ID: 0004
Revises: 0003
"""

from ats_pipelines.db.migration_ops import execute_sql_file

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_sql_file("schema/0004_ingest_rejects.up.sql")


def downgrade() -> None:
    execute_sql_file("schema/0004_ingest_rejects.down.sql")
