"""The machine's speed, measured in the same run as a benchmark, so figures from two machines can be compared.

Two fixed workloads: a pure-Python one (hashing, sorting and dictionary work on a seeded list) and an SQL one
(round trips of a one-row query, then one aggregate over 200,000 generated rows). Both do exactly the same work
on every machine and every run; a bench's figures divided by these tell whether a change comes from the code or
from the machine.
"""

import hashlib
import random
import time

from django.db import connection

PYTHON_ITEMS = 200_000
SQL_ROUND_TRIPS = 2_000
SQL_SERIES = 200_000


def _python_workload() -> int:
    rng = random.Random(20261203)
    items = [rng.randrange(1_000_000) for _ in range(PYTHON_ITEMS)]
    counts: dict[int, int] = {}
    for x in sorted(items):
        counts[x % 997] = counts.get(x % 997, 0) + 1
    digest = hashlib.sha256(repr(sorted(counts.items())).encode()).digest()
    return digest[0]


def _sql_series() -> str:
    if connection.vendor == "postgresql":
        return f"SELECT count(*), sum(g % 7) FROM generate_series(1, {SQL_SERIES}) AS g"
    return (
        f"WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {SQL_SERIES}) "
        "SELECT count(*), sum(g % 7) FROM s"
    )


def _sql_workload() -> tuple[float, float]:
    with connection.cursor() as cur:
        started = time.perf_counter()
        for i in range(SQL_ROUND_TRIPS):
            cur.execute("SELECT %s", [i])
            cur.fetchone()
        trips = time.perf_counter() - started
        started = time.perf_counter()
        cur.execute(_sql_series())
        cur.fetchone()
        scan = time.perf_counter() - started
    return trips, scan


def calibration_measure() -> dict:
    """The fixed workloads' times in milliseconds (lower is a faster machine), best of three each."""
    python_s = min(_timed(_python_workload) for _ in range(3))
    sql = [_sql_workload() for _ in range(3)]
    return {
        "python_ms": round(1000 * python_s, 1),
        "sql_round_trips_ms": round(1000 * min(t for t, _ in sql), 1),
        "sql_scan_ms": round(1000 * min(s for _, s in sql), 1),
        "database": connection.vendor,
        "workload": f"python: sort+count {PYTHON_ITEMS:,} ints; sql: {SQL_ROUND_TRIPS:,} x SELECT 1 row, "
        f"aggregate over {SQL_SERIES:,} generated rows",
    }


def _timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started
