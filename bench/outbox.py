"""`bench outbox`: outbound events from the state change to the receiver, through a running django-q2 cluster.

A real `manage.py qcluster` (ORM broker) and a local HTTP receiver (a thread
on 127.0.0.1 that answers 204 and notes when each `webhook-id` arrived). The bench writes `--orders` events
(default 2,000) through the events function every state change calls (`webhooks.services.
webhook_events_emit`), 50 per transaction as fast as it can, ten per order over N/10 orders of a bench
channel (placed once through intake and reused): a burst. Each commit enqueues the delivery task, as in
production; the cluster's only work is the outbox. The bench then waits until the receiver has every event.

Two phases (`--only serial|concurrent` runs one): "serial", a cluster of one worker, and "concurrent", a
cluster of `--threads` workers (default 4); each gets its own subscription, receiver and burst.

Reports per phase: events produced per second; events delivered per second (from the first event's `created_at` to
the last arrival); the delay from each event's `created_at` (the state change) to its arrival, p50 / p95 /
p99 / max; duplicates, missing events and per-order ordering violations (all must be 0). Only the
receiver's loopback address is opened in the outbound guard, for the cluster of this run.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.conf import settings
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.test.utils import override_settings

from bench.tools import BASE_DIR, database_url, ms, percentile

BATCH = 50


class _Receiver:
    """Notes the arrival time of every webhook-id (and how often each came)."""

    def __init__(self) -> None:
        self.arrivals: dict[str, list[float]] = {}
        self.sequence: dict[str, int] = {}  # webhook-id → rank of its first arrival
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real receivers answer

            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                now = time.time()
                uid = self.headers.get("webhook-id", "")
                with receiver._lock:
                    receiver.arrivals.setdefault(uid, []).append(now)
                    receiver.sequence.setdefault(uid, len(receiver.sequence))
                self.send_response(204)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/events"

    def count(self) -> int:
        with self._lock:
            return len(self.arrivals)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _cluster_start(*, workers: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "dom_project.settings",
        "DEBUG": "0",
        "SECRET_KEY": settings.SECRET_KEY,  # tasks are signed: this process and the cluster share the key
        "DATABASE_URL": database_url(),
        "Q_WORKERS": str(workers),
        "Q_SYNC": "0",
        "LOG_LEVEL": "WARNING",
        "Q_LOG_LEVEL": "WARNING",
        # The receiver is on loopback over http: opened for this cluster only.
        "DOM_OUTBOUND_ALLOW_HTTP": "1",
        "DOM_OUTBOUND_ALLOW_PRIVATE": "1",
    }
    env.pop("REDIS_URL", None)
    return subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _cluster_stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _cluster_ready(*, timeout: float) -> None:
    """Wait until the cluster has run one task (it takes a few seconds to start its workers)."""
    from django_q.tasks import async_task, result

    task_id = async_task("webhooks.tasks.deliver_due")
    if result(task_id, wait=int(timeout * 1000)) is None:
        raise CommandError(f"The django-q2 cluster did not run a task within {timeout:.0f} s.")


EVENTS_PER_ORDER = 10


def _orders_ensure(*, channel, count: int) -> list[int]:
    """`count` orders of the bench channel (placed once through order_ingest, reused by later runs)."""
    from orders.inputs import CustomerIn, LineIn, OrderIn
    from orders.models import Order
    from orders.services import order_ingest

    have = list(Order.objects.filter(channel=channel).order_by("pk").values_list("pk", flat=True)[:count])
    address = {"name": "Bench Customer", "line1": "1 Main St", "city": "New York", "region": "NY"}
    address |= {"postal_code": "10001", "country": "US"}
    with override_settings(DOM={**settings.DOM, "ROUTE_ORDER_TASK": ""}):
        for n in range(len(have), count):
            order_in = OrderIn(
                external_id=f"OB-{n:06d}",
                placed_at=datetime.now(UTC),
                lines=[LineIn(sku="BENCH-OUTBOX-1", quantity=1, unit_price=Decimal("10.00"))],
                customer=CustomerIn(email=f"c{n}@outbox.test", name="Bench Customer"),
                shipping_address=address,
                payment_status="authorized",
            )
            have.append(order_ingest(channel=channel, order_in=order_in).order.pk)
    return have


def _produce(*, order_ids: list[int], events: int) -> float:
    """Write `events` events for the orders through the events function (webhooks.services.
    webhook_events_emit, what every timeline entry calls), BATCH per transaction, the orders taken in
    turn; each commit enqueues the delivery task. Returns the seconds it took."""
    from webhooks.services import TimelineRow, webhook_events_emit

    started = time.perf_counter()
    for first in range(0, events, BATCH):
        rows = [
            TimelineRow(order_id=order_ids[n % len(order_ids)], type="status_changed", data={"to": "on_hold"})
            for n in range(first, min(first + BATCH, events))
        ]
        with transaction.atomic():
            webhook_events_emit(rows=rows)
    return time.perf_counter() - started


def _order_violations(*, events: list[tuple[str, int | None]], sequence: dict[str, int]) -> int:
    """Events of an order that arrived before an earlier event of the same order (per-order ordering)."""
    last: dict[int, int] = {}
    bad = 0
    for uid, order_id in events:  # in event order
        if uid not in sequence or order_id is None:
            continue
        if sequence[uid] < last.get(order_id, -1):
            bad += 1
        last[order_id] = max(last.get(order_id, -1), sequence[uid])
    return bad


def _phase(*, log, name: str, channel, order_ids: list[int], events_n: int, workers: int, seconds: float) -> dict:
    """One run: a fresh subscription and receiver, a cluster of `workers`, `events_n` events as a burst."""
    from webhooks.models import Event
    from webhooks.services import subscription_create

    receiver = _Receiver()
    with override_settings(DOM_OUTBOUND_ALLOW_HTTP=True, DOM_OUTBOUND_ALLOW_PRIVATE=True):
        sub, _ = subscription_create(
            name=f"bench outbox {name} {time.time_ns()}",
            url=receiver.url,
            event_types=["order.on_hold"],
            channel=channel,
        )
    proc = _cluster_start(workers=workers)
    try:
        _cluster_ready(timeout=120)
        log(f"{name}: cluster up ({workers} workers); writing {events_n} events over {len(order_ids)} orders")
        produce_s = _produce(order_ids=order_ids, events=events_n)
        deadline = time.monotonic() + seconds
        while receiver.count() < events_n and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        time.sleep(0.5)  # anything sent twice arrives now
    finally:
        _cluster_stop(proc)
        receiver.stop()
    rows = list(
        Event.objects.filter(deliveries__subscription=sub).order_by("id").values_list("uid", "created_at", "order_id")
    )
    sub.delete()
    arrivals = receiver.arrivals
    delays = [arrivals[uid][0] - created.timestamp() for uid, created, _ in rows if uid in arrivals]
    first_created = min((c.timestamp() for _, c, _ in rows), default=0.0)
    span = max(max((a[0] for a in arrivals.values()), default=first_created) - first_created, 1e-9)
    return {
        "cluster_workers": workers,
        "events": len(rows),
        "delivered": len(delays),
        "missing": len(rows) - len(delays),
        "duplicates": sum(len(v) - 1 for v in arrivals.values()),
        "order_violations": _order_violations(events=[(u, o) for u, _, o in rows], sequence=receiver.sequence),
        "produced_per_s": round(len(rows) / produce_s, 1) if produce_s else None,
        "delivered_per_s": round(len(delays) / span, 1),
        "delay_ms": {
            "p50": ms(percentile(delays, 0.50)),
            "p95": ms(percentile(delays, 0.95)),
            "p99": ms(percentile(delays, 0.99)),
            "max": ms(max(delays, default=0.0)),
        },
    }


def bench_outbox(
    *, log, orders: int = 2000, threads: int = 4, seconds: float = 600.0, only: str | None = None, **_
) -> dict:
    """`orders` events per phase: "serial" (a cluster of one worker) and "concurrent" (`threads` workers);
    `--only serial|concurrent` runs one. `seconds` bounds each phase's wait for delivery."""
    from django_q.conf import Conf

    from inventory.models import Product
    from orders.models import Channel

    if connection.vendor != "postgresql":
        raise CommandError("bench outbox runs on PostgreSQL: set DATABASE_URL=postgres://… (and migrate it).")
    if only not in (None, "serial", "concurrent"):
        raise CommandError("bench outbox --only takes serial or concurrent.")
    channel, _ = Channel.objects.get_or_create(code="bench-outbox", defaults={"name": "Outbox bench", "kind": "web"})
    Product.objects.get_or_create(sku="BENCH-OUTBOX-1", defaults={"name": "Outbox bench item"})
    order_ids = _orders_ensure(channel=channel, count=max(1, orders // EVENTS_PER_ORDER))
    sync, Conf.SYNC = Conf.SYNC, False  # tasks go to the cluster (test settings run them inline)
    q_logger = logging.getLogger("django-q")
    q_level = q_logger.level
    q_logger.setLevel(logging.WARNING)  # django-q2 logs every enqueue on stdout; the JSON must stay clean
    result = {"orders": len(order_ids)}
    try:
        for name, workers in (("serial", 1), ("concurrent", threads)):
            if only in (None, name):
                result[name] = _phase(
                    log=log,
                    name=name,
                    channel=channel,
                    order_ids=order_ids,
                    events_n=orders,
                    workers=workers,
                    seconds=seconds,
                )
    finally:
        Conf.SYNC = sync
        q_logger.setLevel(q_level)
    result["receiver"] = "127.0.0.1 thread HTTP/1.1 keep-alive server, 204 at once"
    result["setup"] = (
        f"webhook_events_emit, {BATCH} events per transaction, {EVENTS_PER_ORDER} per order (delivered in order per"
        " order); django-q2 ORM broker; order_violations: an order's event that arrived before an earlier one"
    )
    return result


BENCHMARKS = {"outbox": bench_outbox}
