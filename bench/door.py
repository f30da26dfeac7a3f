"""`bench door_cost`: what one order costs at each door, in-process (Django's test client, no HTTP server, no
other load): queries per order (by number of lines) and CPU milliseconds per order, for `POST /api/v1/orders/`
and the Shopify orders/create webhook. The figures `bench load` cannot give on a shared machine: they do not
depend on what else runs. `--only api|shopify` runs one door; BENCH_PROFILE=DIR writes a pyinstrument
profile of each door there (text and HTML).
"""

from __future__ import annotations

import json
import os
import random
import statistics
import time
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from bench.load import SHOP_DOMAIN, SHOP_SECRET, _payload, _setup, shopify_payload
from bench.tools import ms

WARM = 30


def _post(client: Client, *, door: str, body: bytes, token: str, shop_code: str, run: str, n: int):
    if door == "api":
        return client.post(
            "/api/v1/orders/", data=body, content_type="application/json", HTTP_AUTHORIZATION=f"Token {token}"
        )
    from orders.shopify import shopify_signature

    return client.post(
        f"/api/v1/channels/{shop_code}/shopify/orders-create",
        data=body,
        content_type="application/json",
        HTTP_X_SHOPIFY_HMAC_SHA256=shopify_signature(secret=SHOP_SECRET, body=body),
        HTTP_X_SHOPIFY_WEBHOOK_ID=f"bench-{run}-{n}",
        HTTP_X_SHOPIFY_TOPIC="orders/create",
        HTTP_X_SHOPIFY_SHOP_DOMAIN=SHOP_DOMAIN,
    )


def _door(*, door: str, orders: int, setup, run: str, log) -> dict:
    rng = random.Random(7)
    weights = [1.0 / (i + 1) ** 1.1 for i in range(len(setup.skus))]
    make = _payload if door == "api" else shopify_payload
    bodies = [
        json.dumps(make(rng, run=run, n=n, skus=setup.skus, weights=weights)).encode() for n in range(orders + WARM)
    ]
    client = Client(SERVER_NAME=(settings.ALLOWED_HOSTS or ["localhost"])[0].lstrip(".") or "localhost")
    post = {"door": door, "token": setup.token, "shop_code": setup.shop.code, "run": run}
    for n in range(WARM):
        resp = _post(client, body=bodies[n], n=n, **post)
        assert resp.status_code in (200, 201), resp.content[:300]
    queries_by_lines: dict[int, list[int]] = {}
    cpu, wall = [], []
    profiler = None
    if os.environ.get("BENCH_PROFILE"):
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005)
        profiler.start()
    for n in range(WARM, WARM + orders):
        n_lines = len(json.loads(bodies[n])["lines" if door == "api" else "line_items"])
        with CaptureQueriesContext(connection) as q:
            c0, w0 = time.process_time(), time.perf_counter()
            resp = _post(client, body=bodies[n], n=n, **post)
            cpu.append(time.process_time() - c0)
            wall.append(time.perf_counter() - w0)
        answer = json.loads(resp.content) if resp.status_code in (200, 201) else {}
        if not answer.get("created") or answer.get("status") != "validated":
            raise AssertionError(f"{door} order {n}: {resp.status_code} {resp.content[:300]!r}")
        queries_by_lines.setdefault(n_lines, []).append(len(q.captured_queries))
    if profiler is not None:
        profiler.stop()
        out = Path(os.environ["BENCH_PROFILE"])
        out.mkdir(parents=True, exist_ok=True)
        (out / f"{door}.txt").write_text(profiler.output_text(unicode=False, color=False, show_all=False))
        (out / f"{door}.html").write_text(profiler.output_html())
    log(f"{door}: {orders} orders")
    every = [x for v in queries_by_lines.values() for x in v]
    return {
        "orders": orders,
        "queries_per_order": round(statistics.mean(every), 2),
        "queries_per_order_max": max(every),
        "queries_by_lines": {k: round(statistics.mean(v), 2) for k, v in sorted(queries_by_lines.items())},
        "cpu_ms_per_order": ms(statistics.mean(cpu)),
        "wall_ms_per_order_p50": ms(statistics.median(wall)),
        "orders_per_cpu_second": round(len(cpu) / sum(cpu), 1),
    }


def bench_door_cost(*, log, orders: int = 300, only: str | None = None, **_) -> dict:
    """`orders` orders per door (after a warm-up of WARM), one at a time."""
    run = f"{int(time.time())}"
    setup = _setup(run=run, log=log)
    doors = [only] if only else ["api", "shopify"]
    result = {
        "database": connection.vendor,
        "method": "in-process Django test client, one order at a time; CPU = this process (web side only)",
        **{door: _door(door=door, orders=orders, setup=setup, run=run, log=log) for door in doors},
    }
    _orders_cancel(setup=setup)
    return result


def _orders_cancel(*, setup) -> None:
    """This bench's orders wait as validated (no cluster runs here): cancel them, so that a later run with a
    cluster (`bench load`, whose routing drains every waiting order) does not route them as its own."""
    from orders.models import Order
    from orders.services import orders_status_set_bulk

    waiting = Order.objects.filter(channel__in=[setup.api, setup.shop], status="validated")
    orders_status_set_bulk(paths={pk: ("cancelled",) for pk in waiting.values_list("pk", flat=True)})


BENCHMARKS = {"door_cost": bench_door_cost}
