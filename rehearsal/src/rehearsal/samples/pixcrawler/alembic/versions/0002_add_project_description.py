"""add project description

Revision ID: 0002
Revises: 0001
Create Date: 2024-12-09 14:30:00
"""

import sqlalchemy as sa

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("projects", sa.Column("description", sa.Text(), server_default=""))


def downgrade() -> None:
    op.drop_column("projects", "description")
