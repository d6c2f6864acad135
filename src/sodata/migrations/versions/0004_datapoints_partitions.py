"""PostgreSQL: raw points partitioned by month, so that retention drops whole partitions

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 12:10:00

`datapoints` becomes a table partitioned by range of `at` (ms), one partition per UTC month,
named datapoints_pYYYYMM (sodata.timeseries.retention); the points move into the partitions of
the months they are in. SQLite is unchanged (retention deletes there).
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_MONTHS = (  # the months (since 1970-01, UTC) that hold points
    "SELECT DISTINCT ((extract(year FROM t) - 1970) * 12 + extract(month FROM t) - 1)::int"
    " FROM (SELECT to_timestamp(at / 1000.0) AT TIME ZONE 'UTC' AS t FROM {table}) AS s"
)


def _month_start(month: int) -> int:
    """The first ms of a month numbered since 1970-01 (as sodata.timeseries.calendar)."""
    from datetime import UTC, datetime

    year, index = divmod(month, 12)
    return int(datetime(1970 + year, index + 1, 1, tzinfo=UTC).timestamp() * 1000)


def _replace(old_name: str, partitioning: str) -> None:
    """datapoints renamed to `old_name`, and a new, empty datapoints in its place."""
    op.execute(f"ALTER TABLE datapoints RENAME TO {old_name}")
    op.execute(f"ALTER INDEX pk_datapoints RENAME TO pk_{old_name}")
    op.execute(
        "CREATE TABLE datapoints (variable_id integer NOT NULL, at bigint NOT NULL,"
        " value double precision NOT NULL, CONSTRAINT pk_datapoints PRIMARY KEY (variable_id, at))"
        + partitioning
    )


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _replace("datapoints_unpartitioned", " PARTITION BY RANGE (at)")
    months = op.get_bind().exec_driver_sql(_MONTHS.format(table="datapoints_unpartitioned"))
    for (month,) in months.all():
        year, index = divmod(month, 12)
        op.execute(
            f"CREATE TABLE datapoints_p{1970 + year:04d}{index + 1:02d} PARTITION OF datapoints"
            f" FOR VALUES FROM ({_month_start(month)}) TO ({_month_start(month + 1)})"
        )
    op.execute("INSERT INTO datapoints SELECT variable_id, at, value FROM datapoints_unpartitioned")
    op.execute("DROP TABLE datapoints_unpartitioned")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _replace("datapoints_partitioned", "")
    op.execute("INSERT INTO datapoints SELECT variable_id, at, value FROM datapoints_partitioned")
    op.execute("DROP TABLE datapoints_partitioned")  # and its partitions
