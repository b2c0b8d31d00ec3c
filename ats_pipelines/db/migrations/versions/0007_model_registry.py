"""Model registry guarantees: one active model per name, known statuses.

Revision ID: 0007
Revises: 0006
"""

from ats_pipelines.db.migration_ops import execute_sql_file

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_sql_file("schema/0007_model_registry.up.sql")


def downgrade() -> None:
    execute_sql_file("schema/0007_model_registry.down.sql")
