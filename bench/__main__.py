"""`make bench` / `python -m bench`: the five benchmarks at quick sizes, one table at the end.

    python -m bench [--backend sqlite] [--backend postgresql] [--full]

Quick sizes: Q-agg and Q-energy 100 repetitions per variant; Ingest 1,000,000 points per
variant; Raw year 3 full reads; Flatness 1M vs 5M points stored. --full: the issue's sizes
(Q-agg and Q-energy 200 repetitions, Raw year 5 reads, Flatness 1M vs 100M points stored: 10+
minutes and ~3 GB of disk on SQLite, ~8 GB on PostgreSQL). Each benchmark also runs alone:
python -m bench.q_agg -h.
"""

from __future__ import annotations

import argparse
import time

from bench import flatness, ingest, q_agg, q_energy, raw_year
from bench.common import Report, say


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--backend", action="append", choices=["sqlite", "postgresql"])
    p.add_argument("--full", action="store_true", help="the issue's sizes (flatness: 100M)")
    p.add_argument("--plain-server", action="store_true", help="see python -m bench.q_agg -h")
    options = p.parse_args()
    common = [arg for b in options.backend or ["sqlite"] for arg in ("--backend", b)]
    if options.plain_server:
        common.append("--plain-server")
    full = options.full
    plan = [
        (q_agg, ["--repeat", "200" if full else "100"]),
        (q_energy, ["--repeat", "200" if full else "100"]),
        (ingest, ["--points", "1000000"]),
        (raw_year, ["--repeat", "5" if full else "3"]),
        (
            flatness,
            ["--points", "100000000" if full else "5000000", "--repeat", "200" if full else "100"],
        ),
    ]
    report = Report()
    t0 = time.perf_counter()
    for module, argv in plan:
        module.run(module.arguments().parse_args(argv + common), report)
    say(f"\nall benchmarks: {time.perf_counter() - t0:.0f} s")
    report.print()


if __name__ == "__main__":
    main()
