"""rollups: first and last point, held-value integral and counter resets per partial; variable
settings for counters and time-weighted averages

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 18:30:00

The packed partials of `rollups` and `hourly_rollups` gain the fields that answer first, last,
delta and twa (sodata.timeseries.partials). Rows stored before are converted with those fields
unknown (area and resets NaN): the engine answers the four from the raw points of such slots
until a write recomputes them, and the other aggregations as before.

`variables` gains counter_reset_threshold (delta) and max_carry_seconds (twa), both optional.
"""

import numpy as np
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

OLD = np.dtype(
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
NEW = np.dtype(
    OLD.descr
    + [
        ("t0", "<u4"),
        ("t1", "<u4"),
        ("gap", "<u4"),
        ("v0", "<f8"),
        ("v1", "<f8"),
        ("area", "<f8"),
        ("resets", "<f8"),
        ("drop_lo", "<f8"),
        ("drop_hi", "<f8"),
    ]
)


def _widen(data: bytes) -> bytes:
    old = np.frombuffer(data, OLD)
    new = np.zeros(len(old), NEW)
    for name in OLD.names or ():  # (a structured dtype: its fields always have names)
        new[name] = old[name]
    for name in ("v0", "v1", "area", "resets"):
        new[name] = np.nan
    new["drop_lo"] = np.inf
    return new.tobytes()


def _narrow(data: bytes) -> bytes:
    new = np.frombuffer(data, NEW)
    old = np.empty(len(new), OLD)
    for name in OLD.names or ():
        old[name] = new[name]
    return old.tobytes()


def _convert(table: str, change) -> None:
    bind = op.get_bind()
    update = sa.text(f"UPDATE {table} SET data = :x WHERE variable_id = :v AND day = :d")
    after = (-1, -1)
    while True:  # a few thousand rows at a time
        rows = bind.execute(
            sa.text(
                f"SELECT variable_id, day, data FROM {table} WHERE variable_id > :v"
                " OR (variable_id = :v AND day > :d) ORDER BY variable_id, day LIMIT 5000"
            ),
            {"v": after[0], "d": after[1]},
        ).all()
        if not rows:
            break
        bind.execute(
            update, [{"v": vid, "d": day, "x": change(bytes(data))} for vid, day, data in rows]
        )
        after = (rows[-1][0], rows[-1][1])


def upgrade() -> None:
    # plain ALTER TABLE (SQLite too): a copy of the table (batch mode) would cascade the drop of
    # the old one to the series' points
    op.add_column("variables", sa.Column("counter_reset_threshold", sa.Float(), nullable=True))
    op.add_column("variables", sa.Column("max_carry_seconds", sa.Integer(), nullable=True))
    for table in ("rollups", "hourly_rollups"):
        _convert(table, _widen)


def downgrade() -> None:
    for table in ("rollups", "hourly_rollups"):
        _convert(table, _narrow)
    op.drop_column("variables", "max_carry_seconds")
    op.drop_column("variables", "counter_reset_threshold")
