"""Routing enqueue at peak: one broker round trip per interval for every order taken meanwhile, not one per
order.

A new order is stored `validated`, which is what "to be routed" means; after its transaction commits, intake
"kicks" this process's kicker thread instead of enqueueing a task of its own. While a drain runs (it holds
an advisory lock, `routing.services.drain`, and looks for waiting orders again before it stops) the kick
needs nothing more. Otherwise the thread claims the drain in the cache (key DRAIN_CLAIM, value the claim's
time, expiring after ROUTE_ENQUEUE_INTERVAL_MS) and, when it got the claim, enqueues one drain task (DOM
ROUTE_PENDING_TASK, `routing.tasks.route_drain`: every waiting order, most urgent first, 500 per transaction,
until none has arrived for two seconds). With Redis as the cache every process shares the claim, so the
whole site enqueues about one drain per interval; with the local-memory cache each process does.

No order is missed: a kicked order is covered by a drain enqueued after its commit, either the kicker's own
or one whose claim is younger than the kick (its enqueue follows its claim, and the drain reads the waiting
orders when it runs); otherwise the kicker waits for the claim to expire and claims again. Should the
process die between the commit and the enqueue, the every-5-minutes `route pending orders` schedule routes
the order (routing/schedules.py).
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time

from django.core.cache import cache
from django.db import close_old_connections

logger = logging.getLogger(__name__)

DRAIN_CLAIM = "dom:routing:drain-claimed-at"


def _drain_claim(*, window: float) -> tuple[bool, float | None]:
    """(True, now) when this process may enqueue the drain now; else (False, when the holder claimed it)."""
    now = time.time()
    if cache.add(DRAIN_CLAIM, now, timeout=max(1, math.ceil(window))):
        return True, now
    held = cache.get(DRAIN_CLAIM)
    if held is None or held + window <= now:  # expired meanwhile (or a stale claim): take it over
        cache.set(DRAIN_CLAIM, now, timeout=max(1, math.ceil(window)))
        return True, now
    return False, float(held)


class _Kicker:
    """One per process (a forked child starts its own thread on its first kick)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._event = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self.enqueued = 0  # drain tasks enqueued by this process (tests and logs read it)

    def kick(self, *, path: str, interval: float) -> None:
        with self._lock:
            if self._pid != os.getpid() or self._thread is None or not self._thread.is_alive():
                self._event = threading.Event()
                self._pid = os.getpid()
                self._thread = threading.Thread(
                    target=self._loop, kwargs={"path": path, "interval": interval}, name="routing-kick", daemon=True
                )
                self._thread.start()
        self._event.set()

    def _loop(self, *, path: str, interval: float) -> None:
        event = self._event
        while True:
            event.wait()
            event.clear()
            kicked_at = time.time()
            while not self._drain_running():
                try:
                    claimed, held_at = _drain_claim(window=interval)
                except Exception:  # the cache is down: enqueue (a drain too many is harmless)
                    logger.exception("routing drain claim failed; enqueueing the drain anyway")
                    claimed, held_at = True, None
                if claimed:
                    self._enqueue(path=path)
                    break
                if held_at >= kicked_at:  # a drain claimed (then enqueued) after this kick covers it
                    break
                time.sleep(max(0.01, held_at + interval - time.time()))
            # Kicks made meanwhile wait for the next round: at most a few checks a second, not one per order.
            time.sleep(min(0.2, interval))

    def _drain_running(self) -> bool:
        """A drain running now reads the waiting orders again before it stops (routing.services.drain)."""
        from routing.selectors import routing_drain_active

        try:
            return routing_drain_active()
        except Exception:  # the database is unreachable: try to enqueue (the broker may still take it)
            logger.exception("could not tell whether a routing drain runs")
            return False
        finally:
            close_old_connections()

    def _enqueue(self, *, path: str) -> None:
        from django_q import tasks

        try:
            tasks.async_task(path)
            self.enqueued += 1
        except Exception:  # the broker is down: the schedule's safety net routes the orders later
            logger.exception("routing drain task could not be enqueued")
        finally:
            close_old_connections()  # this thread's connection, like a request's, by CONN_MAX_AGE


KICKER = _Kicker()


def routing_kick(*, path: str, interval_ms: int) -> None:
    """Make this process enqueue `path` (no arguments) soon, at most once per `interval_ms`."""
    KICKER.kick(path=path, interval=interval_ms / 1000)
