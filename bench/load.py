"""`bench load`: the whole system under a peak — gunicorn (4 workers) and a real django-q2 cluster on
PostgreSQL, driven from 127.0.0.1 by 32 concurrent clients that post orders (some of them twice, some of those
at the same moment) and read availability for a fixed time with a request cap. Then it checks the invariants
a peak must not break: every accepted order stored exactly once, nothing oversold, ledger equal to levels.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from functools import cache
from urllib.parse import urlencode, urlparse

from django.core.management.base import CommandError
from django.db import connection
from django.db.models import F, Q

from bench.cpu import cpu_per_order, load_cpu_sampler
from bench.tools import BASE_DIR, database_url, gunicorn_server, ms, percentile

# Real (ZIP, state, city) triples so every order passes the address check.
DESTINATIONS = [
    ("10001", "NY", "New York"),
    ("60601", "IL", "Chicago"),
    ("94103", "CA", "San Francisco"),
    ("98101", "WA", "Seattle"),
    ("33101", "FL", "Miami"),
    ("02108", "MA", "Boston"),
    ("80202", "CO", "Denver"),
    ("30303", "GA", "Atlanta"),
]
DCS = [("LOAD-DC-NJ", "08817"), ("LOAD-DC-GA", "30336"), ("LOAD-DC-TX", "75261")]
N_SKUS = 200
UNITS_PER_SKU_PER_DC = 40  # popular SKUs sell out during the run: the oversell check has teeth
DUPLICATE_SHARE = 0.10
READ_SHARE = 0.30


SHOP_SECRET = "bench-load-shopify-secret"
SHOP_DOMAIN = "bench-load.myshopify.com"
# A real Shopify orders/create body (Shopify's own API client's fixture); the bench changes ids, SKUs, address.
SHOPIFY_FIXTURE = BASE_DIR / "orders" / "tests" / "fixtures" / "shopify_order.json"


@dataclass(frozen=True, slots=True)
class LoadSetup:
    api: object  # the API door's channel
    shop: object  # the Shopify door's channel
    token: str
    skus: list[str]


def _setup(*, run: str, log) -> LoadSetup:
    """A channel with an API client, three DCs and this run's SKUs with stock (through inventory.services)."""
    from django.contrib.auth.models import Group, User
    from rest_framework.authtoken.models import Token

    from inventory.models import Location, Product
    from inventory.services import StockChange, stock_apply_changes
    from orders.models import ApiClient, Channel

    channel, _ = Channel.objects.get_or_create(code="bench-load", defaults={"name": "Load bench", "kind": "web"})
    shop, _ = Channel.objects.get_or_create(code="bench-shop", defaults={"name": "Load bench Shopify", "kind": "web"})
    if shop.webhook_secret != SHOP_SECRET or shop.shop_domain != SHOP_DOMAIN:
        shop.webhook_secret, shop.shop_domain = SHOP_SECRET, SHOP_DOMAIN
        shop.save(update_fields=["webhook_secret", "shop_domain"])
    user, _ = User.objects.get_or_create(username="bench-load-api")
    user.groups.add(Group.objects.get(name="API client"))
    ApiClient.objects.get_or_create(user=user, defaults={"channel": channel})
    token, _ = Token.objects.get_or_create(user=user)
    dcs = []
    for code, zip_code in DCS:
        loc, _ = Location.objects.get_or_create(
            code=code,
            defaults={
                "name": f"Load bench {code[-2:]}",
                "kind": "warehouse",
                "postal_code": zip_code,
                "can_ship": True,
                "handling_classes": ["ambient"],
                "daily_capacity": 1_000_000,
            },
        )
        dcs.append(loc)
    products = Product.objects.bulk_create(
        [Product(sku=f"LOAD-{run}-{i:03d}", name=f"Load item {i}", weight_grams=500) for i in range(N_SKUS)]
    )
    stock_apply_changes(
        changes=[
            StockChange(product_id=p.pk, location_id=loc.pk, delta_on_hand=UNITS_PER_SKU_PER_DC)
            for p in products
            for loc in dcs
        ],
        reason="receive",
        reference=f"bench-load:{run}",
    )
    log(f"set up {N_SKUS} SKUs x {len(dcs)} DCs")
    return LoadSetup(api=channel, shop=shop, token=token.key, skus=[p.sku for p in products])


def _payload(rng: random.Random, *, run: str, n: int, skus: list[str], weights: list[float]) -> dict:
    zip_code, state, city = rng.choice(DESTINATIONS)
    n_lines = rng.choices([1, 2, 3], weights=[65, 25, 10])[0]
    chosen = list(dict.fromkeys(rng.choices(skus, weights=weights, k=n_lines)))
    return {
        "external_id": f"LD-{run}-{n:06d}",
        "placed_at": "2026-03-02T14:00:00Z",
        "customer": {"email": f"c{n}.{run}@load.test", "name": f"Customer {n}"},
        "shipping_address": {
            "name": f"Customer {n}",
            "line1": f"{n} Load Street",
            "city": city,
            "region": state,
            "postal_code": zip_code,
            "country": "US",
        },
        "fulfillment_method": "ship",
        "service_level": "standard",
        "payment_status": "authorized",
        "currency": "USD",
        "lines": [
            {"sku": s, "quantity": rng.choices([1, 2], weights=[85, 15])[0], "unit_price": "19.99"} for s in chosen
        ],
    }


@cache
def _shopify_template() -> dict:
    data = json.loads(SHOPIFY_FIXTURE.read_text())
    return data.get("order", data)


def shopify_payload(rng: random.Random, *, run: str, n: int, skus: list[str], weights: list[float]) -> dict:
    """The same order as `_payload`, as Shopify's orders/create webhook body (the real fixture, re-keyed)."""
    api = _payload(rng, run=run, n=n, skus=skus, weights=weights)
    addr = api["shipping_address"]
    address = {
        **_shopify_template()["shipping_address"],
        "address1": addr["line1"],
        "city": addr["city"],
        "zip": addr["postal_code"],
        "province_code": addr["region"],
        "latitude": None,
        "longitude": None,
    }
    body = dict(_shopify_template())
    body.update(
        id=int(run) * 1_000_000 + n,
        created_at=api["placed_at"],
        email=api["customer"]["email"],
        financial_status="authorized",
        customer={**body["customer"], "id": int(run) * 1_000_000 + n, "email": api["customer"]["email"]},
        shipping_address=address,
        billing_address=address,
        line_items=[
            {
                **body["line_items"][0],
                "id": int(run) * 10_000_000 + n * 10 + i,
                "sku": ln["sku"],
                "quantity": ln["quantity"],
                "price": ln["unit_price"],
            }
            for i, ln in enumerate(api["lines"])
        ],
    )
    return body


class _Cluster:
    """A real `manage.py qcluster` on the bench database (production settings, ORM broker)."""

    def __init__(self, *, workers: int, secret_key: str):
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "dom_project.settings",
            "DEBUG": "0",
            "SECRET_KEY": secret_key,  # tasks are signed: web and cluster must share the key
            "DATABASE_URL": database_url(),
            "Q_WORKERS": str(workers),
            "Q_SYNC": "0",
            "DB_POOL": "0",  # the cluster forks its workers: persistent connections, not a pool
            "LOG_LEVEL": "WARNING",
            "Q_LOG_LEVEL": "WARNING",
        }
        env.pop("REDIS_URL", None)
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=BASE_DIR,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def order_invariants(*, accepted: dict[str, set[int]], stored: dict[str, list[int]]) -> dict:
    """The "every accepted order stored exactly once" figures: `accepted` is what the door answered
    ({external id: order ids}), `stored` what the database holds ({external id: order ids})."""
    twice = [ext for ext, pks in stored.items() if len(pks) > 1]
    missing = [ext for ext in accepted if ext not in stored]
    answered_other = [ext for ext, ids in accepted.items() if ext in stored and ids != set(stored[ext])]
    return {
        "check_every_accepted_order_once": not twice and not missing and not answered_other,
        "stored_twice": len(twice),
        "accepted_but_missing": len(missing),
        "duplicate_answered_other_order": len(answered_other),
        "stored_not_acknowledged": len([e for e in stored if e not in accepted]),
    }


def stock_invariants() -> dict:
    """Nothing oversold, nothing negative, the ledger equal to the levels (whole database)."""
    from inventory.models import StockLevel
    from inventory.selectors import stock_ledger_mismatches

    oversold = StockLevel.objects.filter(reserved__gt=F("on_hand")).count()
    negative = StockLevel.objects.filter(Q(on_hand__lt=0) | Q(reserved__lt=0)).count()
    mismatches = stock_ledger_mismatches(limit=1000)
    return {
        "check_nothing_oversold": oversold == 0 and negative == 0,
        "levels_reserved_above_on_hand": oversold,
        "levels_negative": negative,
        "check_ledger_equals_levels": not mismatches,
        "ledger_mismatches": len(mismatches),
    }


def order_to_routed_ms(*, order_ids: list[int]) -> list[float]:
    """Per routed order: from its creation (intake's commit) to its first routing decision, in ms."""
    from django.db.models import Min

    from orders.models import Order
    from routing.models import RoutingDecision

    first = dict(
        RoutingDecision.objects.filter(order_id__in=order_ids)
        .values("order_id")
        .annotate(at=Min("created_at"))
        .values_list("order_id", "at")
    )
    created = dict(Order.objects.filter(pk__in=first).values_list("pk", "created_at"))
    return sorted((first[pk] - created[pk]).total_seconds() * 1000 for pk in first)


class _Door:
    """How a client posts an order at the chosen door and reads the answer."""

    def __init__(self, *, door: str, setup: LoadSetup, run: str):
        self.door, self.setup, self.run = door, setup, run
        if door == "api":
            self.path = "/api/v1/orders/"
            self.make = _payload
        else:
            self.path = f"/api/v1/channels/{setup.shop.code}/shopify/orders-create"
            self.make = shopify_payload

    def external_id(self, payload: dict) -> str:
        return payload["external_id"] if self.door == "api" else str(payload["id"])

    def headers(self, payload: dict, body: bytes) -> dict:
        if self.door == "api":
            return {"Authorization": f"Token {self.setup.token}", "Content-Type": "application/json"}
        from orders.shopify import shopify_signature

        return {
            "Content-Type": "application/json",
            "X-Shopify-Hmac-Sha256": shopify_signature(secret=SHOP_SECRET, body=body),
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Shop-Domain": SHOP_DOMAIN,
            # A retried delivery keeps its webhook id, as Shopify's do.
            "X-Shopify-Webhook-Id": f"load-{self.external_id(payload)}",
        }

    def channel(self):
        return self.setup.api if self.door == "api" else self.setup.shop

    def created_status(self) -> int:
        return 201 if self.door == "api" else 200


def _orders_of_run(*, door: _Door):
    from orders.models import Order

    prefix = f"LD-{door.run}-" if door.door == "api" else door.run
    return Order.objects.filter(channel=door.channel(), external_id__startswith=prefix)


def _wait_routed(*, mine, log) -> float:
    log("waiting for the cluster to route every accepted order…")
    t1 = time.perf_counter()
    deadline = time.monotonic() + 300
    while mine.filter(status__in=["created", "validated"]).exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    return time.perf_counter() - t1


def bench_load(  # noqa: C901
    *, log, seconds: float = 30.0, threads: int = 32, orders: int = 50_000, door: str = "api", **_
) -> dict:
    """`orders` caps the total number of requests; `seconds` bounds the run; `threads` clients; `door` the
    order door (api: POST /api/v1/orders/ with a token; shopify: the signed orders/create webhook)."""
    if connection.vendor != "postgresql":
        raise CommandError("bench load runs on PostgreSQL: set DATABASE_URL=postgres://… (and migrate it).")
    from orders.models import Order

    run = f"{int(time.time())}"
    setup = _setup(run=run, log=log)
    skus = setup.skus
    # The cluster's routing drains every waiting order: orders left waiting by earlier runs would be counted
    # in this run's routing time.
    waiting_before = Order.objects.filter(status__in=["created", "validated"]).count()
    entry = _Door(door=door, setup=setup, run=run)
    weights = [1.0 / (i + 1) ** 1.1 for i in range(len(skus))]  # Zipf: a few SKUs are hot
    read_headers = {"Authorization": f"Token {setup.token}"}

    lock = threading.Lock()
    counter = iter(range(10**9))
    posted: list[dict] = []  # payloads sent at least once, for duplicates
    accepted: dict[str, set[int]] = {}  # external_id -> order ids the door answered with
    stats = {"post": [], "read": [], "status": {}, "errors": [], "duplicates_sent": 0, "requests": 0}
    stop_at = [0.0]

    def take_slot() -> bool:
        with lock:
            if stats["requests"] >= orders or time.perf_counter() >= stop_at[0]:
                return False
            stats["requests"] += 1
            return True

    def client(base: str, seed: int) -> None:
        rng = random.Random(seed)
        host = urlparse(base)
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=60)
        try:
            while take_slot():
                payload = None
                if rng.random() < READ_SHARE:
                    kind, method = "read", "GET"
                    sample = list(dict.fromkeys(rng.choices(skus, weights=weights, k=5)))
                    path = "/api/v1/availability/?" + urlencode([("sku", s) for s in sample])
                    body, headers = None, read_headers
                else:
                    kind, method, path = "post", "POST", entry.path
                    with lock:
                        dup = posted and rng.random() < DUPLICATE_SHARE
                        if dup:
                            # Often the most recent ones: the original may still be in flight.
                            payload = posted[-rng.randint(1, min(len(posted), 20))]
                            stats["duplicates_sent"] += 1
                        else:
                            payload = entry.make(rng, run=run, n=next(counter), skus=skus, weights=weights)
                            posted.append(payload)
                    body = json.dumps(payload).encode()
                    headers = entry.headers(payload, body)
                t = time.perf_counter()
                try:
                    conn.request(method, path, body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                except (OSError, http.client.HTTPException) as exc:
                    with lock:
                        stats["errors"].append(f"{method} {path}: {exc!r}")
                    conn.close()
                    conn = http.client.HTTPConnection(host.hostname, host.port, timeout=60)
                    continue
                elapsed = time.perf_counter() - t
                ok = resp.status == 200 if kind == "read" else resp.status in (200, 201)
                with lock:
                    stats[kind].append(elapsed)
                    key = f"{method} {resp.status}"
                    stats["status"][key] = stats["status"].get(key, 0) + 1
                    if not ok:
                        stats["errors"].append(f"{method} {path} -> {resp.status}: {data[:200]!r}")
                    elif kind == "post":
                        answer = json.loads(data)
                        accepted.setdefault(entry.external_id(payload), set()).add(answer["id"])
                        if answer.get("created"):
                            stats["created"] = stats.get("created", 0) + 1
        finally:
            conn.close()

    secret_key = secrets.token_urlsafe(50)
    cluster = _Cluster(workers=2, secret_key=secret_key)
    env = {"SECRET_KEY": secret_key, "LOG_LEVEL": "WARNING", "Q_LOG_LEVEL": "WARNING"}
    if door == "shopify":
        env["THROTTLE_WEBHOOK"] = "10000000/min"  # one shop at peak; the per-client limit is not measured here
    try:
        # gunicorn.conf.py's workers and threads (the production configuration).
        with gunicorn_server(workers=None, threads=None, extra_env=env) as base:

            def drive(duration: float, seed: int) -> float:
                stop_at[0] = time.perf_counter() + duration
                t0 = time.perf_counter()
                pool = [threading.Thread(target=client, args=(base, seed + i)) for i in range(threads)]
                for w in pool:
                    w.start()
                for w in pool:
                    w.join()
                return time.perf_counter() - t0

            # Warm every gunicorn worker (imports, connections) with the full client pool first.
            drive(4.0, 0)
            warm_requests = stats["requests"]
            for k in ("post", "read"):
                stats[k].clear()
            stats["status"].clear()
            stats["created"] = 0
            log(f"driving {threads} clients for {seconds:.0f} s at the {door} door (cap {orders} requests)…")
            sampler = load_cpu_sampler(cluster_pid=cluster.proc.pid, database=connection.settings_dict["NAME"])
            sampler.start()
            client_cpu = time.process_time()
            elapsed = drive(seconds, 1000)
            client_cpu = time.process_time() - client_cpu
        mine = _orders_of_run(door=entry)
        drain = _wait_routed(mine=mine, log=log)
        cpu_s = sampler.stop()  # the routing of the run's orders (the drain) included
    finally:
        cluster.stop()
    return _load_result(
        entry=entry,
        mine=mine,
        stats=stats,
        accepted=accepted,
        elapsed=elapsed,
        drain=drain,
        threads=threads,
        cap=orders,
        warm_requests=warm_requests,
    ) | {
        "orders_waiting_before_run": waiting_before,
        **cpu_per_order(seconds=cpu_s, orders=stats.get("created", 0), client_s=client_cpu),
    }


def _load_result(
    *,
    entry: _Door,
    mine,
    stats: dict,
    accepted: dict,
    elapsed: float,
    drain: float,
    threads: int,
    cap: int,
    warm_requests: int,
) -> dict:
    stored: dict[str, list[int]] = {}
    for ext, pk in mine.values_list("external_id", "pk"):
        stored.setdefault(ext, []).append(pk)
    by_status: dict[str, int] = {}
    for s in mine.values_list("status", flat=True):
        by_status[s] = by_status.get(s, 0) + 1
    routed = order_to_routed_ms(order_ids=[pk for pks in stored.values() for pk in pks])
    post_lat, read_lat = sorted(stats["post"]), sorted(stats["read"])
    all_lat = sorted(post_lat + read_lat)
    created = stats.get("created", 0)
    conf = _gunicorn_conf()
    return {
        "database": connection.vendor,
        "door": entry.door,
        "server": f"gunicorn {conf['workers']} workers x {conf['threads']} threads + qcluster (2 workers, ORM broker)",
        "clients": threads,
        "seconds": round(elapsed, 2),
        "request_cap": cap,
        "requests": stats["requests"] - warm_requests,
        "requests_per_s": round((stats["requests"] - warm_requests) / elapsed, 1),
        "orders_created": created,
        "orders_per_s": round(created / elapsed, 1),
        "orders_accepted_incl_warmup": len(accepted),
        "duplicate_posts": stats["duplicates_sent"],
        "availability_reads": len(read_lat),
        "latency_p50_ms": ms(percentile(all_lat, 0.5)),
        "latency_p99_ms": ms(percentile(all_lat, 0.99)),
        "order_post_p50_ms": ms(percentile(post_lat, 0.5)),
        "order_post_p99_ms": ms(percentile(post_lat, 0.99)),
        "availability_p50_ms": ms(percentile(read_lat, 0.5)),
        "availability_p99_ms": ms(percentile(read_lat, 0.99)),
        "responses": dict(sorted(stats["status"].items())),
        "errors": len(stats["errors"]),
        "error_samples": stats["errors"][:5],
        "routing_drain_s": round(drain, 2),
        "order_to_routed_p50_ms": round(percentile(routed, 0.5), 1),
        "order_to_routed_p99_ms": round(percentile(routed, 0.99), 1),
        "order_to_routed_max_ms": round(routed[-1], 1) if routed else 0.0,
        "order_status": dict(sorted(by_status.items())),
        **order_invariants(accepted=accepted, stored=stored),
        **stock_invariants(),
        "check_all_routed": not by_status.get("created") and not by_status.get("validated"),
    }


def _gunicorn_conf() -> dict:
    """The workers and threads gunicorn.conf.py gives the server (its environment variables included)."""
    import runpy

    conf = runpy.run_path(str(BASE_DIR / "gunicorn.conf.py"))
    return {"workers": conf.get("workers", 1), "threads": conf.get("threads", 1)}


BENCHMARKS = {"load": bench_load}
