"""Q-energy: daily delta of an energy index and daily time-weighted average (twa) of a power,
one year of one-minute points (525,600), in Europe/Paris.

A device of our own, a Diris A-40 meter (its profile gives Global|0|200140, active energy
imported in kWh, and Global|0|200100, total active power in kW: Measure services polled every
60 s, so their carry limit is 3 x 60 = 180 s unless the variable's maxCarrySeconds says
otherwise; the benchmark reads the variables and uses what they say). Two series, loaded as
q_agg loads its own (HTTP ingestion in batches of 10,000; --load direct: store.write in this
process):
- the power P: a commercial building's load (base + working hours, weekdays, winter higher,
  noise), 0.01 kW. One point per minute at the minute plus 0-29 s (a device's clock), so that
  holds cross midnight every day; plus the day before and the day after the year (outside the
  range asked: the first day's carried-in value and the last day's next point come from
  there). Seven stretches are missing (communication outages of 1 minute to 5 hours: across
  midnight, across both DST changes, across `from` and across `to`): the carry limit and the
  held time that divides count there: 524,957 points in the year (643 fewer).
- the energy index E (kWh, 0.001): the integral of P, on the same times without the outages:
  525,600 points in the year, monotonic, no counter reset.

Measured (same database, same run):
- HTTP: PUT /api/v1/ca/{ca}/datapoints, granularity day, timezone Europe/Paris,
  useDeviceLocalTimezone false, the year: `delta` of E alone, `twa` of P alone; client round
  trip p50/p95 (orjson decode included) and the server-side time (Server-Timing, or round trip
  - trivial request with --plain-server), as q_agg.
- in-process: sodata.datapoints.service.run_query (new session per call, orjson included) and
  sodata.timeseries.query.aggregate alone (with the variable's threshold and carry).
- baseline: SQL over the raw rows of the same series in the same database, window functions
  over the series ordered by at:
  delta: LAG(value) gives each point's predecessor (the series' latest point before it: the
    window starts at the latest point before the year); increment = value - prev, or value
    when prev - value > counterResetThreshold (a reset; none here); summed per Paris day of
    the points in the year.
  twa: LEAD(at) gives each point's hold, h = min(next - at, carry) (the last point: carry),
    clipped to [from, to) (points before the year whose hold reaches into it count); a hold
    that crosses midnight is cut there and the rest goes to the next day; per Paris day that
    holds a point of the year, sum(value * held ms) / sum(held ms).
  Days: PostgreSQL date_trunc('day', to_timestamp(at / 1000.0) AT TIME ZONE 'Europe/Paris'),
  the next midnight ((d + 1 day) AT TIME ZONE 'Europe/Paris'); SQLite (no time zones): the day
  of at + the Paris UTC offset (a CASE over the year's offset changes, found with zoneinfo, as
  q_agg), the next midnight (d + 1) * 86,400,000 - the offset there.
  The API's days and values are checked against the baseline's and against a third
  computation in numpy on the generated arrays (not timed); a mismatch is printed loudly, the
  row marked MISMATCH, and the run exits with status 1 at the end.

Targets: server-side p50 <= 10 ms, and >= 20x faster than the baseline.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import orjson

from bench.common import (
    CA,
    DAY_MS,
    MINUTE_MS,
    YEAR_END_MS,
    YEAR_MINUTES,
    YEAR_START_MS,
    ZONE,
    Api,
    Report,
    Timing,
    backends,
    connect,
    http_timed,
    load_year_direct,
    load_year_http,
    paris_offsets,
    parser,
    running,
    say,
    session_on,
    variable_ids,
    year_query,
)
from sodata.demo.ids import METER_TYPE

ENERGY = "Global|0|200140"  # IMeter_EaImport, kWh
POWER = "Global|0|200100"  # IMeter_PTotal, kW
VARIANTS = {"delta": ENERGY, "twa": POWER}
TARGET_MS, TARGET_RATIO = 10.0, 20.0

_PARIS = ZoneInfo(ZONE)
# the series span the year and a day either side
SPAN_START_MS = YEAR_START_MS - DAY_MS
SPAN_END_MS = YEAR_END_MS + DAY_MS


def _paris_ms(*fields: int) -> int:
    return int(datetime(*fields, tzinfo=_PARIS).timestamp() * 1000)


# the power's missing stretches, [start, end) by their minutes (Paris wall clock, else UTC)
OUTAGES = [
    (_paris_ms(2022, 12, 31, 23, 58), _paris_ms(2023, 1, 1, 0, 2)),  # across `from`
    (_paris_ms(2023, 2, 14, 10, 0), _paris_ms(2023, 2, 14, 10, 7)),  # 7 min > carry
    (_paris_ms(2023, 3, 26, 1, 30), _paris_ms(2023, 3, 26, 4, 0)),  # across 02:00 -> 03:00
    (_paris_ms(2023, 5, 10, 12, 0), _paris_ms(2023, 5, 10, 12, 1)),  # 1 min: hold < carry
    (_paris_ms(2023, 6, 30, 22, 0), _paris_ms(2023, 7, 1, 3, 0)),  # across midnight
    (  # across 03:00 -> 02:00 (UTC: the wall clock repeats an hour)
        int(datetime(2023, 10, 28, 23, 0, tzinfo=UTC).timestamp() * 1000),
        int(datetime(2023, 10, 29, 3, 0, tzinfo=UTC).timestamp() * 1000),
    ),
    (_paris_ms(2023, 12, 31, 23, 57), _paris_ms(2024, 1, 1, 0, 5)),  # across `to`
]


# --- the data and its answers in numpy (the reference) ----------------------------------------

_PIECES = paris_offsets(SPAN_START_MS - DAY_MS, SPAN_END_MS + DAY_MS)


def paris_offset(t: np.ndarray) -> np.ndarray:
    """The Paris UTC offset (ms) at each instant (ms)."""
    starts = np.array([b for b, _ in _PIECES], dtype=np.int64)
    offsets = np.array([o for _, o in _PIECES], dtype=np.int64)
    return offsets[np.searchsorted(starts, t, side="right") - 1]


def _day_starts() -> tuple[np.ndarray, list[date]]:
    """The Paris midnights (ms) from two days before the series to two days after, found with
    zoneinfo, and their dates."""
    first = datetime.fromtimestamp(SPAN_START_MS / 1000, _PARIS).date() - timedelta(days=2)
    last = datetime.fromtimestamp(SPAN_END_MS / 1000, _PARIS).date() + timedelta(days=2)
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    starts = [int(datetime(d.year, d.month, d.day, tzinfo=_PARIS).timestamp() * 1000) for d in days]
    return np.array(starts, dtype=np.int64), days


def energy_series(seed: int = 14) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(times, energy index kWh, power times, power kW): see the module's docstring."""
    rng = np.random.default_rng(seed)
    minutes = YEAR_MINUTES + 2 * DAY_MS // MINUTE_MS
    t = SPAN_START_MS + np.arange(minutes, dtype=np.int64) * MINUTE_MS
    t += rng.integers(0, 30, len(t)) * 1000
    local = t + paris_offset(t)
    hour = (local % DAY_MS) / 3_600_000
    weekday = (local // DAY_MS + 3) % 7  # 1970-01-01 was a Thursday; Monday is 0
    year_angle = (t - _paris_ms(2023, 1, 15)) / (365.25 * DAY_MS) * 2 * np.pi
    working = (weekday < 5) & (hour >= 7) & (hour < 19)
    power = (
        18 * (1 + 0.3 * np.cos(year_angle))
        + working * (40 + 8 * np.sin((hour - 7) / 12 * np.pi))
        + rng.normal(0, 1.5, len(t))
    )
    power = np.maximum(np.round(power, 2), 0.5)
    # the index: the power held since the previous point, integrated (kWh), 1 Wh resolution
    gained = np.concatenate([[0.0], power[:-1] * np.diff(t) / 3_600_000])
    energy = np.round(48_213.7 + np.cumsum(gained), 3)
    keep = np.ones(len(t), dtype=bool)
    for a, b in OUTAGES:
        keep &= ~((t >= a) & (t < b))  # the minutes of [a, b): a and b are whole minutes
    return t, energy, t[keep], power[keep]


def reference_delta(
    t: np.ndarray, v: np.ndarray, start: int, end: int, threshold: float
) -> tuple[list[date], np.ndarray]:
    """The contract's daily delta over [start, end), from the arrays."""
    increment = np.zeros(len(v))
    prev, cur = v[:-1], v[1:]
    increment[1:] = np.where(prev - cur > threshold, cur, cur - prev)
    inside = (t >= start) & (t < end)
    starts, days = _day_starts()
    k = np.searchsorted(starts, t[inside], side="right") - 1
    sums = np.bincount(k, weights=increment[inside], minlength=len(days))
    used = np.unique(k)
    return [days[i] for i in used], sums[used]


def reference_twa(
    t: np.ndarray, v: np.ndarray, start: int, end: int, carry: int
) -> tuple[list[date], np.ndarray]:
    """The contract's daily twa over [start, end), from the arrays: each point holds
    min(next - at, carry) (the last: carry), split exactly at every Paris midnight."""
    hold = np.minimum(np.append(np.diff(t), carry), carry)
    s, e = np.maximum(t, start), np.minimum(t + hold, end)
    live = e > s
    s, e, x = s[live], e[live], v[live]
    starts, days = _day_starts()
    integral = np.zeros(len(days))
    held = np.zeros(len(days))
    k = np.searchsorted(starts, s, side="right") - 1
    while len(s):  # each pass takes the part of every hold inside its current day
        cut = np.minimum(e, starts[k + 1])
        np.add.at(integral, k, x * (cut - s))
        np.add.at(held, k, cut - s)
        rest = e > cut
        s, e, x, k = cut[rest], e[rest], x[rest], k[rest] + 1
    inside = t[(t >= start) & (t < end)]
    used = np.unique(np.searchsorted(starts, inside, side="right") - 1)
    return [days[i] for i in used], integral[used] / held[used]


# --- the baseline in SQL --------------------------------------------------------------------


def _sqlite_offset(expr: str) -> str:
    """A CASE giving the Paris UTC offset (ms) at the instant `expr` (ms)."""
    pieces = paris_offsets(SPAN_START_MS - 2 * DAY_MS, SPAN_END_MS + 2 * DAY_MS)
    case = "CASE" + "".join(
        f" WHEN {expr} < {b} THEN {o}"
        for (b, _), (_, o) in zip(pieces[1:], pieces[:-1], strict=True)
    )
    return case + f" ELSE {pieces[-1][1]} END"


def baseline_sql(postgres: bool, aggregation: str) -> str:
    """The baseline's query; parameters by name: vid, start, end, threshold, carry."""
    if postgres:
        p = {k: f"%({k})s" for k in ("vid", "start", "end", "threshold", "carry")}
        day = "date_trunc('day', to_timestamp({} / 1000.0) AT TIME ZONE 'Europe/Paris')"
    else:
        p = {k: f":{k}" for k in ("vid", "start", "end", "threshold", "carry")}
    if aggregation == "delta":
        increment = (
            f"CASE WHEN prev IS NULL THEN 0 WHEN prev - value > {p['threshold']} THEN value"
            " ELSE value - prev END"
        )
        series = (
            f"SELECT at, value, LAG(value) OVER (ORDER BY at) AS prev FROM datapoints"
            f" WHERE variable_id = {p['vid']} AND at < {p['end']} AND at >= coalesce("
            f"(SELECT max(at) FROM datapoints WHERE variable_id = {p['vid']}"
            f" AND at < {p['start']}), {p['start']})"
        )
        d = day.format("at") if postgres else f"(at + {_sqlite_offset('at')}) / {DAY_MS}"
        return (
            f"WITH p AS ({series}) SELECT {d} AS d, sum({increment}) FROM p"
            f" WHERE at >= {p['start']} GROUP BY d ORDER BY d"
        )
    assert aggregation == "twa"
    # each point's hold [s, e) clipped to [from, to); own: the point is in [from, to)
    holds = (
        "WITH p AS (SELECT at, value, LEAD(at) OVER (ORDER BY at) AS nxt FROM datapoints"
        f" WHERE variable_id = {p['vid']} AND at > {p['start']} - {p['carry']}"
        f" AND at < {p['end']}), "
    )
    # per day d: the parts before the next midnight m; then the rest of the holds that cross
    # it, given to d + 1; the days answered are those of the points in [from, to)
    split = (
        "SELECT d, sum(vw) / sum(w) FROM ("
        "SELECT d, sum(value * ({least}(e, m) - s)) AS vw, sum({least}(e, m) - s) AS w,"
        " {any}(own) AS own FROM m GROUP BY d"
        " UNION ALL SELECT {next_day}, sum(value * (e - m)), sum(e - m), {no} FROM m"
        " WHERE e > m GROUP BY d"
        ") AS x GROUP BY d HAVING {any}(own){yes} ORDER BY d"
    )
    if postgres:
        # the next midnights of the days, computed once per day, joined
        first = f"({p['start']} - {p['carry']})"
        return (
            holds
            + f"h AS (SELECT value, at >= {p['start']} AS own, GREATEST(at, {p['start']}) AS s,"
            f" LEAST(at + LEAST(COALESCE(nxt - at, {p['carry']}), {p['carry']}), {p['end']})"
            " AS e FROM p), "
            f"k AS (SELECT value, own, s, e, {day.format('s')} AS d FROM h WHERE e > s), "
            "days AS (SELECT d, (extract(epoch FROM (d + interval '1 day')"
            " AT TIME ZONE 'Europe/Paris') * 1000)::bigint AS m FROM generate_series("
            f"{day.format(first)}, {day.format(p['end'])},"
            " interval '1 day') AS d), "
            "m AS MATERIALIZED (SELECT k.*, days.m FROM k JOIN days USING (d)) "
            + split.format(
                least="LEAST", any="bool_or", next_day="d + interval '1 day'", no="false", yes=""
            )
        )
    next_midnight = f"(d + 1) * {DAY_MS}"
    return (
        holds + f"h AS (SELECT value, at >= {p['start']} AS own, max(at, {p['start']}) AS s,"
        f" min(at + min(coalesce(nxt - at, {p['carry']}), {p['carry']}), {p['end']}) AS e"
        " FROM p), "
        f"ho AS (SELECT value, own, s, e, {_sqlite_offset('s')} AS o FROM h WHERE e > s), "
        f"k AS (SELECT value, own, s, e, o, (s + o) / {DAY_MS} AS d FROM ho), "
        f"m AS MATERIALIZED (SELECT value, own, s, e, d, {next_midnight}"
        f" - {_sqlite_offset(f'({next_midnight} - o)')} AS m FROM k) "
        + split.format(least="min", any="max", next_day="d + 1", no="0", yes=" = 1")
    )


def _day_of(key: Any) -> date:
    """A baseline row's day: PostgreSQL's local midnight, SQLite's day number."""
    if isinstance(key, datetime):
        return key.date()
    return date(1970, 1, 1) + timedelta(days=int(key))


# --- the measures -----------------------------------------------------------------------------


class Settings:
    """A variable's counter reset threshold and carry limit (ms), as the contract says."""

    def __init__(self, variable: dict) -> None:
        threshold = variable.get("counterResetThreshold")
        self.threshold = float(threshold) if threshold is not None else 0.0
        seconds = variable.get("maxCarrySeconds")
        self.carry_set = seconds is not None
        if seconds is None:
            seconds = 86_400 if variable.get("sendOnUpdate") else 3 * variable["pollingTime"]
        self.carry = int(seconds) * 1000
        self.known = "maxCarrySeconds" in variable  # the API shows the setting

    def __str__(self) -> str:
        how = "set" if self.carry_set else "default"
        shown = "" if self.known else " (the variable's JSON has no maxCarrySeconds yet)"
        return f"threshold {self.threshold:g}, carry {self.carry / 1000:g} s ({how}){shown}"


class Series:
    """One loaded series: its variable and the arrays it was loaded from."""

    def __init__(self, mapping: str, vid: int, settings: Settings, t: np.ndarray, v: np.ndarray):
        self.mapping, self.vid, self.settings, self.t, self.v = mapping, vid, settings, t, v

    def reference(self, aggregation: str) -> tuple[list[date], np.ndarray]:
        if aggregation == "delta":
            return reference_delta(
                self.t, self.v, YEAR_START_MS, YEAR_END_MS, self.settings.threshold
            )
        return reference_twa(self.t, self.v, YEAR_START_MS, YEAR_END_MS, self.settings.carry)


class QEnergy:
    """The year's daily delta and twa, measured every way on a running server."""

    def __init__(self, url: str, api: Api, device: str, series: dict[str, Series]) -> None:
        self.url, self.api, self.device, self.series = url, api, device, series
        self.postgres = not url.startswith("sqlite")
        self.mismatches: list[str] = []

    def body(self, aggregation: str) -> dict:
        mapping = VARIANTS[aggregation]
        return year_query(
            [{"deviceUuid": self.device, "mappingConfig": mapping, "aggregation": aggregation}]
        )

    def http(self, aggregation: str, repeat: int) -> tuple[Timing, Timing, dict]:
        content = orjson.dumps(self.body(aggregation))
        return http_timed(self.api, "PUT", f"/api/v1/ca/{CA}/datapoints", content, repeat)

    def trivial(self, repeat: int) -> tuple[Timing, Timing]:
        """GET /realms/sodata: no authentication, no database."""
        rt, server, _ = http_timed(self.api, "GET", "/realms/sodata", None, repeat)
        return rt, server

    def in_process(self, aggregation: str, repeat: int) -> tuple[Timing, Timing]:
        """(run_query + orjson, query.aggregate alone) on sessions of this process."""
        from sqlalchemy import select

        from sodata.access.principal import Principal
        from sodata.datapoints.schemas import DatapointsQuery
        from sodata.datapoints.service import run_query
        from sodata.kit.db import make_sessionmaker
        from sodata.models import CorporateAccount
        from sodata.timeseries import query, store
        from sodata.timeseries.calendar import zone

        body = DatapointsQuery.model_validate(self.body(aggregation))
        principal = Principal(user_id=None, superuser=True)
        ca_uuid = uuid.UUID(CA)
        series = self.series[VARIANTS[aggregation]]
        with session_on(self.url) as first:
            factory = make_sessionmaker(first.get_bind())

            def service_call() -> Any:  # what the endpoint does, from the corporate account on
                with factory() as session:
                    ca = session.scalar(
                        select(CorporateAccount).where(CorporateAccount.uuid == ca_uuid)
                    )
                    return orjson.dumps(run_query(session, principal, ca, body))

            full = Timing()
            full.measure(service_call, repeat, warmup=3)

            tz = zone(ZONE)
            threshold, carry = series.settings.threshold, series.settings.carry

            def engine_call() -> Any:
                with factory() as session:
                    return query.aggregate(
                        store.Db(session),
                        series.vid,
                        YEAR_START_MS,
                        YEAR_END_MS,
                        None,
                        100_000,
                        "day",
                        aggregation,
                        tz,
                        threshold=threshold,
                        carry=carry,
                    )

            engine = Timing()
            engine.measure(engine_call, repeat, warmup=3)
        return full, engine

    def baseline(self, aggregation: str, repeat: int) -> tuple[Timing, list[tuple]]:
        sql = baseline_sql(self.postgres, aggregation)
        series = self.series[VARIANTS[aggregation]]
        params = {
            "vid": series.vid,
            "start": YEAR_START_MS,
            "end": YEAR_END_MS,
            "threshold": series.settings.threshold,
            "carry": series.settings.carry,
        }
        conn = connect(self.url)
        try:

            def run() -> list[tuple]:
                cur = conn.cursor()
                cur.execute(sql, params)
                rows = cur.fetchall()
                cur.close()
                return rows

            timing = Timing()
            rows = timing.measure(run, repeat, warmup=2)
            if self.postgres:
                conn.rollback()
        finally:
            conn.close()
        return timing, rows

    def check(self, aggregation: str, answer: dict, rows: list[tuple]) -> bool:
        """The API's days and values against the baseline's and the numpy reference's; a
        mismatch is printed loudly and kept. True when all three agree."""
        (series,) = answer["series"]
        api_days = [
            datetime.fromisoformat(p["at"]).astimezone(_PARIS).date() for p in series["data"]
        ]
        api = np.array(
            [np.nan if p["value"] is None else p["value"] for p in series["data"]],
            dtype=np.float64,
        )
        base_days = [_day_of(r[0]) for r in rows]
        base = np.array([np.nan if r[1] is None else r[1] for r in rows], dtype=np.float64)
        ref_days, ref = self.series[VARIANTS[aggregation]].reference(aggregation)
        problems = []
        if series.get("nextAfter") is not None:
            problems.append(f"the answer is paged (nextAfter {series['nextAfter']})")
        for name, days, values in (("baseline", base_days, base), ("numpy", ref_days, ref)):
            if days != api_days:
                only_api = sorted(set(api_days) - set(days))[:5]
                only_other = sorted(set(days) - set(api_days))[:5]
                problems.append(
                    f"days differ from the {name}'s: API {len(api_days)}, {name} {len(days)};"
                    f" only in the API {only_api}, only in the {name} {only_other}"
                )
                continue
            close = np.isclose(api, values, rtol=1e-7, atol=1e-9)
            if not close.all():
                bad = np.flatnonzero(~close)
                shown = "; ".join(
                    f"{api_days[i]}: API {api[i]!r}, {name} {values[i]!r}" for i in bad[:5]
                )
                problems.append(f"{len(bad)} day(s) differ from the {name}'s: {shown}")
        if base_days == ref_days and not np.allclose(base, ref, rtol=1e-7, atol=1e-9):
            problems.append("the baseline and the numpy reference disagree (a benchmark bug)")
        for problem in problems:
            line = f"MISMATCH [{aggregation}] {problem}"
            self.mismatches.append(line)
            say("  " + "!" * 88)
            say(f"  !!! {line}")
        if problems:
            say("  " + "!" * 88)
        return not problems


def measure(q: QEnergy, report: Report, backend: str, repeat: int) -> dict:
    """Each aggregation over HTTP, in process and as the baseline; rows in `report`. Returns the
    figures (ms) of each."""
    trivial_rt, trivial_server = q.trivial(repeat)
    say(f"  trivial GET /realms/sodata        RT {trivial_rt}")
    say(f"                                    server {trivial_server}")
    found = {}
    for name in VARIANTS:
        rt, server_timing, answer = q.http(name, repeat)
        full, engine = q.in_process(name, max(20, repeat // 4))
        base, rows = q.baseline(name, max(5, repeat // 20))
        equal = q.check(name, answer, rows)
        estimated = max(rt.p50 - trivial_rt.p50, 0.0)
        measured = server_timing.samples and not np.isnan(server_timing.samples[0])
        server = server_timing.p50 if measured else estimated
        how = "Server-Timing" if measured else "RT - trivial"
        ratio = base.p50 / max(server, 1e-3)
        say(f"  [{name}] HTTP round trip        {rt}")
        if measured:
            say(f"  [{name}] server (Server-Timing) {server_timing}")
        say(f"  [{name}] RT p50 - trivial RT p50: {estimated:.2f} ms")
        say(f"  [{name}] in-process run_query   {full}")
        say(f"  [{name}] in-process aggregate() {engine}")
        say(f"  [{name}] baseline (window SQL)  {base}")
        say(
            f"  [{name}] {len(answer['series'][0]['data'])} buckets, "
            + ("equal to the baseline's and numpy's" if equal else "MISMATCH (above)")
        )
        met = equal and server <= TARGET_MS and ratio >= TARGET_RATIO
        report.add(
            f"Q-energy daily {name} (year, Paris)",
            backend,
            ("" if equal else "**MISMATCH** ")
            + f"server p50 {server:.1f} ms ({how}); RT p50 {rt.p50:.1f} / p95 {rt.p95:.1f} ms; "
            f"in-process run_query {full.p50:.1f}, aggregate() {engine.p50:.1f} ms",
            f"window SQL p50 {base.p50:.0f} ms",
            f"{ratio:.0f}x server, {base.p50 / rt.p50:.0f}x RT",
            f"server p50 <= {TARGET_MS:g} ms and >= {TARGET_RATIO:g}x",
            met,
        )
        found[name] = {
            "rt": rt.p50,
            "rt_p95": rt.p95,
            "server": server,
            "in_process": full.p50,
            "engine": engine.p50,
            "baseline": base.p50,
            "equal": equal,
        }
    return found


def meter(api: Api, site: str) -> str:
    """A Diris A-40 meter of our own in the site (its uuid)."""
    tag = uuid.uuid4().hex[:8]
    body = {
        "name": f"Bench meter {tag}",
        "serialNumber": f"BENCH-M-{tag}",
        "siteUuid": site,
        "deviceTypeUid": str(METER_TYPE),
    }
    return api.call("POST", f"/api/v1/ca/{CA}/devices", body)["uuid"]


def setup_energy(url: str, api: Api, load: str) -> tuple[str, dict[str, Series]]:
    """A meter with the energy index and the power loaded: (device uuid, series by mapping)."""
    device = meter(api, api.site())
    answer = api.call("GET", f"/api/v1/ca/{CA}/devices/{device}/variables")
    rows = answer["results"] if isinstance(answer, dict) else answer
    by_mapping = {r["mappingConfig"]: r for r in rows}
    t, energy, tp, power = energy_series()
    loaded: dict[str, Series] = {}
    for mapping, times, values in ((ENERGY, t, energy), (POWER, tp, power)):
        variable = by_mapping[mapping]
        vid = variable_ids(url, [variable["uuid"]])[0]
        settings = Settings(variable)
        if load == "http":
            took = load_year_http(api, device, mapping, times, values)
            how = "through HTTP"
        else:
            took = load_year_direct(url, vid, times, values)
            how = "with store.write"
        inside = int(((times >= YEAR_START_MS) & (times < YEAR_END_MS)).sum())
        say(
            f"  {mapping}: loaded {len(times):,} points ({inside:,} in the year) {how} in "
            f"{took:.1f} s ({len(times) / took:,.0f} points/s); {settings}"
        )
        loaded[mapping] = Series(mapping, vid, settings, times, values)
    year = np.flatnonzero((t >= YEAR_START_MS) & (t < YEAR_END_MS))
    say(
        f"  energy over the year: {energy[year[-1]] - energy[year[0] - 1]:,.0f} kWh; "
        f"power {power.min():.1f} to {power.max():.1f} kW"
    )
    return device, loaded


def arguments() -> argparse.ArgumentParser:
    p = parser(__doc__)
    p.add_argument("--repeat", type=int, default=200, help="HTTP repetitions per aggregation")
    p.add_argument(
        "--load",
        choices=["http", "direct"],
        default="http",
        help="load the series through HTTP ingestion (default) or store.write in-process",
    )
    return p


def run(args: argparse.Namespace, report: Report) -> list[str]:
    """Measures on each backend; returns the mismatches found (printed already)."""
    mismatches = []
    for backend in backends(args):
        say(f"\n== Q-energy on {backend}")
        with running(backend, args.workdir, args.keep, args.plain_server) as (url, server):
            api = server.client()
            device, series = setup_energy(url, api, args.load)
            time.sleep(1)
            q = QEnergy(url, api, device, series)
            measure(q, report, backend, args.repeat)
            mismatches += [f"{backend}: {m}" for m in q.mismatches]
            api.close()
    return mismatches


def main() -> None:
    report = Report()
    mismatches = run(arguments().parse_args(), report)
    report.print()
    if mismatches:
        say("\nMISMATCHES between the API and the baseline / numpy reference:")
        for line in mismatches:
            say(f"  {line}")
        sys.exit(1)


if __name__ == "__main__":
    main()
