"""The demo's 60 days of history, written through the owning apps' services at back-dated moments
(`bench.demo_clock.demo_backdate`): a few orders a day from every channel, routed, picked, shipped and
delivered or handed over (a few no-shows, late deliveries, cancellations and returns among them), cycle
counts at the stores, then the KPI rollup — so every figure on the dashboard has a value and a trend."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from bench.demo_clock import demo_backdate
from inventory.models import Location, LocationKind, Product, StockLevel
from orders.inputs import CustomerIn, LineIn, OrderIn
from orders.models import Channel, Order
from orders.services import order_cancel, order_ingest
from orders.shopify import shopify_order_input

HISTORY_PREFIX = "HIST-"
DAYS = 60
ORDERS_PER_DAY = 3
DEMO_STORES = ("STORE-0001", "STORE-0002")
CUSTOMERS = [
    ("ann.smith@example.com", "Ann Smith", "10004", "NY", "New York"),
    ("bo.jones@example.com", "Bo Jones", "11201", "NY", "Brooklyn"),
    ("cy.lee@example.com", "Cy Lee", "60601", "IL", "Chicago"),
    ("di.garcia@example.com", "Di Garcia", "90012", "CA", "Los Angeles"),
    ("ed.kim@example.com", "Ed Kim", "77002", "TX", "Houston"),
    ("fay.wong@example.com", "Fay Wong", "85004", "AZ", "Phoenix"),
    ("gus.patel@example.com", "Gus Patel", "30303", "GA", "Atlanta"),
    ("hana.ito@example.com", "Hana Ito", "98101", "WA", "Seattle"),
]
CHANNEL_CYCLE = ("web", "shopify", "app", "web", "marketplace", "b2b", "shopify", "app")


def at_local(day: date, hour: float) -> datetime:
    """`day` at `hour` (e.g. 9.5 = 09:30) in the project's time zone."""
    minutes = min(int(hour * 60), 24 * 60 - 1)
    return timezone.make_aware(datetime.combine(day, time(minutes // 60, minutes % 60)))


def demo_skus(*, location_code: str | None = None, minimum: int = 8) -> list[str]:
    """SKUs with at least `minimum` units on hand at the location (anywhere when None), ambient only."""
    levels = StockLevel.objects.filter(on_hand__gte=minimum, product__handling_class="ambient")
    if location_code:
        levels = levels.filter(location__code=location_code)
    return sorted(set(levels.values_list("product__sku", flat=True)))


def demo_order_in(
    *, external_id: str, rng: random.Random, placed: datetime, skus: list[str], pickup: str = "", customer: int = 0
) -> OrderIn:
    """One demo order: 1–3 lines of the given SKUs, to a demo customer, shipped or picked up at `pickup`."""
    email, name, zip_, region, city = CUSTOMERS[customer % len(CUSTOMERS)]
    picked = rng.sample(skus, k=min(len(skus), rng.choice([1, 1, 2, 3])))
    return OrderIn(
        external_id=external_id,
        placed_at=placed,
        lines=[
            LineIn(sku=s, quantity=rng.choice([1, 1, 1, 2]), unit_price=Decimal(rng.randrange(8, 90))) for s in picked
        ],
        customer=CustomerIn(email=email, name=name, phone="555-0100"),
        shipping_address={
            "name": name,
            "line1": f"{rng.randrange(1, 999)} Main St",
            "city": city,
            "region": region,
            "postal_code": zip_,
            "country": "US",
        },
        fulfillment_method="pickup" if pickup else "ship",
        pickup_location=pickup,
        service_level="express" if rng.random() < 0.2 else "standard",
        payment_status="authorized",
    )


def shopify_payload(*, order_in: OrderIn, number: int) -> dict:
    """The same order as Shopify's `orders/create` webhook body would carry it."""
    addr = order_in.shipping_address
    first, _, last = addr["name"].partition(" ")
    return {
        "id": 5_000_000 + number,
        "name": f"#{1000 + number}",
        "email": order_in.customer.email,
        "created_at": order_in.placed_at.isoformat(),
        "currency": "USD",
        "financial_status": "paid",
        "customer": {"email": order_in.customer.email, "first_name": first, "last_name": last},
        "shipping_address": {
            "first_name": first,
            "last_name": last,
            "address1": addr["line1"],
            "city": addr["city"],
            "province_code": addr["region"],
            "zip": addr["postal_code"],
            "country_code": "US",
        },
        "line_items": [
            {"sku": ln.sku, "quantity": ln.quantity, "price": str(ln.unit_price), "title": ln.sku}
            for ln in order_in.lines
        ],
        "shipping_lines": [{"code": "Standard", "title": "Standard"}],
    }


def demo_order_place(*, channel: Channel, order_in: OrderIn, number: int) -> Order:
    """Take the order in through the channel's door: Shopify's mapping for the Shopify channel, else as is."""
    if channel.code == "shopify":
        order_in = shopify_order_input(payload=shopify_payload(order_in=order_in, number=number))
    with transaction.atomic():
        return order_ingest(channel=channel, order_in=order_in, source=channel.code).order


def _history_day(*, day: date, n0: int, rng: random.Random, ctx: dict) -> list[Order]:
    """Take in and route one day's orders; returns them."""
    from routing.services import orders_route_pending

    placed_orders = []
    for i in range(ORDERS_PER_DAY):
        n = n0 + i
        pickup = DEMO_STORES[(n // 3) % 2] if n % 3 == 1 else ""
        skus = ctx["store_skus"][pickup] if pickup else ctx["skus"]
        placed = at_local(day, 12.5 + rng.random() / 2 if pickup else 8.5 + i * 1.25 + rng.random() / 2)
        with demo_backdate(placed):
            order_in = demo_order_in(
                external_id=f"{HISTORY_PREFIX}{n:05d}",
                rng=rng,
                placed=placed,
                skus=skus,
                pickup=pickup,
                customer=n * 7 + i,
            )
            code = ("web", "app")[n % 2] if pickup else CHANNEL_CYCLE[n % len(CHANNEL_CYCLE)]
            channel = ctx["channels"][code]
            placed_orders.append(demo_order_place(channel=channel, order_in=order_in, number=n))
    with demo_backdate(at_local(day, 13.5)):
        orders_route_pending(batch=100)
        for order in placed_orders:
            if rng.random() < 0.015:
                order.refresh_from_db()
                order_cancel(order=order, actor=ctx["ops"], reason="Customer asked to cancel")
    return placed_orders


def _work_ship(*, fo, day: date, rng: random.Random, ctx: dict) -> None:
    from fulfillment.services import fulfillment_order_deliver, fulfillment_order_pick_confirm, fulfillment_order_ship

    actor = ctx["staff"].get(fo.location.code)
    with demo_backdate(at_local(day, 15 + rng.random())):
        fulfillment_order_pick_confirm(fo_id=fo.pk, actor=actor)
    with demo_backdate(at_local(day, 17 + rng.random())):
        fulfillment_order_ship(
            fo_id=fo.pk,
            service=rng.choice(["ups_ground", "ups_ground", "ups_2day"]),
            tracking_number=f"1Z{fo.pk:010d}",
            cost=Decimal(rng.randrange(600, 1400)) / 100,
            weight_grams=800,
            actor=actor,
        )
    delivered = at_local(day + timedelta(days=rng.choice([1, 2, 2, 3, 3, 4, 8])), 14)
    if delivered < ctx["now"]:
        with demo_backdate(delivered):
            fulfillment_order_deliver(fo_id=fo.pk, delivered_at=delivered)


def _work_pickup(*, fo, day: date, rng: random.Random, ctx: dict) -> None:
    from fulfillment.models import FulfillmentOrder
    from fulfillment.services import (
        fulfillment_order_handover,
        fulfillment_order_pick_confirm,
        fulfillment_order_ready,
    )

    actor = ctx["staff"].get(fo.location.code)
    with demo_backdate(at_local(day, 13.6 + rng.random() / 4)):
        fulfillment_order_pick_confirm(fo_id=fo.pk, actor=actor)
    with demo_backdate(at_local(day, 13.9 + rng.random() * 1.5)):
        fulfillment_order_ready(
            fo_id=fo.pk, staging_location=f"Shelf {rng.choice('ABC')}{rng.randrange(1, 9)}", actor=actor
        )
    if rng.random() < 0.06:
        return  # a no-show: expired by the pickup-hold schedule
    code = FulfillmentOrder.objects.values_list("pickup_code", flat=True).get(pk=fo.pk)
    with demo_backdate(at_local(day + timedelta(days=1), 12 + rng.random() * 5)):
        fulfillment_order_handover(fo_id=fo.pk, code=code, collected_by_name="Customer", actor=actor)


def _history_work(*, orders: list[Order], day: date, rng: random.Random, ctx: dict) -> None:
    """Each location's work for the day's orders: ship and deliver, or ready and hand over."""
    from fulfillment.models import FulfillmentOrder

    fos = FulfillmentOrder.objects.filter(order__in=orders, status__in=["created", "released"]).select_related(
        "location"
    )
    for fo in fos.order_by("pk"):
        if fo.method == "pickup":
            _work_pickup(fo=fo, day=day, rng=rng, ctx=ctx)
        elif fo.method in ("ship", "dropship"):
            _work_ship(fo=fo, day=day, rng=rng, ctx=ctx)


def _history_returns(*, orders: list[Order], day: date, rng: random.Random, ctx: dict) -> None:
    """Some delivered orders come back a few days later: requested, approved, received, refunded."""
    from returns.models import ReturnLine
    from returns.services import (
        ReceiveLineIn,
        ReturnLineIn,
        rma_approve,
        rma_create,
        rma_mark_in_transit,
        rma_receive,
        rma_refund_issue,
    )

    when = at_local(day + timedelta(days=6), 10)
    if when >= ctx["now"]:
        return
    for order in Order.objects.filter(pk__in=[o.pk for o in orders], status="delivered"):
        if rng.random() > 0.3:
            continue
        line = order.lines.order_by("line_number").first()
        reason = rng.choice(list(ReturnLine.Reason.values))
        with demo_backdate(when):
            rma = rma_create(
                order=order,
                lines=[ReturnLineIn(quantity=1, line_number=line.line_number, reason=reason)],
                actor=ctx["ops"],
            ).rma
            if rma.status == "requested":
                rma_approve(rma=rma, actor=ctx["ops"])
            rma_mark_in_transit(rma=rma, tracking_number=f"RET{rma.pk:06d}", actor=ctx["ops"])
        with demo_backdate(when + timedelta(days=3)):
            rl = rma.lines.first()
            rma_receive(
                rma=rma,
                lines=[ReceiveLineIn(return_line_id=rl.pk, quantity=1, condition="opened", disposition="restock")],
                actor=ctx["ops"],
            )
            rma_refund_issue(rma=rma, reference=f"RF-{rma.pk}", actor=ctx["ops"])


def _history_counts(*, day: date, rng: random.Random, ctx: dict) -> None:
    """Two cycle counts a day at the demo stores; now and then one finds a difference."""
    from inventory.services import cycle_count_record

    for k, code in enumerate(DEMO_STORES):
        sku = rng.choice(ctx["store_skus"][code])
        level = StockLevel.objects.get(product__sku=sku, location__code=code)
        counted = max(0, level.on_hand - (1 if rng.random() < 0.12 else 0))
        with demo_backdate(at_local(day, 8 + k)):
            cycle_count_record(
                product=level.product,
                location=level.location,
                counted_quantity=counted,
                note="Daily count",
                actor=ctx["staff"][code],
            )


def demo_history_context(*, now: datetime) -> dict:
    User = get_user_model()
    staff = {
        code: User.objects.filter(username=name).first()
        for code, name in zip(DEMO_STORES, ("store", "store2"), strict=False)
    }
    return {
        "now": now,
        "ops": User.objects.get(username="ops"),
        "merch": User.objects.get(username="merch"),
        "inventory": User.objects.filter(username="inventory").first(),
        "staff": {k: v for k, v in staff.items() if v},
        "channels": {c.code: c for c in Channel.objects.all()},
        "skus": demo_skus(minimum=40)[:120],
        "store_skus": {code: demo_skus(location_code=code, minimum=6)[:60] for code in DEMO_STORES},
    }


def demo_history_seed(*, ctx: dict, days: int = DAYS, hooks: dict | None = None) -> int:
    """Write `days` days of history ending yesterday (idempotent: skipped when history exists). `hooks`
    maps a day offset (days ago) to the functions run at the start of that day. Returns orders created."""
    from analytics.services import kpi_rollup_refresh
    from fulfillment.services import pickup_no_shows_expire

    if Order.objects.filter(external_id__startswith=HISTORY_PREFIX).exists():
        return 0
    rng = random.Random(2026)
    today = timezone.localdate()
    created = 0
    for ago in range(days, 0, -1):
        day = today - timedelta(days=ago)
        for hook in (hooks or {}).get(ago, []):
            hook(day=day, ctx=ctx)
        orders = _history_day(day=day, n0=created + 1, rng=rng, ctx=ctx)
        created += len(orders)
        _history_work(orders=orders, day=day, rng=rng, ctx=ctx)
        _history_returns(orders=orders, day=day, rng=rng, ctx=ctx)
        _history_counts(day=day, rng=rng, ctx=ctx)
        with demo_backdate(at_local(day, 23)):
            pickup_no_shows_expire()
    kpi_rollup_refresh(first=today - timedelta(days=days + 1), last=today)
    return created


def demo_product(sku: str) -> Product:
    return Product.objects.get(sku=sku)


def demo_location(code: str) -> Location:
    return Location.objects.get(code=code)


def demo_stores() -> list[Location]:
    return list(Location.objects.filter(kind=LocationKind.STORE, code__in=DEMO_STORES).order_by("code"))
