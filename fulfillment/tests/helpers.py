"""Test helpers: orders and fulfilment orders made the way routing makes them (a test fixture, not a service).

Routing reserves with `Reservation.reference = "order:<pk>"`, one reservation per fulfilment order, each
reservation line referencing `order_line:<pk>`; these helpers do exactly that so the services under test
see what they will see in production.
"""

from decimal import Decimal

from django.utils import timezone

from fulfillment.models import FulfillmentLine, FulfillmentOrder
from inventory.models import RefType
from inventory.services import ReserveLine, StockChange, stock_apply_changes, stock_reserve
from orders.models import Customer, Order, OrderLine

_counter = {"n": 0}


def put_stock(product, location, on_hand: int) -> None:
    stock_apply_changes(changes=[StockChange(product.pk, location.pk, delta_on_hand=on_hand)], reason="receive")


def make_order(
    *,
    channel,
    lines,
    method="ship",
    pickup_location=None,
    email="ann@example.com",
    name="Ann Smith",
    address=None,
    priority=0,
    service_level="standard",
) -> Order:
    """lines: [(product, quantity)]."""
    _counter["n"] += 1
    n = _counter["n"]
    customer, _ = Customer.objects.get_or_create(email=email, defaults={"name": name, "phone": "555-0100"})
    order = Order.objects.create(
        channel=channel,
        external_id=f"ext-{n}-{timezone.now().timestamp()}",
        number=f"W{n:05d}-{int(timezone.now().timestamp() * 1000) % 100000}",
        customer=customer,
        placed_at=timezone.now(),
        status=Order.Status.ROUTED,
        fulfillment_method=method,
        pickup_location=pickup_location,
        priority=priority,
        service_level=service_level,
        shipping_address=address
        or {"name": name, "line1": "1 Main St", "city": "New York", "postal_code": "10001", "country": "US"},
    )
    for i, (product, qty) in enumerate(lines, start=1):
        OrderLine.objects.create(
            order=order,
            line_number=i,
            product=product,
            sku=product.sku,
            quantity=qty,
            unit_price=Decimal("10.00"),
            quantity_allocated=qty,
        )
    return order


def make_fo(*, order, location, method="ship", lines=None) -> FulfillmentOrder:
    """Reserve the order's lines (or `lines` [(order_line, qty)]) at `location` and create the fulfilment
    order, as routing does."""
    lines = lines or [(ol, ol.quantity) for ol in order.lines.all()]
    reservation = stock_reserve(
        lines=[
            ReserveLine(ol.product_id, q, location.pk, f"order_line:{ol.pk}", RefType.ORDER_LINE, ol.pk)
            for ol, q in lines
        ],
        channel=order.channel,
        reference=f"order:{order.pk}",
        ref_type=RefType.ORDER,
        ref_id=order.pk,
    )
    fo = FulfillmentOrder.objects.create(order=order, location=location, method=method, reservation=reservation)
    for ol, q in lines:
        FulfillmentLine.objects.create(fulfillment_order=fo, order_line=ol, quantity=q)
    return fo


def level(product, location):
    from inventory.models import StockLevel

    s = StockLevel.objects.get(product=product, location=location)
    return s.on_hand, s.reserved
