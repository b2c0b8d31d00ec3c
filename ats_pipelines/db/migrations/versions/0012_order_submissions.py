"""Order submissions: when each order was handed to the broker (an addition to the spec).

Revision ID: 0012
Revises: 0011
"""

from ats_pipelines.db.migration_ops import execute_sql_file

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_sql_file("schema/0012_order_submissions.up.sql")


def downgrade() -> None:
    execute_sql_file("schema/0012_order_submissions.down.sql")
