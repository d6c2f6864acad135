"""rate limit counters, shared by the server's processes

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 05:53:13.818241
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_limit_counts",
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("window_start", "key", name=op.f("pk_rate_limit_counts")),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("rate_limit_counts")
