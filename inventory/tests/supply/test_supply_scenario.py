"""One product through supply over time: sold out → a purchase order dates the supply → the PO is delayed →
partly received → a transfer rebalances the rest, with the ledger equal to the levels (and the transit bucket
equal to the transfers) after every step; bad inputs are refused with a clear error and nothing written."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from inventory.atp import availability_on_date, availability_timeline
from inventory.inbound import InboundIn, InboundLineIn, ReceiptIn, inbound_create, inbound_line_redate, inbound_receive
from inventory.models import InboundLine, InventoryMovement, StockLevel
from inventory.services import ReserveLine, stock_reserve
from inventory.tests.helpers import assert_ledger_matches_levels, put_stock
from inventory.transfers import (
    TransferLineIn,
    transfer_create,
    transfer_receive,
    transfer_ship,
    transfer_transit_mismatches,
)

pytestmark = pytest.mark.django_db


def day(n: int):
    return timezone.localdate() + timedelta(days=n)


def check() -> None:
    assert_ledger_matches_levels()
    assert transfer_transit_mismatches() == []


def refused(call, *needles) -> None:
    moves = InventoryMovement.objects.count()
    levels = list(StockLevel.objects.order_by("pk").values_list("on_hand", "reserved"))
    with pytest.raises(ValidationError) as exc:
        call()
    for needle in needles:
        assert needle in str(exc.value)
    assert InventoryMovement.objects.count() == moves
    assert list(StockLevel.objects.order_by("pk").values_list("on_hand", "reserved")) == levels


def test_sold_out_then_dated_delayed_partly_received_and_rebalanced(product, dc, store):
    put_stock(product, dc, 2)
    stock_reserve(lines=[ReserveLine(product.pk, 2, dc.pk)])  # sold out
    check()
    assert availability_timeline(sku="SKU-A").earliest_for(1) is None
    po = inbound_create(
        data=InboundIn(
            number="PO-100", supplier="Acme", location_code="DC-EAST", lines=[InboundLineIn("SKU-A", 20, day(7))]
        )
    )
    assert availability_timeline(sku="SKU-A").earliest_for(5) == day(7)
    inbound_line_redate(shipment_id=po.pk, sku="SKU-A", new_date=day(10), reason="vessel delayed")
    assert availability_timeline(sku="SKU-A").earliest_for(5) == day(10)
    assert availability_on_date(skus=["SKU-A"], on=day(9))[0].available == 0
    # Bad inputs: beyond what was ordered, negative, a past date, an unknown SKU — refused, nothing written.
    refused(lambda: inbound_receive(shipment_id=po.pk, receipts=[ReceiptIn("SKU-A", 21)]), "only 20 open")
    refused(lambda: inbound_receive(shipment_id=po.pk, receipts=[ReceiptIn("SKU-A", -1)]), "must be 1")
    refused(lambda: inbound_receive(shipment_id=po.pk, receipts=[ReceiptIn("SKU-NONE", 1)]), "'SKU-NONE'")
    refused(lambda: inbound_line_redate(shipment_id=po.pk, sku="SKU-A", new_date=day(-1), reason="typo"), "in the past")
    inbound_receive(shipment_id=po.pk, receipts=[ReceiptIn("SKU-A", 12)])
    check()
    line = InboundLine.objects.get()
    assert (line.quantity_open, line.expected_date) == (8, day(10))
    assert availability_on_date(skus=["SKU-A"], on=day(0))[0].available == 12
    transfer = transfer_create(
        source_code="DC-EAST", destination_code="STORE-0001", lines=[TransferLineIn("SKU-A", 5)], expected_date=day(2)
    )
    refused(lambda: transfer_receive(transfer_id=transfer.pk), "draft")
    transfer_ship(transfer_id=transfer.pk)
    check()
    on2 = availability_on_date(skus=["SKU-A"], on=day(2))[0]
    assert {dl.location_code: dl.available for dl in on2.locations} == {"DC-EAST": 7, "STORE-0001": 5}
    transfer_receive(transfer_id=transfer.pk, lines=[TransferLineIn("SKU-A", 5)])
    check()
    levels = dict(StockLevel.objects.filter(product=product).values_list("location__code", "on_hand"))
    assert levels == {"DC-EAST": 9, "IN-TRANSIT": 0, "STORE-0001": 5}
    assert availability_timeline(sku="SKU-A").earliest_for(20) == day(10)
