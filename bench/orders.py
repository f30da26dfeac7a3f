"""`bench intake`: orders per second through the HTTP API (gunicorn, token auth, keep-alive), 16 clients."""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from urllib.parse import urlparse

from django.db import connection

from bench.tools import gunicorn_server, ms, percentile

# Real (ZIP, state, city) triples, so every bench order passes the address check.
DESTINATIONS = [
    ("10001", "NY", "New York"),
    ("60601", "IL", "Chicago"),
    ("94103", "CA", "San Francisco"),
    ("73301", "TX", "Austin"),
    ("98101", "WA", "Seattle"),
    ("33101", "FL", "Miami"),
    ("02108", "MA", "Boston"),
    ("80202", "CO", "Denver"),
    ("40202", "KY", "Louisville"),
    ("30303", "GA", "Atlanta"),
]
N_SKUS = 200


def _setup(*, log):
    from django.contrib.auth.models import Group, User
    from rest_framework.authtoken.models import Token

    from inventory.models import Product
    from orders.models import ApiClient, Channel

    existing = set(Product.objects.filter(sku__startswith="BENCH-IN-").values_list("sku", flat=True))
    Product.objects.bulk_create(
        [
            Product(sku=f"BENCH-IN-{i:04d}", name=f"Intake bench item {i}")
            for i in range(N_SKUS)
            if f"BENCH-IN-{i:04d}" not in existing
        ]
    )
    channel, _ = Channel.objects.get_or_create(code="bench-intake", defaults={"name": "Intake bench", "kind": "web"})
    user, _ = User.objects.get_or_create(username="bench-intake-api")
    user.groups.add(Group.objects.get(name="API client"))
    ApiClient.objects.get_or_create(user=user, defaults={"channel": channel})
    token, _ = Token.objects.get_or_create(user=user)
    return channel, token.key


def _payload(rng: random.Random, run: str, i: int) -> dict:
    zip_code, state, city = rng.choice(DESTINATIONS)
    n_lines = rng.choices([1, 2, 3, 4, 5], weights=[60, 25, 10, 3, 2])[0]
    skus = rng.sample(range(N_SKUS), n_lines)
    return {
        "external_id": f"BI-{run}-{i:06d}",
        "placed_at": "2026-03-02T14:00:00Z",
        "customer": {"email": f"c{i}.{run}@bench.test", "name": f"Customer {i}"},
        "shipping_address": {
            "name": f"Customer {i}",
            "line1": f"{i} Bench Street",
            "city": city,
            "region": state,
            "postal_code": zip_code,
            "country": "US",
        },
        "fulfillment_method": "ship",
        "service_level": rng.choices(["standard", "express", "overnight"], weights=[80, 15, 5])[0],
        "payment_status": "authorized",
        "currency": "USD",
        "lines": [
            {
                "sku": f"BENCH-IN-{k:04d}",
                "quantity": rng.choices([1, 2, 3], weights=[85, 12, 3])[0],
                "unit_price": "19.99",
            }
            for k in skus
        ],
    }


def bench_intake(*, log, orders: int = 2000, threads: int = 16, **_) -> dict:
    from orders.models import Order
    from orders.services import order_routing_task

    channel, token = _setup(log=log)
    run = f"{int(time.time())}"
    rng = random.Random(42)
    warm = [_payload(rng, run + "w", i) for i in range(50)]
    payloads = [_payload(rng, run, i) for i in range(orders)]
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}

    def client(base: str, mine: list[dict], out: dict) -> None:
        host = urlparse(base)
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=60)
        lat, codes = [], {}
        try:
            for body in mine:
                t = time.perf_counter()
                conn.request("POST", "/api/v1/orders/", body=json.dumps(body), headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                lat.append(time.perf_counter() - t)
                codes[resp.status] = codes.get(resp.status, 0) + 1
                if resp.status not in (200, 201):
                    raise RuntimeError(f"intake returned {resp.status}: {data[:300]!r}")
        finally:
            conn.close()
            with out["lock"]:
                out["latencies"].extend(lat)
                for k, v in codes.items():
                    out["statuses"][k] = out["statuses"].get(k, 0) + v

    def fan_out(base: str, items: list[dict]) -> dict:
        out = {"lock": threading.Lock(), "latencies": [], "statuses": {}}
        workers = [threading.Thread(target=client, args=(base, items[i::threads], out)) for i in range(threads)]
        t0 = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        out["elapsed"] = time.perf_counter() - t0
        return out

    # 4 workers x 4 threads: 16 requests in flight on the server, matching the 16 clients.
    with gunicorn_server(workers=4, threads=4) as base:
        fan_out(base, warm)
        log(f"posting {orders} orders with {threads} clients…")
        main = fan_out(base, payloads)
        # Redeliver a sample: each must come back 200 with the original order, nothing new stored.
        replay = fan_out(base, rng.sample(payloads, min(200, len(payloads))))
    elapsed, latencies = main["elapsed"], sorted(main["latencies"])
    stored = Order.objects.filter(channel=channel, external_id__startswith=f"BI-{run}-").count()
    held = Order.objects.filter(channel=channel, external_id__startswith=f"BI-{run}-", status="on_hold").count()
    return {
        "database": connection.vendor,
        "orders": orders,
        "clients": threads,
        "server": "gunicorn 4 workers x 4 threads",
        "seconds": round(elapsed, 2),
        "orders_per_s": round(orders / elapsed, 1),
        "latency_p50_ms": ms(percentile(latencies, 0.5)),
        "latency_p95_ms": ms(percentile(latencies, 0.95)),
        "latency_p99_ms": ms(percentile(latencies, 0.99)),
        "responses": {str(k): v for k, v in sorted(main["statuses"].items())},
        "stored": stored,
        "on_hold": held,
        "redelivered": sum(replay["statuses"].values()),
        "redelivered_responses": {str(k): v for k, v in sorted(replay["statuses"].items())},
        "duplicates_stored": stored - orders,
        "routing_enqueued": order_routing_task() is not None,
    }


BENCHMARKS = {"intake": bench_intake}
