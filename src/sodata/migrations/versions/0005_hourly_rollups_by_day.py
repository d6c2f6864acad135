"""hourly rollups: a row per UTC day instead of per UTC month

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 12:50:00

A write rewrites the rollup rows it touches; a month's row of hours grew to 30 times a day's
(about 36 KB), rewritten by every write late in the month. The rows are rebuilt from the day
rows of 15-minute slots (rollups), which hold the same points.
"""

import numpy as np
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
SLOT_MS = 900_000
# the packed partials of sodata.timeseries.partials, as they are stored
PACKED = np.dtype(
    [
        ("slot", "<u2"),
        ("n", "<i8"),
        ("mean", "<f8"),
        ("m2", "<f8"),
        ("min", "<f8"),
        ("max", "<f8"),
        ("sum", "<f8"),
    ]
)


def _create(column: str) -> None:
    op.create_table(
        "hourly_rollups",
        sa.Column("variable_id", sa.Integer(), nullable=False),
        sa.Column(column, sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["variable_id"],
            ["variables.id"],
            name=op.f("fk_hourly_rollups_variable_id_variables"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("variable_id", column, name=op.f("pk_hourly_rollups")),
        sqlite_with_rowid=False,
    )


def _hours(slots: np.ndarray, base: int, period_base: int) -> np.ndarray:
    """Packed slot partials (offsets from `base`) merged by hour (offsets from `period_base`),
    with the parallel formula of sodata.timeseries.partials.merge."""
    hour = (base + slots["slot"].astype(np.int64) * SLOT_MS - period_base) // HOUR_MS
    first = np.flatnonzero(np.r_[True, hour[1:] != hour[:-1]])
    n = np.add.reduceat(slots["n"], first)
    mean = np.add.reduceat(slots["n"] * slots["mean"], first) / n
    deviation = slots["mean"] - np.repeat(mean, np.diff(np.r_[first, len(hour)]))
    out = np.empty(len(first), dtype=PACKED)
    out["slot"], out["n"], out["mean"] = hour[first], n, mean
    out["m2"] = np.add.reduceat(slots["m2"], first) + np.add.reduceat(
        slots["n"] * deviation**2, first
    )
    out["min"] = np.minimum.reduceat(slots["min"], first)
    out["max"] = np.maximum.reduceat(slots["max"], first)
    out["sum"] = np.add.reduceat(slots["sum"], first)
    return out


def upgrade() -> None:
    op.drop_table("hourly_rollups")
    _create("day")
    bind = op.get_bind()
    insert = sa.text("INSERT INTO hourly_rollups (variable_id, day, data) VALUES (:v, :d, :x)")
    after = (-1, -1)
    while True:  # the day rows, a few thousand at a time
        rows = bind.execute(
            sa.text(
                "SELECT variable_id, day, data FROM rollups WHERE variable_id > :v"
                " OR (variable_id = :v AND day > :d) ORDER BY variable_id, day LIMIT 5000"
            ),
            {"v": after[0], "d": after[1]},
        ).all()
        if not rows:
            break
        bind.execute(
            insert,
            [
                {
                    "v": vid,
                    "d": day,
                    "x": _hours(np.frombuffer(bytes(data), PACKED), 0, 0).tobytes(),
                }
                for vid, day, data in rows
                if len(data)
            ],
        )
        after = (rows[-1][0], rows[-1][1])


def downgrade() -> None:
    op.drop_table("hourly_rollups")
    _create("month")
    bind = op.get_bind()
    insert = sa.text("INSERT INTO hourly_rollups (variable_id, month, data) VALUES (:v, :m, :x)")
    for (vid,) in bind.execute(sa.text("SELECT DISTINCT variable_id FROM rollups")).all():
        months: dict[int, list[np.ndarray]] = {}
        for day, data in bind.execute(
            sa.text("SELECT day, data FROM rollups WHERE variable_id = :v ORDER BY day"),
            {"v": vid},
        ):
            month = int(np.datetime64(int(day), "D").astype("datetime64[M]").astype(np.int64))
            base = int(np.datetime64(month, "M").astype("datetime64[ms]").astype(np.int64))
            months.setdefault(month, []).append(
                _hours(np.frombuffer(bytes(data), PACKED), int(day) * DAY_MS, base)
            )
        if months:
            bind.execute(
                insert,
                [{"v": vid, "m": m, "x": np.concatenate(h).tobytes()} for m, h in months.items()],
            )
