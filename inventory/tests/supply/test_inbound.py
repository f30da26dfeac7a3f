from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from inventory.inbound import (
    InboundIn,
    InboundLineIn,
    ReceiptIn,
    inbound_create,
    inbound_line_close,
    inbound_line_redate,
    inbound_receive,
)
from inventory.models import (
    InboundDateChange,
    InboundLine,
    InboundReceipt,
    InboundShipment,
    InventoryMovement,
    StockLevel,
)
from inventory.tests.helpers import assert_ledger_matches_levels, put_stock

pytestmark = pytest.mark.django_db


def days(n: int):
    return timezone.localdate() + timedelta(days=n)


def po(number="PO-1", location="DC-EAST", lines=None, **kw) -> InboundIn:
    lines = lines or [InboundLineIn("SKU-A", 10, days(5)), InboundLineIn("SKU-B", 4, days(9))]
    return InboundIn(number=number, supplier="Acme Widgets", location_code=location, lines=lines, **kw)


def on_hand(product, location) -> int:
    return StockLevel.objects.filter(product=product, location=location).values_list("on_hand", flat=True).first() or 0


def test_a_purchase_order_is_received_in_parts_into_on_hand_with_the_ledger(product, product_b, dc):
    put_stock(product, dc, 3)
    shipment = inbound_create(data=po())
    assert shipment.status == "open" and shipment.lines.count() == 2
    inbound_receive(shipment_id=shipment.pk, receipts=[ReceiptIn("SKU-A", 6)])
    assert on_hand(product, dc) == 9
    shipment.refresh_from_db()
    assert shipment.status == "partial"
    assert_ledger_matches_levels()
    inbound_receive(shipment_id=shipment.pk, receipts=[ReceiptIn("SKU-A", 4), ReceiptIn("SKU-B", 4)])
    shipment.refresh_from_db()
    assert shipment.status == "received"
    assert on_hand(product, dc) == 13 and on_hand(product_b, dc) == 4
    assert not InboundLine.objects.filter(is_open=True).exists()
    moves = InventoryMovement.objects.filter(reference="inbound:PO-1", reason="receive")
    assert sorted(moves.values_list("delta_on_hand", flat=True)) == [4, 4, 6]
    assert_ledger_matches_levels()


def test_over_receipt_needs_a_reason_and_under_closes_short_with_one(product, product_b, dc):
    shipment = inbound_create(data=po())
    with pytest.raises(ValidationError) as exc:
        inbound_receive(shipment_id=shipment.pk, receipts=[ReceiptIn("SKU-A", 11)])
    assert "SKU SKU-A: 11 received but only 10 open" in str(exc.value)
    assert on_hand(product, dc) == 0 and not InboundReceipt.objects.exists()
    inbound_receive(shipment_id=shipment.pk, receipts=[ReceiptIn("SKU-A", 11, reason="supplier sent one extra")])
    assert on_hand(product, dc) == 11
    assert InboundReceipt.objects.get().reason == "supplier sent one extra"
    inbound_receive(shipment_id=shipment.pk, receipts=[ReceiptIn("SKU-B", 1)])
    with pytest.raises(ValidationError):
        inbound_line_close(shipment_id=shipment.pk, sku="SKU-B", reason=" ")
    inbound_line_close(shipment_id=shipment.pk, sku="SKU-B", reason="discontinued by supplier")
    line = InboundLine.objects.get(product=product_b)
    assert (line.quantity_received, line.quantity_closed, line.is_open, line.quantity_open) == (1, 3, False, 0)
    shipment.refresh_from_db()
    assert shipment.status == "received"
    assert_ledger_matches_levels()


def test_a_bad_receipt_writes_nothing_and_names_every_problem(product, product_b, dc):
    shipment = inbound_create(data=po())
    with pytest.raises(ValidationError) as exc:
        inbound_receive(
            shipment_id=shipment.pk,
            receipts=[ReceiptIn("SKU-A", 2), ReceiptIn("SKU-NOPE", 1), ReceiptIn("SKU-B", -3), ReceiptIn("SKU-B", 0)],
        )
    text = str(exc.value)
    assert "'SKU-NOPE' is not on this shipment" in text
    assert "received quantity must be 1" in text and "appears twice" in text
    assert on_hand(product, dc) == 0 and not InboundReceipt.objects.exists()
    assert not InventoryMovement.objects.exists()


def test_create_refuses_bad_input_whole(product, dc, store):
    with pytest.raises(ValidationError) as exc:
        inbound_create(
            data=po(
                location="NOWHERE",
                lines=[
                    InboundLineIn("SKU-A", 0, days(1)),
                    InboundLineIn("SKU-ZZ", 3, days(1)),
                    InboundLineIn("SKU-A", 2, days(-1)),
                ],
                kind="fax",
            )
        )
    errors = exc.value.message_dict
    assert errors["location"] == ["Unknown location 'NOWHERE'."]
    assert errors["kind"]
    assert "Line 1 (SKU-A): quantity must be 1" in errors["lines"][0]
    assert "Line 2: unknown SKU 'SKU-ZZ'." in errors["lines"]
    assert any("Line 3" in e and "in the past" in e for e in errors["lines"])
    assert any("Line 3" in e and "twice" in e for e in errors["lines"])
    assert not InboundShipment.objects.exists() and not InboundLine.objects.exists()
    inbound_create(data=po(lines=[InboundLineIn("SKU-A", 1, days(0))]))
    with pytest.raises(ValidationError) as exc:
        inbound_create(data=po(lines=[InboundLineIn("SKU-A", 1, days(0))]))
    assert exc.value.message_dict["number"] == ["Inbound shipment PO-1 already exists."]


def test_a_delay_keeps_the_old_date_as_history(product, product_b, dc):
    shipment = inbound_create(data=po())
    inbound_line_redate(shipment_id=shipment.pk, sku="SKU-A", new_date=days(12), reason="vessel late")
    inbound_line_redate(shipment_id=shipment.pk, sku="SKU-A", new_date=days(15), reason="customs")
    line = InboundLine.objects.get(product=product)
    assert line.expected_date == days(15)
    assert list(InboundDateChange.objects.order_by("pk").values_list("old_date", "new_date", "reason")) == [
        (days(5), days(12), "vessel late"),
        (days(12), days(15), "customs"),
    ]
    with pytest.raises(ValidationError) as exc:
        inbound_line_redate(shipment_id=shipment.pk, sku="SKU-A", new_date=days(-2), reason="")
    assert set(exc.value.message_dict) == {"expected_date", "reason"}
    assert InboundDateChange.objects.count() == 2
