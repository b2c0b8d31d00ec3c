"""5m/15m/1h stock bar roll-up tables on plain PostgreSQL (TimescaleDB has continuous aggregates, 0002).

Revision ID: 0005
Revises: 0004
"""

from ats_pipelines.db.migration_ops import execute_sql_file, is_plain_table, relation_exists

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if not relation_exists("stock_aggs_5m"):  # no continuous aggregates from 0002
        execute_sql_file("schema/0005_plain_bar_rollups.up.sql")


def downgrade() -> None:
    if is_plain_table("stock_aggs_5m"):
        execute_sql_file("schema/0005_plain_bar_rollups.down.sql")
