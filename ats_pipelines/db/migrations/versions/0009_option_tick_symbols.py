"""Option tickers in trades and quotes: their symbol columns widened to VARCHAR(32).

Revision ID: 0009
Revises: 0008
"""

from ats_pipelines.db.migration_ops import compression_suspended, execute_sql_file

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None
TICK_TABLES = ("trades", "quotes")


def upgrade() -> None:
    with compression_suspended(TICK_TABLES):
        execute_sql_file("schema/0009_option_tick_symbols.up.sql")


def downgrade() -> None:
    with compression_suspended(TICK_TABLES):
        execute_sql_file("schema/0009_option_tick_symbols.down.sql")
