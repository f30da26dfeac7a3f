"""`bench returns`: authorising returns (eligibility + return routing over a 240-store network) and receiving
them with a restock, per RMA, on its own network (codes BENCH-R-*)."""

from __future__ import annotations

import time
import uuid

from bench.tools import ms, percentile


def bench_returns(*, log, orders: int = 200, **_) -> dict:
    import zipcodes
    from django.utils import timezone

    from fulfillment.models import FulfillmentLine, FulfillmentOrder
    from inventory.models import InventoryMovement, Location, Product
    from inventory.services import StockChange, stock_apply_changes
    from orders.models import Channel, Customer, Order, OrderLine
    from returns.services import ReceiveLineIn, ReturnLineIn, rma_create, rma_receive

    run = uuid.uuid4().hex[:6]
    channel, _ = Channel.objects.get_or_create(code="bench-r", defaults={"name": "Bench returns", "kind": "web"})
    # 240 stores at every n-th real ZIP (deterministic), each accepting returns.
    from common.geo import zip_centroid

    zips = [
        z["zip_code"]
        for state in ("NY", "CA")
        for z in zipcodes.filter_by(state=state)
        if zip_centroid(postal_code=z["zip_code"]) is not None
    ]
    step = max(1, len(zips) // 240)
    stores = [
        Location(
            code=f"BENCH-R-{run}-{i:03d}",
            name=f"Bench store {i}",
            kind="store",
            postal_code=z,
            accepts_returns=True,
            can_pickup=True,
            daily_capacity=0,
        )
        for i, z in enumerate(zips[::step][:240])
    ]
    for s in stores:
        s.save()  # fills coordinates from the ZIP centroid
    dc = Location.objects.create(code=f"BENCH-R-{run}-DC", name="Bench DC", kind="warehouse", postal_code="08817")
    products = [Product.objects.create(sku=f"BR-{run}-{i}", name=f"Bench item {i}") for i in range(20)]
    log(f"{len(stores)} stores; recent sales at every 3rd store")
    for i, s in enumerate(stores[::3]):
        p = products[i % len(products)]
        stock_apply_changes(changes=[StockChange(p.pk, s.pk, delta_on_hand=10)], reason="receive")
        stock_apply_changes(
            changes=[StockChange(p.pk, s.pk, delta_on_hand=-10)], reason=InventoryMovement.Reason.CONSUME
        )

    log(f"creating {orders} delivered orders")
    now = timezone.now()
    customer, _ = Customer.objects.get_or_create(email=f"bench-r-{run}@example.com")
    delivered = []
    for i in range(orders):
        z = zips[(i * 37) % len(zips)]
        o = Order.objects.create(
            channel=channel,
            external_id=f"br-{run}-{i}",
            number=f"BR{run}{i:05d}",
            customer=customer,
            placed_at=now,
            status=Order.Status.DELIVERED,
            shipping_address={"postal_code": z, "country": "US"},
        )
        lines = [
            OrderLine.objects.create(
                order=o,
                line_number=k + 1,
                product=products[(i + k) % 20],
                sku=products[(i + k) % 20].sku,
                quantity=2,
                unit_price=10,
                quantity_allocated=2,
                quantity_shipped=2,
            )
            for k in range(2)
        ]
        fo = FulfillmentOrder.objects.create(order=o, location=dc, status="delivered")
        for ln in lines:
            FulfillmentLine.objects.create(
                fulfillment_order=fo, order_line=ln, quantity=2, quantity_picked=2, quantity_shipped=2
            )
        delivered.append(o)

    create_t, receive_t = [], []
    rmas = []
    t0 = time.perf_counter()
    for o in delivered:
        t = time.perf_counter()
        rma = rma_create(
            order=o, lines=[ReturnLineIn(line_number=1, quantity=1), ReturnLineIn(line_number=2, quantity=2)]
        ).rma
        create_t.append(time.perf_counter() - t)
        rmas.append(rma)
    create_s = time.perf_counter() - t0
    log(f"authorised and routed {orders / create_s:.1f} returns/s")
    t0 = time.perf_counter()
    for rma in rmas:
        t = time.perf_counter()
        rma_receive(rma=rma, lines=[ReceiveLineIn(rl.pk, rl.quantity, "new", "restock") for rl in rma.lines.all()])
        receive_t.append(time.perf_counter() - t)
    receive_s = time.perf_counter() - t0
    log(f"received {orders / receive_s:.1f} returns/s")
    chosen_with_need = sum(1 for rma in rmas if rma.routing_decisions.first().candidates[0]["need_credit"] > 0)
    return {
        "stores": len(stores),
        "returns": orders,
        "create_and_route_per_s": round(orders / create_s, 1),
        "create_and_route_p50_ms": ms(percentile(create_t, 0.5)),
        "create_and_route_p95_ms": ms(percentile(create_t, 0.95)),
        "receive_restock_per_s": round(orders / receive_s, 1),
        "receive_restock_p50_ms": ms(percentile(receive_t, 0.5)),
        "routed_to_a_store_low_on_stock": chosen_with_need,
    }


BENCHMARKS = {"returns": bench_returns}
