"""`bench fulfillment`: store work per second (pick → ready → handover; pick → pack → ship) and the store
queue's response time with a busy store, on its own small network (codes BENCH-F-*)."""

from __future__ import annotations

import time
import uuid

from bench.tools import ms, percentile


def bench_fulfillment(*, log, orders: int = 300, iterations: int = 50, **_) -> dict:
    from django.contrib.auth.models import Group, User
    from django.core import mail
    from django.test import Client
    from django.test.utils import override_settings

    from bench.factories import make_fo, make_order, put_stock
    from fulfillment import services
    from inventory.models import Location, Product
    from orders.models import Channel

    run = uuid.uuid4().hex[:6]
    channel, _ = Channel.objects.get_or_create(code="bench-f", defaults={"name": "Bench fulfilment", "kind": "web"})
    store = Location.objects.create(
        code=f"BENCH-F-{run}", name="Bench store", kind="store", postal_code="10001", can_pickup=True, daily_capacity=0
    )
    products = [Product.objects.create(sku=f"BF-{run}-{i}", name=f"Bench item {i}") for i in range(20)]
    for p in products:
        put_stock(p, store, orders * 3)
    user = User.objects.create_user(f"bench-clerk-{run}", password="x")
    user.groups.add(Group.objects.get(name="Store staff"))
    store.staff.add(user)

    def new_fo(i: int, method: str):
        lines = [(products[(i + k) % len(products)], 1 + (k % 2)) for k in range(2)]
        order = make_order(
            channel=channel,
            lines=lines,
            method=method,
            pickup_location=store if method == "pickup" else None,
            email=f"bench-{run}-{i}@example.com",
        )
        return make_fo(order=order, location=store, method="pickup" if method == "pickup" else "ship")

    log(f"creating {orders} pickup and {orders} ship-from-store orders")
    pickups = [new_fo(i, "pickup") for i in range(orders)]
    ships = [new_fo(i, "ship") for i in range(orders)]

    with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
        mail.outbox = []
        t0 = time.perf_counter()
        per_order = []
        for fo in pickups:
            t = time.perf_counter()
            for ln in fo.lines.all():
                services.fulfillment_line_pick(line_id=ln.pk, delta=ln.quantity, actor=user)
            ready = services.fulfillment_order_ready(fo_id=fo.pk, actor=user)
            services.fulfillment_order_handover(fo_id=fo.pk, code=ready.pickup_code, actor=user)
            per_order.append(time.perf_counter() - t)
        bopis_s = time.perf_counter() - t0
    log(f"BOPIS {orders / bopis_s:.1f} orders/s")
    t0 = time.perf_counter()
    for fo in ships:
        for ln in fo.lines.all():
            services.fulfillment_line_pick(line_id=ln.pk, delta=ln.quantity, actor=user)
        services.fulfillment_order_pack(fo_id=fo.pk, weight_grams=800, actor=user)
        services.fulfillment_order_ship(fo_id=fo.pk, service="ups_ground", tracking_number=f"T{fo.pk}", actor=user)
    ship_s = time.perf_counter() - t0
    log(f"ship-from-store {orders / ship_s:.1f} orders/s")

    # The queue with a busy store: `orders` open pickups waiting, fragment as htmx polls it.
    for i in range(orders):
        new_fo(orders + i, "pickup")
    client = Client(SERVER_NAME="localhost")
    client.force_login(user)
    url = f"/fulfillment/store/?store={store.code}&tab=pickup_open"
    client.get(url, headers={"HX-Request": "true"})
    times = []
    for _ in range(iterations):
        t = time.perf_counter()
        r = client.get(url, headers={"HX-Request": "true"})
        times.append(time.perf_counter() - t)
        assert r.status_code == 200
    log(f"queue fragment p50 {ms(percentile(times, 0.5))} ms")
    return {
        "orders": orders,
        "bopis_orders_per_s": round(orders / bopis_s, 1),
        "bopis_order_p50_ms": ms(percentile(per_order, 0.5)),
        "ship_from_store_orders_per_s": round(orders / ship_s, 1),
        "queue_open_orders": orders,
        "queue_fragment_p50_ms": ms(percentile(times, 0.5)),
        "queue_fragment_p99_ms": ms(percentile(times, 0.99)),
    }


BENCHMARKS = {"fulfillment": bench_fulfillment}
