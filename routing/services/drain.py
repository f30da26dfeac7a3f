"""The routing drain: new orders routed in batches while they arrive, one drain at a time.

Intake enqueues the drain task (`routing.tasks.route_drain`, through `orders.services.routing_kick`) instead
of a task per order. A drain holds a PostgreSQL advisory lock (DRAIN_LOCK) while it runs: it routes every
waiting order (`orders_route_pending`, 500 per transaction), looks again every `pause_s`, and stops once
nothing has arrived for `linger_s` (or after `max_s`, under the task timeout). While the lock is held
(`routing.selectors.routing_drain_active`), kickers enqueue nothing: at peak one drain runs continuously
instead of a queue of tasks that each find little to do. After it lets the lock go it reads the waiting orders
once more, so an order whose kick was skipped because this drain was running is routed. A second drain that
finds the lock taken returns at once: the holder's next look covers what enqueued it. Elsewhere than on
PostgreSQL there is no lock and a drain is one `orders_route_pending`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.db import connection

from routing.selectors import DRAIN_LOCK
from routing.services.batch import orders_route_pending


@dataclass(slots=True)
class DrainResult:
    orders: int = 0
    passes: int = 0
    skipped: bool = False  # another drain held the lock


def _lock_try() -> bool:
    with connection.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_lock(%s)", [DRAIN_LOCK])
        return bool(cur.fetchone()[0])


def _unlock() -> None:
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_unlock(%s)", [DRAIN_LOCK])


def orders_route_draining(*, linger_s: float = 2.0, pause_s: float = 0.2, max_s: float = 120.0) -> DrainResult:
    """Route waiting orders until none has arrived for `linger_s` (see the module's docstring)."""
    out = DrainResult()
    if connection.vendor != "postgresql":
        out.orders, out.passes = orders_route_pending().orders, 1
        return out
    if not _lock_try():
        out.skipped = True
        return out
    started = idle_since = time.monotonic()
    try:
        while time.monotonic() - started < max_s:
            routed = orders_route_pending().orders
            out.orders, out.passes = out.orders + routed, out.passes + 1
            now = time.monotonic()
            if routed:
                idle_since = now
            elif now - idle_since >= linger_s:
                break
            time.sleep(pause_s)
    finally:
        _unlock()
    # Kicks skipped while the lock was held: their orders were committed before this read.
    out.orders += orders_route_pending().orders
    return out
