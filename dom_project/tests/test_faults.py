"""Fault injection in the request path and at the edges: the database lost mid-request, a webhook
delivered 100 times at once to a real multi-process server, and a partner endpoint down for an hour.

(Workers killed in the middle of background jobs: test_faults_cluster.py.)
"""

from __future__ import annotations

import http.client
import json
import sqlite3
import threading
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg
import pytest
import time_machine
from django.db import connection

from bench.tools import gunicorn_server
from common import roles
from conftest import api_for, make_user
from fulfillment.models import Endpoint, OutboxMessage
from fulfillment.services import outbox_deliver_due, outbox_message_add
from inventory.models import Reservation, StockLevel
from inventory.selectors import stock_ledger_mismatches
from orders.models import Customer, Order, OrderEvent, OrderLine
from orders.shopify import shopify_signature
from orders.tests.conftest import ipods as ipods  # noqa: F401 — fixtures used below
from orders.tests.conftest import order_payload, shopify_order
from orders.tests.conftest import shopify_channel as shopify_channel  # noqa: F401


# --- The database goes away in the middle of a request ------------------------------------------------------
@contextmanager
def database_lost_at(sql_prefix: str):
    """Make the database go away when the request reaches a statement starting with `sql_prefix`:
    on PostgreSQL the request's backend is terminated from another connection (pg_terminate_backend),
    exactly what a failover or a restarted server does; on SQLite (a file, no server to lose) another
    connection takes the write lock just before the request's transaction begins, and the request's
    connection stops waiting for it after 0.3 s ("database is locked")."""
    fired = []

    if connection.vendor == "postgresql":
        s = connection.settings_dict
        dsn = f"host={s['HOST'] or '127.0.0.1'} port={s['PORT'] or 5432} user={s['USER']} dbname={s['NAME']}"

        def wrapper(execute, sql, params, many, context):
            if not fired and sql.lstrip().upper().startswith(sql_prefix.upper()):
                fired.append(sql)
                pid = context["connection"].connection.info.backend_pid
                with psycopg.connect(dsn, autocommit=True) as other:
                    other.execute("SELECT pg_terminate_backend(%s)", [pid])
            return execute(sql, params, many, context)

        with connection.execute_wrapper(wrapper):
            yield fired
        connection.close()  # the terminated connection; the next query reconnects
    else:
        locker = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)

        def wrapper(execute, sql, params, many, context):
            if not fired and sql.lstrip().upper().startswith("BEGIN"):
                fired.append(sql)
                locker.execute("BEGIN IMMEDIATE")  # the writer lock is now someone else's
            return execute(sql, params, many, context)

        with connection.cursor() as cur:
            cur.execute("PRAGMA busy_timeout = 300")
        try:
            with connection.execute_wrapper(wrapper):
                yield fired
        finally:
            if locker.in_transaction:
                locker.execute("ROLLBACK")
            locker.close()
            connection.close()


@pytest.mark.django_db(transaction=True)
def test_api_request_that_loses_the_database_answers_503_json_and_writes_nothing(api_user, web, product):
    api = api_for(api_user)
    # PostgreSQL: lost after the order, its lines and events are inserted (one statement), when its webhook
    # event is written (same transaction). SQLite: lost when the intake transaction begins.
    with database_lost_at('INSERT INTO "webhooks_event"') as fired:
        r = api.post("/api/v1/orders/", order_payload(lines=[{"sku": "SKU-A", "quantity": 1}]), format="json")
    assert fired, f"the fault was never injected: {r.status_code} {r.content[:300]!r}"
    assert r.status_code == 503, r.content
    assert r["Content-Type"] == "application/json" and r["Retry-After"] == "5"
    assert "nothing was saved" in r.json()["detail"]
    # Nothing half-written: no order, line, customer or event.
    assert not Order.objects.exists() and not OrderLine.objects.exists()
    assert not Customer.objects.exists() and not OrderEvent.objects.exists()
    # The next request, on a fresh connection, works and stores the order once.
    r = api.post("/api/v1/orders/", order_payload(lines=[{"sku": "SKU-A", "quantity": 1}]), format="json")
    assert r.status_code == 201 and Order.objects.count() == 1 and OrderLine.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_screen_request_that_loses_the_database_answers_a_503_page_and_changes_nothing(client, web, dc, product):
    from inventory.services import ReserveLine, stock_receive, stock_reserve
    from routing.tests.helpers import make_order

    stock_receive(product=product, location=dc, quantity=5, reference="t")
    order = make_order(channel=web, lines=[(product, 2)], status="routed")
    stock_reserve(
        lines=[ReserveLine(product.pk, 2, dc.pk)],
        channel=web,
        reference=f"order:{order.pk}",
        ref_type="order",
        ref_id=order.pk,
    )
    client.force_login(make_user("ops", roles.OPERATIONS))
    with database_lost_at("UPDATE") as fired:
        r = client.post(f"/orders/{order.pk}/cancel/", {"reason": "customer asked"})
    assert fired
    assert r.status_code == 503 and b"Service unavailable" in r.content
    order.refresh_from_db()
    assert order.status == "routed"
    assert Reservation.objects.get().status == "active"
    assert StockLevel.objects.get().reserved == 2 and not stock_ledger_mismatches()


# --- One webhook, 100 deliveries at once, against gunicorn with 4 worker processes ---------------------------
@pytest.mark.django_db(transaction=True)
@pytest.mark.concurrency
def test_a_webhook_delivered_100_times_concurrently_makes_one_order(shopify_channel, ipods, settings):
    body = json.dumps(shopify_order()).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Hmac-Sha256": shopify_signature(secret="hush-test-secret", body=body),
        "X-Shopify-Webhook-Id": "wh-storm",
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Shop-Domain": "brand.myshopify.com",
    }
    n = 100
    barrier = threading.Barrier(n)
    results: list = [None] * n
    # (Routing is enqueued on the ORM broker and never run here: no cluster. Another test's concern.)
    with gunicorn_server(workers=4, threads=8) as base:
        port = int(base.rsplit(":", 1)[1])

        def deliver(i: int) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            try:
                barrier.wait()
                conn.request("POST", "/api/v1/channels/shop/shopify/orders-create", body=body, headers=headers)
                resp = conn.getresponse()
                results[i] = (resp.status, json.loads(resp.read() or b"{}"))
            except Exception as exc:  # noqa: BLE001 — recorded and asserted below
                results[i] = exc
            finally:
                conn.close()

        threads = [threading.Thread(target=deliver, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
    errors = [r for r in results if not isinstance(r, tuple)]
    assert errors == []
    assert {status for status, _ in results} == {200}, {status for status, _ in results}
    assert len({body["id"] for _, body in results}) == 1
    assert sum(body["created"] for _, body in results) == 1
    assert Order.objects.count() == 1 and OrderLine.objects.count() == 3
    assert Customer.objects.count() == 1
    assert OrderEvent.objects.filter(type="received").count() == 1


# --- A partner endpoint down for an hour --------------------------------------------------------------------
@contextmanager
def partner_endpoint():
    """A real HTTP endpoint on 127.0.0.1 that answers 503 while `state["down"]`, else 200."""
    state = {"down": True, "requests": [], "accepted": []}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                state["requests"].append(self.headers.get("Idempotency-Key"))
                down = state["down"]
                if not down:
                    state["accepted"].append(json.loads(body))
            self.send_response(503 if down else 200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/inbound", state
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.django_db
def test_outbox_endpoint_down_for_an_hour_is_delivered_once_when_it_returns(dc):
    start = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
    with partner_endpoint() as (url, state), time_machine.travel(start, tick=False) as clock:
        Endpoint.objects.create(location=dc, url=url)
        msg = outbox_message_add(kind="release", location=dc, key="release:fo-1", payload={"order": "W1"})
        delivered_at = None
        # The outbox sweeper runs every minute (fulfillment.schedules); the partner is down for 60 minutes.
        for minute in range(0, 121):
            clock.move_to(start + timedelta(minutes=minute))
            state["down"] = minute < 60
            outbox_deliver_due()
            msg.refresh_from_db()
            if msg.status == OutboxMessage.Status.DELIVERED and delivered_at is None:
                delivered_at = minute
        assert msg.status == OutboxMessage.Status.DELIVERED
        assert len(state["accepted"]) == 1 and state["accepted"][0]["idempotency_key"] == "release:fo-1"
        assert all(key == "release:fo-1" for key in state["requests"])
        # Exponential backoff: tries at 0, 0.5, 1.5, 3.5, 7.5, 15.5 and 31.5 minutes fail, the one at 63.5
        # minutes (the eighth and last allowed) succeeds; the hour after it sends nothing more.
        assert msg.attempts == len(state["requests"]) == 8
        assert delivered_at == 64
        assert msg.last_error == ""
