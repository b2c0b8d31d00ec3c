"""The 21 tables of the spec with their natural keys and indexes.

Revision ID: 0001
Revises:
"""

from ats_pipelines.db.migration_ops import execute_sql_file

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_sql_file("schema/0001_tables.up.sql")


def downgrade() -> None:
    execute_sql_file("schema/0001_tables.down.sql")
