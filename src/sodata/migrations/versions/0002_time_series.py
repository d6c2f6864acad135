"""time series: raw points, rollups (15-minute and hourly), last values

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 08:28:09.134838
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "datapoints",
        sa.Column("variable_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("variable_id", "at", name=op.f("pk_datapoints")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "last_values",
        sa.Column("variable_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["variable_id"],
            ["variables.id"],
            name=op.f("fk_last_values_variable_id_variables"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("variable_id", name=op.f("pk_last_values")),
    )
    op.create_table(
        "rollups",
        sa.Column("variable_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["variable_id"],
            ["variables.id"],
            name=op.f("fk_rollups_variable_id_variables"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("variable_id", "day", name=op.f("pk_rollups")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "hourly_rollups",
        sa.Column("variable_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["variable_id"],
            ["variables.id"],
            name=op.f("fk_hourly_rollups_variable_id_variables"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("variable_id", "month", name=op.f("pk_hourly_rollups")),
        sqlite_with_rowid=False,
    )
    # A variable's points go with it, cascades included (datapoints has no foreign key: see
    # the model).
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION delete_variable_points() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN DELETE FROM datapoints WHERE variable_id = OLD.id; RETURN OLD; END $$"
        )
        op.execute(
            "CREATE TRIGGER variables_delete_points AFTER DELETE ON variables "
            "FOR EACH ROW EXECUTE FUNCTION delete_variable_points()"
        )
    else:
        op.execute(
            "CREATE TRIGGER variables_delete_points AFTER DELETE ON variables "
            "BEGIN DELETE FROM datapoints WHERE variable_id = OLD.id; END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER variables_delete_points ON variables")
        op.execute("DROP FUNCTION delete_variable_points()")
    else:
        op.execute("DROP TRIGGER variables_delete_points")
    op.drop_table("hourly_rollups")
    op.drop_table("rollups")
    op.drop_table("last_values")
    op.drop_table("datapoints")
