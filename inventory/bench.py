"""`bench availability`: ATS reads in-process and over HTTP, and concurrent reservations per second."""

from __future__ import annotations

import http.client
import random
import threading
import time
from urllib.parse import urlencode, urlparse

from django.db import connection

from dom_project.benchtools import ensure_world, gunicorn_server, ms, percentile


def bench_availability(*, log, iterations: int = 500, threads: int = 16, scale: str = "large", **_) -> dict:
    from django.contrib.auth.models import Group, User
    from rest_framework.authtoken.models import Token

    from inventory.models import Product, Reservation, StockLevel
    from inventory.selectors import ats_for_pairs, availability_by_sku
    from inventory.services import InsufficientStock, ReserveLine, reservation_release, stock_reserve
    from orders.models import Channel

    ensure_world(scale=scale, log=log)
    rng = random.Random(42)
    skus = list(Product.objects.filter(sku__startswith="SKU-").order_by("sku").values_list("sku", flat=True))
    # Carts lean to popular SKUs (the catalogue is ranked by popularity), as real carts do.
    weights = [1.0 / (i + 1) ** 1.1 for i in range(len(skus))]
    carts = [list(dict.fromkeys(rng.choices(skus, weights=weights, k=10))) for _ in range(iterations)]
    web = Channel.objects.get(code="web")

    for cart in carts[:20]:  # warm caches and connections
        availability_by_sku(skus=cart, channel=web)
    cart_times = []
    for cart in carts:
        t = time.perf_counter()
        availability_by_sku(skus=cart, channel=web)
        cart_times.append(time.perf_counter() - t)
    log(f"cart10 in-process p50 {ms(percentile(cart_times, 0.5))} ms")

    pair_rows = list(StockLevel.objects.order_by("?").values_list("product_id", "location_id")[:20000])
    pair_sets = [rng.sample(pair_rows, 1000) for _ in range(max(10, iterations // 10))]
    ats_for_pairs(pairs=pair_sets[0])
    pair_times = []
    for pairs in pair_sets:
        t = time.perf_counter()
        ats_for_pairs(pairs=pairs)
        pair_times.append(time.perf_counter() - t)
    log(f"pairs1000 p50 {ms(percentile(pair_times, 0.5))} ms")

    # Through the HTTP API: gunicorn on loopback, token auth, keep-alive connection.
    user, _ = User.objects.get_or_create(username="bench-api")
    user.groups.add(Group.objects.get(name="API client"))
    token, _ = Token.objects.get_or_create(user=user)
    api_times = []
    with gunicorn_server(workers=1) as base:
        host = urlparse(base)
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=30)
        headers = {"Authorization": f"Token {token.key}"}
        for i, cart in enumerate(carts):
            path = "/api/v1/availability/?" + urlencode([("sku", s) for s in cart] + [("channel", "web")])
            t = time.perf_counter()
            conn.request("GET", path, headers=headers)
            resp = conn.getresponse()
            body = resp.read()
            elapsed = time.perf_counter() - t
            if resp.status != 200:
                raise RuntimeError(f"availability API returned {resp.status}: {body[:300]!r}")
            if i >= 20:
                api_times.append(elapsed)
        conn.close()
    log(f"cart10 API p99 {ms(percentile(api_times, 0.99))} ms")

    # Reservations per second, `threads` concurrent writers, then everything released again.
    per_thread = max(1, iterations // threads * 2)
    made: list[int] = []
    short = [0]
    lock = threading.Lock()
    product_ids = dict(Product.objects.filter(sku__in=skus[:2000]).values_list("sku", "pk"))
    pool = list(product_ids.values())

    def worker(seed: int) -> None:
        r = random.Random(seed)
        mine = []
        try:
            for _ in range(per_thread):
                pid = pool[min(int(r.paretovariate(1.2)) - 1, len(pool) - 1)]
                try:
                    mine.append(stock_reserve(lines=[ReserveLine(pid, 1)], channel=web, reference="bench").pk)
                except InsufficientStock:
                    with lock:
                        short[0] += 1
        finally:
            with lock:
                made.extend(mine)
            connection.close()

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    t0 = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - t0
    for pk in made:
        reservation_release(reservation=Reservation(pk=pk), reference="bench cleanup")
    return {
        "database": connection.vendor,
        "scale": scale,
        "cart10_p50_ms": ms(percentile(cart_times, 0.5)),
        "cart10_p99_ms": ms(percentile(cart_times, 0.99)),
        "cart10_api_p50_ms": ms(percentile(api_times, 0.5)),
        "cart10_api_p99_ms": ms(percentile(api_times, 0.99)),
        "pairs1000_ms": ms(percentile(pair_times, 0.5)),
        "pairs1000_p99_ms": ms(percentile(pair_times, 0.99)),
        "reservations_per_s": round(len(made) / elapsed, 1),
        "reservation_threads": threads,
        "reservations_made": len(made),
        "reservations_short": short[0],
        "targets": {"cart10_p99_ms": 5, "cart10_api_p99_ms": 20, "pairs1000_ms": 50},
    }


BENCHMARKS = {"availability": bench_availability}
