"""Corporate actions: the stock_splits and dividends tables (additions to the spec).

Revision ID: 0010
Revises: 0009
"""

from ats_pipelines.db.migration_ops import execute_sql_file

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_sql_file("schema/0010_corporate_actions.up.sql")


def downgrade() -> None:
    execute_sql_file("schema/0010_corporate_actions.down.sql")
