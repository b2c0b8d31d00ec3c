"""Fractional trade and quote sizes (NUMERIC), and the stream's bar watermarks.

Revision ID: 0011
Revises: 0010
"""

from ats_pipelines.db.migration_ops import compression_suspended, execute_sql_file

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None
TICK_TABLES = ("trades", "quotes")


def upgrade() -> None:
    with compression_suspended(TICK_TABLES):
        execute_sql_file("schema/0011_stream_sizes_and_watermarks.up.sql")


def downgrade() -> None:
    with compression_suspended(TICK_TABLES):
        execute_sql_file("schema/0011_stream_sizes_and_watermarks.down.sql")
