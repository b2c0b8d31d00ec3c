"""Feature versions: the definition that computed each partition's stored features (an addition to the spec).

Revision ID: 0013
Revises: 0012
"""

from ats_pipelines.db.migration_ops import execute_sql_file

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_sql_file("schema/0013_feature_versions.up.sql")


def downgrade() -> None:
    execute_sql_file("schema/0013_feature_versions.down.sql")
