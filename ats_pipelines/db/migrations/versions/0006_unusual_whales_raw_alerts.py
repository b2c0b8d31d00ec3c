"""The raw Unusual Whales flow alerts, kept for audit.

Revision ID: 0006
Revises: 0005
"""

from ats_pipelines.db.migration_ops import execute_sql_file

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_sql_file("schema/0006_unusual_whales_raw_alerts.up.sql")


def downgrade() -> None:
    execute_sql_file("schema/0006_unusual_whales_raw_alerts.down.sql")
