"""The strategies table and the foreign keys of orders and positions to it.

Revision ID: 0008
Revises: 0007
"""

from ats_pipelines.db.migration_ops import execute_sql_file

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_sql_file("schema/0008_strategies.up.sql")


def downgrade() -> None:
    execute_sql_file("schema/0008_strategies.down.sql")
