"""The issue's proof. One product through supply over time: sold out → backorders dated against a purchase
order by priority (ship-by, tier, value, age) → the PO is delayed (the orders re-dated) → partly received
(the highest-priority backorders routed first, the others still waiting) → a transfer rebalances stock from a
location that cannot ship (ship, receive) and the waiting order is routed; the ledger equals the levels (and
the transit bucket the transfers) after every step. Bad inputs — receipts beyond what was ordered, negative
quantities, dates in the past, unknown SKUs — are refused through the services, the API and the CSV import
with a clear error, and nothing is written."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from conftest import api_for
from inventory.atp import availability_on_date, availability_timeline
from inventory.inbound import InboundIn, InboundLineIn, ReceiptIn, inbound_create, inbound_line_redate, inbound_receive
from inventory.models import InboundLine, InboundShipment, InventoryMovement, Location, StockLevel
from inventory.tests.helpers import assert_ledger_matches_levels, put_stock
from inventory.transfers import (
    TransferLineIn,
    transfer_create,
    transfer_receive,
    transfer_ship,
    transfer_transit_mismatches,
)
from orders.models import Customer, Order, OrderEvent, OrderLine
from routing.services import backorders_retry, order_route
from routing.tests.helpers import make_order

pytestmark = pytest.mark.django_db


def day(n: int):
    return timezone.localdate() + timedelta(days=n)


def check() -> None:
    assert_ledger_matches_levels()
    assert transfer_transit_mismatches() == []


def written() -> tuple:
    """Everything a refused input must leave alone."""
    return (
        InventoryMovement.objects.count(),
        list(StockLevel.objects.order_by("pk").values_list("on_hand", "reserved")),
        list(InboundShipment.objects.order_by("pk").values_list("number", "status")),
        list(InboundLine.objects.order_by("pk").values_list("quantity_received", "expected_date", "is_open")),
    )


def refused(call, *needles) -> None:
    before = written()
    with pytest.raises(ValidationError) as exc:
        call()
    for needle in needles:
        assert needle in str(exc.value)
    assert written() == before


def refused_by_api(response, field: str, *needles) -> None:
    assert response.status_code == 400, response.content
    text = str(response.json()[field])
    for needle in needles:
        assert needle in text, text


def status(order: Order) -> str:
    return Order.objects.get(pk=order.pk).status


def expected(order: Order):
    return OrderLine.objects.get(order=order).expected_date


def po_lines(*lines: tuple[str, int, int]) -> list[InboundLineIn]:
    return [InboundLineIn(sku, q, day(n)) for sku, q, n in lines]


def test_sold_out_dated_delayed_partly_received_and_rebalanced(web, product, dc, store, inventory_user):
    api = api_for(inventory_user)
    returns = Location.objects.create(
        code="RETURNS", name="Returns centre", kind="warehouse", postal_code="08817", can_ship=False
    )
    now = timezone.now()
    # Sold out: the last two units go to the first order.
    put_stock(product, dc, 2)
    first = make_order(channel=web, lines=[(product, 2)], placed_at=now - timedelta(days=5))
    order_route(order_id=first.pk)
    assert status(first) == Order.Status.ROUTED
    check()
    assert availability_timeline(sku="SKU-A").earliest_for(1) is None

    # Three more orders are backordered, with no date yet (no supply is known).
    plain = make_order(channel=web, lines=[(product, 2)], placed_at=now - timedelta(days=3), total=500)
    vip = make_order(channel=web, lines=[(product, 2)], placed_at=now - timedelta(days=1), total=20)
    Order.objects.filter(pk=vip.pk).update(
        customer=Customer.objects.create(email="gold@example.com", loyalty_tier=Customer.Tier.GOLD)
    )
    urgent = make_order(channel=web, lines=[(product, 1)], placed_at=now, total=10)
    Order.objects.filter(pk=urgent.pk).update(ship_by=now + timedelta(days=2))
    for o in (plain, vip, urgent):
        order_route(order_id=o.pk)
        assert status(o) == Order.Status.BACKORDERED and expected(o) is None
    check()

    # A purchase order of 4 units: dated by priority — ship-by (urgent, 1), tier (vip, 2) take 3; the plain
    # order (older, dearer, but standard tier and no ship-by) gets the last unit only, so it has no date.
    po = inbound_create(
        data=InboundIn(number="PO-100", supplier="Acme", location_code="DC-EAST", lines=po_lines(("SKU-A", 4, 7)))
    )
    backorders_retry()
    assert (expected(urgent), expected(vip), expected(plain)) == (day(7), day(7), None)
    assert InboundLine.objects.get().quantity_promised == 4
    assert availability_timeline(sku="SKU-A").earliest_for(1) is None  # all of it promised to the backorders
    check()

    # The PO is delayed: the orders counting on it are re-dated and told.
    inbound_line_redate(shipment_id=po.pk, sku="SKU-A", new_date=day(10), reason="vessel delayed")
    assert (expected(urgent), expected(vip), expected(plain)) == (day(10), day(10), None)
    assert OrderEvent.objects.filter(order=vip, type="backordered").last().data == {
        "expected_date": day(10).isoformat(),
        "redated": True,
    }
    check()

    _bad_inputs_are_refused(api=api, po=po)

    # Partly received (3 of 4): the highest-priority backorders are routed first; the plain order waits.
    inbound_receive(shipment_id=po.pk, receipts=[ReceiptIn("SKU-A", 3)])
    assert (status(urgent), status(vip), status(plain)) == (
        Order.Status.ROUTED,
        Order.Status.ROUTED,
        Order.Status.BACKORDERED,
    )
    line = InboundLine.objects.get()
    assert (line.quantity_open, line.expected_date) == (1, day(10))
    assert expected(plain) is None  # one unit left on the PO: still only partly covered
    check()

    # Units restocked at the returns centre, which cannot ship to customers: the plain order still waits.
    put_stock(product, returns, 4)
    backorders_retry()
    assert status(plain) == Order.Status.BACKORDERED
    check()

    # A transfer rebalances them to the DC: shipped (in transit), then received; the waiting order is routed.
    transfer = transfer_create(
        source_code="RETURNS", destination_code="DC-EAST", lines=[TransferLineIn("SKU-A", 4)], expected_date=day(2)
    )
    refused(lambda: transfer_receive(transfer_id=transfer.pk), "draft")
    transfer_ship(transfer_id=transfer.pk)
    check()
    on2 = availability_on_date(skus=["SKU-A"], on=day(2))[0]
    assert {dl.location_code: dl.supply for dl in on2.locations}["DC-EAST"] == 4
    refused(lambda: transfer_receive(transfer_id=transfer.pk, lines=[TransferLineIn("SKU-A", 5)]), "in transit 4")
    transfer_receive(transfer_id=transfer.pk)
    check()
    backorders_retry()
    assert status(plain) == Order.Status.ROUTED
    check()
    levels = {
        code: (on_hand, reserved)
        for code, on_hand, reserved in StockLevel.objects.filter(product=product).values_list(
            "location__code", "on_hand", "reserved"
        )
    }
    assert levels == {"DC-EAST": (2 + 3 + 4, 2 + 1 + 2 + 2), "RETURNS": (0, 0), "IN-TRANSIT": (0, 0)}


def _bad_inputs_are_refused(*, api, po) -> None:
    """Receipts beyond what was ordered, negative quantities, past dates and unknown SKUs, through the
    services, the API and the CSV import: refused with a clear error, nothing written."""
    refused(lambda: inbound_receive(shipment_id=po.pk, receipts=[ReceiptIn("SKU-A", 5)]), "only 4 open")
    refused(lambda: inbound_receive(shipment_id=po.pk, receipts=[ReceiptIn("SKU-A", -1)]), "must be 1")
    refused(lambda: inbound_receive(shipment_id=po.pk, receipts=[ReceiptIn("SKU-NONE", 1)]), "'SKU-NONE'")
    refused(lambda: inbound_line_redate(shipment_id=po.pk, sku="SKU-A", new_date=day(-1), reason="typo"), "in the past")
    bad = po_lines(("SKU-A", -3, 5), ("SKU-NONE", 2, 5), ("SKU-A", 2, -2))
    refused(
        lambda: inbound_create(data=InboundIn(number="PO-BAD", supplier="Acme", location_code="DC-EAST", lines=bad)),
        "quantity must be 1",
        "unknown SKU 'SKU-NONE'",
        "is in the past",
    )
    before = written()
    r = api.post("/api/v1/inbound/PO-100/receive/", {"lines": [{"sku": "SKU-A", "quantity": 5}]}, format="json")
    refused_by_api(r, "lines", "only 4 open")
    r = api.post("/api/v1/inbound/PO-100/receive/", {"lines": [{"sku": "SKU-A", "quantity": -2}]}, format="json")
    assert r.status_code == 400 and "quantity" in str(r.json())
    r = api.post("/api/v1/inbound/PO-100/receive/", {"lines": [{"sku": "SKU-NONE", "quantity": 1}]}, format="json")
    refused_by_api(r, "lines", "'SKU-NONE'")
    r = api.post(
        "/api/v1/inbound/PO-100/redate/", {"sku": "SKU-A", "expected_date": day(-1), "reason": "x"}, format="json"
    )
    refused_by_api(r, "expected_date", "in the past")
    body = {
        "number": "PO-API",
        "supplier": "Acme",
        "location": "DC-EAST",
        "lines": [{"sku": "SKU-NONE", "quantity": 2, "expected_date": day(-1).isoformat()}],
    }
    refused_by_api(api.post("/api/v1/inbound/", body, format="json"), "lines", "unknown SKU", "in the past")
    csv = (
        "number,supplier,location,sku,quantity,expected_date\n"
        f"PO-CSV,Acme,DC-EAST,SKU-A,-4,{day(3)}\nPO-CSV,Acme,DC-EAST,SKU-NONE,1,{day(-1)}\n"
    )
    r = api.post("/api/v1/inbound/import/", {"file": SimpleUploadedFile("po.csv", csv.encode())})
    assert r.status_code == 400
    assert {(e["row"], e["column"]) for e in r.json()["errors"]} == {
        (2, "quantity"),
        (3, "sku"),
        (3, "expected_date"),
    }
    assert written() == before
