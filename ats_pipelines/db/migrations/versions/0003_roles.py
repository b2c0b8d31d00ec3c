"""Roles: ats_writer for the pipelines, ats_reader for analysts.

Revision ID: 0003
Revises: 0002
"""

from ats_pipelines.db.migration_ops import execute_sql_file

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_sql_file("schema/0003_roles.up.sql")


def downgrade() -> None:
    execute_sql_file("schema/0003_roles.down.sql")
