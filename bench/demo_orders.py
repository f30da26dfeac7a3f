"""Demo orders for `seed_demo`: a few dozen orders from the web channel through real intake and routing,
so that `make run` opens on a store queue, routed orders and timelines rather than empty screens."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from inventory.models import Location, LocationKind, StockLevel
from orders.inputs import CustomerIn, LineIn, OrderIn
from orders.models import Channel, Order
from orders.services import order_ingest

DEMO_PREFIX = "DEMO-"
CUSTOMERS = [
    ("ann.smith@example.com", "Ann Smith", "10001", "NY", "New York"),
    ("bo.jones@example.com", "Bo Jones", "11201", "NY", "Brooklyn"),
    ("cy.lee@example.com", "Cy Lee", "60601", "IL", "Chicago"),
    ("di.garcia@example.com", "Di Garcia", "90012", "CA", "Los Angeles"),
    ("ed.kim@example.com", "Ed Kim", "77002", "TX", "Houston"),
    ("fay.wong@example.com", "Fay Wong", "85004", "AZ", "Phoenix"),
]


def demo_orders_seed(*, count: int = 40) -> int:
    """Ingest `count` demo orders (ship and pick-up at the first stores) and route them. Idempotent: orders
    already there (by external id) are not created twice. Returns how many were created now."""
    from routing.services import orders_route_pending

    web = Channel.objects.get(code="web")
    stores = list(Location.objects.filter(kind=LocationKind.STORE, can_pickup=True).order_by("code")[:2])
    rng = random.Random(7)
    created = 0
    now = timezone.now()
    for n in range(1, count + 1):
        external_id = f"{DEMO_PREFIX}{n:04d}"
        if Order.objects.filter(channel=web, external_id=external_id).exists():
            continue
        pickup = stores[n % len(stores)] if stores and n % 3 == 0 else None
        email, name, zip_, region, city = CUSTOMERS[n % len(CUSTOMERS)]
        # Products the chosen store (or anywhere, for shipping) has on hand, so the demo routes.
        levels = StockLevel.objects.filter(on_hand__gt=3)
        if pickup:
            levels = levels.filter(location=pickup)
        skus = list(levels.order_by("product__sku").values_list("product__sku", flat=True)[:60])
        if not skus:
            continue
        lines = [
            LineIn(sku=s, quantity=rng.choice([1, 1, 1, 2]), unit_price=Decimal(rng.randrange(5, 80)))
            for s in rng.sample(skus, k=min(len(skus), rng.choice([1, 1, 2, 3])))
        ]
        order_in = OrderIn(
            external_id=external_id,
            placed_at=now - timedelta(minutes=5 * (count - n)),
            lines=lines,
            customer=CustomerIn(email=email, name=name, phone="555-0100"),
            shipping_address={
                "name": name,
                "line1": f"{n} Main St",
                "city": city,
                "region": region,
                "postal_code": zip_,
                "country": "US",
            },
            fulfillment_method="pickup" if pickup else "ship",
            pickup_location=pickup.code if pickup else "",
            service_level="standard" if n % 5 else "express",
            payment_status="authorized",
        )
        with transaction.atomic():
            order_ingest(channel=web, order_in=order_in, source="demo")
        created += 1
    orders_route_pending(batch=100)
    return created
