from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from inventory.models import InventoryMovement, StockLevel, TransferOrder
from inventory.selectors import availability_by_sku
from inventory.services import ReserveLine, stock_reserve
from inventory.tests.helpers import assert_ledger_matches_levels, put_stock
from inventory.transfers import (
    TRANSIT_CODE,
    TransferLineIn,
    transfer_cancel,
    transfer_create,
    transfer_receive,
    transfer_ship,
    transfer_transit_mismatches,
)

pytestmark = pytest.mark.django_db


def on_hand(product, code) -> int:
    return (
        StockLevel.objects.filter(product=product, location__code=code).values_list("on_hand", flat=True).first() or 0
    )


def make(lines, source="DC-EAST", destination="STORE-0001", days=3) -> TransferOrder:
    return transfer_create(
        source_code=source,
        destination_code=destination,
        lines=lines,
        expected_date=timezone.localdate() + timedelta(days=days),
    )


def test_a_transfer_moves_units_through_transit_with_the_ledger_equal_after_every_step(product, product_b, dc, store):
    put_stock(product, dc, 10)
    put_stock(product_b, dc, 5)
    transfer = make([TransferLineIn("SKU-A", 6), TransferLineIn("SKU-B", 5)])
    assert transfer.number == f"TO-{transfer.pk:06d}" and transfer.status == "draft"
    assert on_hand(product, "DC-EAST") == 10
    transfer_ship(transfer_id=transfer.pk)
    assert (on_hand(product, "DC-EAST"), on_hand(product, TRANSIT_CODE), on_hand(product, "STORE-0001")) == (4, 6, 0)
    assert_ledger_matches_levels()
    assert transfer_transit_mismatches() == []
    # Units in transit are nobody's to sell.
    assert availability_by_sku(skus=["SKU-A"])[0].available == 4
    transfer_receive(transfer_id=transfer.pk, lines=[TransferLineIn("SKU-A", 2)])
    transfer.refresh_from_db()
    assert transfer.status == "partial"
    assert (on_hand(product, TRANSIT_CODE), on_hand(product, "STORE-0001")) == (4, 2)
    assert_ledger_matches_levels()
    assert transfer_transit_mismatches() == []
    transfer_receive(transfer_id=transfer.pk)
    transfer.refresh_from_db()
    assert transfer.status == "received" and transfer.received_at
    assert (on_hand(product, TRANSIT_CODE), on_hand(product, "STORE-0001"), on_hand(product_b, "STORE-0001")) == (
        0,
        6,
        5,
    )
    assert_ledger_matches_levels()
    assert transfer_transit_mismatches() == []
    reasons = InventoryMovement.objects.filter(reference=f"transfer:{transfer.number}").values_list("reason", flat=True)
    assert sorted(set(reasons)) == ["transfer_in", "transfer_out"]


def test_shipping_never_takes_reserved_units_or_goes_negative(product, product_b, dc, store):
    put_stock(product, dc, 5)
    put_stock(product_b, dc, 1)
    stock_reserve(lines=[ReserveLine(product.pk, 3, dc.pk)])
    transfer = make([TransferLineIn("SKU-A", 3)])
    with pytest.raises(ValidationError) as exc:
        transfer_ship(transfer_id=transfer.pk)
    assert "SKU SKU-A: DC-EAST would keep 2 on hand for 3 reserved." in str(exc.value)
    other = make([TransferLineIn("SKU-B", 2)])
    with pytest.raises(ValidationError) as exc:
        transfer_ship(transfer_id=other.pk)
    assert "SKU SKU-B at DC-EAST: on hand would become -1." in str(exc.value)
    assert on_hand(product, "DC-EAST") == 5 and on_hand(product, TRANSIT_CODE) == 0
    transfer.refresh_from_db()
    assert transfer.status == "draft"
    assert_ledger_matches_levels()


def test_bad_transfers_are_refused_whole(product, dc, store):
    put_stock(product, dc, 5)
    with pytest.raises(ValidationError) as exc:
        make([TransferLineIn("SKU-A", -1), TransferLineIn("SKU-Q", 1)], destination="DC-EAST", days=-1)
    errors = exc.value.message_dict
    assert errors["destination"] == ["The destination must differ from the source."]
    assert errors["expected_date"] and len(errors["lines"]) == 2
    with pytest.raises(ValidationError) as exc:
        make([TransferLineIn("SKU-A", 1)], destination=TRANSIT_CODE)
    assert "destination" in exc.value.message_dict
    assert not TransferOrder.objects.exists()
    transfer = make([TransferLineIn("SKU-A", 2)])
    with pytest.raises(ValidationError):
        transfer_receive(transfer_id=transfer.pk)  # not shipped yet
    transfer_ship(transfer_id=transfer.pk)
    with pytest.raises(ValidationError) as exc:
        transfer_receive(transfer_id=transfer.pk, lines=[TransferLineIn("SKU-A", 3)])
    assert "SKU SKU-A: received 3, in transit 2." in str(exc.value)
    with pytest.raises(ValidationError):
        transfer_cancel(transfer_id=transfer.pk)
    assert on_hand(product, "STORE-0001") == 0
    assert_ledger_matches_levels()


def test_routing_never_plans_from_units_in_transit(web, product, dc, store):
    from routing.services import order_route
    from routing.tests.helpers import make_order

    put_stock(product, dc, 3)
    transfer = make([TransferLineIn("SKU-A", 3)])
    transfer_ship(transfer_id=transfer.pk)
    assert on_hand(product, TRANSIT_CODE) == 3
    order = make_order(channel=web, lines=[(product, 1)])
    order_route(order_id=order.pk)
    order.refresh_from_db()
    assert order.status == "backordered"
    assert not order.fulfillment_orders.exists()
    transfer_receive(transfer_id=transfer.pk)
    order2 = make_order(channel=web, lines=[(product, 1)])
    order_route(order_id=order2.pk)
    assert order2.fulfillment_orders.get().location == store
    assert_ledger_matches_levels()
