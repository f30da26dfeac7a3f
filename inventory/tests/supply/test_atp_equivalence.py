"""The dated availability query (ATS and supply read in one round trip, only the locations with supply
re-worked) equals the plain computation on random worlds: per location ATP(L, D) = max(0, on hand − reserved
− safety + open inbound less promised + shipped transfers due by D, late inbound from today), per SKU the sum
over the serving locations; the timeline is that figure on today and on every arrival date."""

import random
from datetime import timedelta

import pytest
from django.utils import timezone

from inventory.atp import availability_on_date, availability_timeline
from inventory.models import (
    InboundLine,
    InboundShipment,
    Location,
    Product,
    SafetyStockRule,
    StockLevel,
    TransferLine,
    TransferOrder,
)
from inventory.selectors import SafetyStock, _channel_is_online, _location_table_for

pytestmark = pytest.mark.django_db


def _world(rng: random.Random) -> list[str]:
    locs = [
        Location.objects.create(
            code=f"L{i:02d}",
            name=f"L{i}",
            kind=rng.choice(["warehouse", "store"]),
            postal_code="10001",
            is_active=rng.random() > 0.15,
            sell_online=rng.random() > 0.2,
        )
        for i in range(7)
    ]
    products = [Product.objects.create(sku=f"R-{i}", name=f"R{i}") for i in range(5)]
    SafetyStockRule.objects.create(quantity=rng.randint(0, 2))
    for loc in rng.sample(locs, 3):
        SafetyStockRule.objects.create(location=loc, quantity=rng.randint(0, 4))
    for p in products:
        for loc in rng.sample(locs, rng.randint(0, 5)):
            on_hand = rng.randint(0, 12)
            StockLevel.objects.create(product=p, location=loc, on_hand=on_hand, reserved=rng.randint(0, on_hand))
    today = timezone.localdate()
    for n in range(rng.randint(3, 12)):
        loc = rng.choice(locs)
        sh = InboundShipment.objects.create(number=f"PO-{n}", supplier="S", location=loc)
        for p in rng.sample(products, rng.randint(1, 3)):
            qty = rng.randint(1, 20)
            received = rng.choice([0, 0, rng.randint(0, qty)])
            closed = rng.choice([0, 0, qty - received])
            open_ = qty - received - closed
            InboundLine.objects.create(
                shipment=sh,
                location=loc,
                product=p,
                quantity=qty,
                quantity_received=received,
                quantity_closed=closed,
                quantity_promised=rng.randint(0, open_) if open_ > 0 else 0,
                is_open=open_ > 0,
                expected_date=today + timedelta(days=rng.randint(-5, 40)),
            )
    for n in range(rng.randint(0, 4)):
        src, dst = rng.sample(locs, 2)
        t = TransferOrder.objects.create(
            number=f"TO-{n}",
            source=src,
            destination=dst,
            status=rng.choice(["draft", "in_transit", "partial", "received"]),
            expected_date=today + timedelta(days=rng.randint(0, 30)),
        )
        for p in rng.sample(products, rng.randint(1, 2)):
            q = rng.randint(1, 9)
            shipped = 0 if t.status == "draft" else q
            got = {"partial": rng.randint(0, q), "received": q}.get(t.status, 0)
            TransferLine.objects.create(
                transfer=t, product=p, quantity=q, quantity_shipped=shipped, quantity_received=got
            )
    return [p.sku for p in products]


def _plain(*, sku: str, on, location_ids=None) -> tuple[int, int, dict[str, int]]:
    """(available now, available on `on`, {location code: available on `on`}) the straightforward way."""
    today = timezone.localdate()
    table = _location_table_for(stamp=None)
    serving = set(table.serving[(None, _channel_is_online(None))])
    if location_ids is not None:
        serving &= set(location_ids)
    product = Product.objects.get(sku=sku)
    safety = SafetyStock(product_ids=[product.pk]).quantity
    raw = {
        s.location_id: s.on_hand - s.reserved - safety(product_id=product.pk, location_id=s.location_id, kind=kind)
        for s in StockLevel.objects.filter(product=product)
        if s.location_id in serving
        for kind in [table.info[s.location_id][1]]
    }
    arriving: dict[int, int] = {}
    for ln in InboundLine.objects.filter(product=product, is_open=True):
        if max(ln.expected_date, today) <= on and ln.location_id in serving:
            units = max(0, ln.quantity - ln.quantity_received - ln.quantity_closed - ln.quantity_promised)
            arriving[ln.location_id] = arriving.get(ln.location_id, 0) + units
    for tl in TransferLine.objects.filter(product=product).select_related("transfer"):
        t = tl.transfer
        if t.status in ("in_transit", "partial") and t.expected_date <= on and t.destination_id in serving:
            arriving[t.destination_id] = arriving.get(t.destination_id, 0) + tl.quantity_shipped - tl.quantity_received
    for lid, units in arriving.items():
        if units:
            raw.setdefault(lid, -table.info[lid][2])  # no stock row: the location's own safety stock
    now = sum(max(0, v) for v in raw.values())
    then = {table.info[lid][0]: max(0, v + arriving.get(lid, 0)) for lid, v in raw.items()}
    return now, sum(then.values()), {c: v for c, v in then.items() if v > 0}


@pytest.mark.parametrize("seed", range(6))
def test_dated_query_equals_the_plain_computation(seed):
    rng = random.Random(seed)
    skus = _world(rng)
    today = timezone.localdate()
    some = list(Location.objects.order_by("?").values_list("pk", flat=True)[:4])
    for offset in (0, 1, 7, 20, 45):
        on = today + timedelta(days=offset)
        for location_ids in (None, some):
            rows = availability_on_date(skus=skus, on=on, location_ids=location_ids)
            for row in rows:
                now, then, by_loc = _plain(sku=row.sku, on=on, location_ids=location_ids)
                assert (row.available_now, row.available, row.supply) == (now, then, then - now), (seed, row)
                assert {dl.location_code: dl.available for dl in row.locations} == by_loc
                codes = [(-dl.available, dl.location_code) for dl in row.locations]
                assert codes == sorted(codes)
    for sku in skus:
        timeline = availability_timeline(sku=sku)
        assert timeline.points[0].on == today
        for p in timeline.points:
            assert p.available == _plain(sku=sku, on=p.on)[1], (seed, sku, p)
        for n in (1, 5, 30):
            first = next((p.on for p in timeline.points if p.available >= n), None)
            assert timeline.earliest_for(n) == first
