"""Routing enqueue at peak: one broker round trip per interval and process, not one per order.

A new order is stored `validated`, which is what "to be routed" means; after its transaction commits, intake
"kicks" this process's kicker thread instead of enqueueing a task of its own. The thread enqueues one drain
task (DOM ROUTE_PENDING_TASK, `routing.tasks.route_pending`: every waiting order, most urgent first, 500 per
transaction) and then waits ROUTE_ENQUEUE_INTERVAL_MS before it looks at the kicks again, so a process
taking 300 orders/s enqueues ~5 tasks/s and the cluster routes in batches. No order is missed: a kick made
after the thread cleared its flag is answered by the next enqueue, which happens after that order's commit,
and the drain reads the waiting orders when it runs. Should the process die between the commit and the
enqueue, the every-5-minutes `route pending orders` schedule routes the order (routing/schedules.py).
"""

from __future__ import annotations

import logging
import os
import threading
import time

from django.db import close_old_connections

logger = logging.getLogger(__name__)


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
        from django_q.tasks import async_task

        event = self._event
        while True:
            event.wait()
            event.clear()
            try:
                async_task(path)
                self.enqueued += 1
            except Exception:  # the broker is down: the schedule's safety net routes the orders later
                logger.exception("routing drain task could not be enqueued")
            finally:
                close_old_connections()  # this thread's connection, like a request's, by CONN_MAX_AGE
            time.sleep(interval)


KICKER = _Kicker()


def routing_kick(*, path: str, interval_ms: int) -> None:
    """Make this process enqueue `path` (no arguments) soon, at most once per `interval_ms`."""
    KICKER.kick(path=path, interval=interval_ms / 1000)
