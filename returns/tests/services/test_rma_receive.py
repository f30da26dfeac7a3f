"""Receiving: restock through the ledger (sellable at once), other dispositions never sellable, partial returns,
order status and returned quantities, refunds, and store scope."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from common import roles
from conftest import make_user
from inventory.models import InventoryMovement, StockLevel
from inventory.selectors import ats_for_products, stock_ledger_mismatches
from orders.models import OrderEvent
from returns.services import (
    ReceiveLineIn,
    ReturnLineIn,
    rma_create,
    rma_mark_in_transit,
    rma_receive,
    rma_refund_issue,
    rma_reject,
)


def _line(rma, sku):
    return rma.lines.get(sku=sku)


def _receive(rma, sku, qty, condition="new", disposition="restock", actor=None):
    return rma_receive(
        rma=rma,
        lines=[ReceiveLineIn(_line(rma, sku).pk, qty, condition, disposition)],
        actor=actor,
    )


def test_restock_writes_a_return_movement_and_is_sellable_at_once(delivered, product, store, store_user):
    rma = rma_create(order=delivered, lines=[ReturnLineIn(sku="SKU-A", quantity=2)]).rma
    assert rma.return_location == store
    before = ats_for_products(product_ids=[product.pk])[product.pk].available
    rma = _receive(rma, "SKU-A", 2, actor=store_user)
    mv = InventoryMovement.objects.get(reason="return")
    assert (mv.product_id, mv.location_id, mv.delta_on_hand, mv.delta_reserved) == (product.pk, store.pk, 2, 0)
    assert mv.reference == f"rma:{rma.number}" and mv.actor == store_user
    assert StockLevel.objects.get(product=product, location=store).on_hand == 2
    assert ats_for_products(product_ids=[product.pk])[product.pk].available == before + 2
    assert list(stock_ledger_mismatches()) == []
    assert rma.status == "inspected" and rma.received_by == store_user
    assert rma.refund_amount == 20 and rma.refund_status == "pending"


def test_other_dispositions_never_become_sellable(delivered, product, product_b, store):
    rma = rma_create(
        order=delivered, lines=[ReturnLineIn(sku="SKU-A", quantity=3), ReturnLineIn(sku="SKU-B", quantity=1)]
    ).rma
    rma_receive(
        rma=rma,
        lines=[
            ReceiveLineIn(_line(rma, "SKU-A").pk, 1, "damaged", "write_off"),
            ReceiveLineIn(_line(rma, "SKU-B").pk, 1, "defective", "return_to_vendor"),
        ],
    )
    assert not InventoryMovement.objects.filter(reason="return").exists()
    assert not StockLevel.objects.filter(location=store).exists()
    a, b = _line(rma, "SKU-A"), _line(rma, "SKU-B")
    assert (a.quantity_received, a.condition, a.disposition) == (1, "damaged", "write_off")
    assert (b.quantity_received, b.disposition) == (1, "return_to_vendor")
    inspected = OrderEvent.objects.get(order=delivered, type="return_inspected")
    assert "SKU-A × 1 damaged → write off" in inspected.message
    assert "not received: SKU-A × 2" in OrderEvent.objects.get(order=delivered, type="return_received").message


def test_damaged_units_cannot_be_restocked_and_nothing_is_written(delivered):
    rma = rma_create(order=delivered, lines=[ReturnLineIn(sku="SKU-A", quantity=1)]).rma
    with pytest.raises(ValidationError) as exc:
        _receive(rma, "SKU-A", 1, condition="damaged", disposition="restock")
    assert "SKU SKU-A: damaged units cannot be restocked as sellable" in " ".join(exc.value.messages)
    rma.refresh_from_db()
    assert rma.status == "approved" and not InventoryMovement.objects.filter(reason="return").exists()
    with pytest.raises(ValidationError, match="SKU SKU-A: received quantity must be 0 to 1, not 2"):
        _receive(rma, "SKU-A", 2)
    with pytest.raises(ValidationError, match="SKU SKU-A: record the condition"):
        _receive(rma, "SKU-A", 1, condition="")


def test_partial_returns_move_the_order_to_partially_returned_then_returned(delivered):
    first = rma_create(order=delivered, lines=[ReturnLineIn(sku="SKU-A", quantity=1)]).rma
    _receive(first, "SKU-A", 1)
    delivered.refresh_from_db()
    assert delivered.status == "partially_returned"
    assert [ln.quantity_returned for ln in delivered.lines.all()] == [1, 0]
    rest = rma_create(
        order=delivered, lines=[ReturnLineIn(sku="SKU-A", quantity=2), ReturnLineIn(sku="SKU-B", quantity=1)]
    ).rma
    rma_receive(
        rma=rest,
        lines=[
            ReceiveLineIn(_line(rest, "SKU-A").pk, 2, "opened", "restock"),
            ReceiveLineIn(_line(rest, "SKU-B").pk, 1, "opened", "refurbish"),
        ],
    )
    delivered.refresh_from_db()
    assert delivered.status == "returned"
    assert [ln.quantity_returned for ln in delivered.lines.all()] == [3, 1]
    rest.refresh_from_db()
    assert rest.refund_amount == 30
    # Nothing is left to return.
    with pytest.raises(ValidationError, match="is returned; only shipped or delivered orders"):
        rma_create(order=delivered, lines=[ReturnLineIn(sku="SKU-A", quantity=1)])


def test_units_not_received_can_be_returned_later(delivered):
    rma = rma_create(order=delivered, lines=[ReturnLineIn(sku="SKU-A", quantity=2)]).rma
    rma = _receive(rma, "SKU-A", 1)
    assert rma.refund_amount == 10
    again = rma_create(order=delivered, lines=[ReturnLineIn(sku="SKU-A", quantity=2)]).rma
    assert again.number.endswith("-2")


def test_receiving_twice_is_refused(delivered):
    rma = rma_create(order=delivered, lines=[ReturnLineIn(sku="SKU-A", quantity=1)]).rma
    _receive(rma, "SKU-A", 1)
    with pytest.raises(ValidationError, match="is inspected; it cannot be received again"):
        _receive(rma, "SKU-A", 1)
    assert InventoryMovement.objects.filter(reason="return").count() == 1


def test_refund_issued_closes_the_return(delivered, ops_user):
    rma = rma_create(order=delivered, lines=[ReturnLineIn(sku="SKU-B", quantity=1)]).rma
    with pytest.raises(ValidationError, match="refunds are issued once the units are received"):
        rma_refund_issue(rma=rma, actor=ops_user)
    _receive(rma, "SKU-B", 1)
    rma = rma_refund_issue(rma=rma, reference="PAY-1", actor=ops_user)
    assert (rma.status, rma.refund_status, rma.refund_reference) == ("closed", "issued", "PAY-1")
    assert rma_refund_issue(rma=rma, actor=ops_user).refund_issued_at == rma.refund_issued_at  # repeat: no-op
    ev = OrderEvent.objects.filter(order=delivered, type="refund_issued")
    assert ev.count() == 1 and "Refund of 10.00 USD issued" in ev.get().message


def test_mail_in_transit_then_received(delivered):
    rma = rma_create(order=delivered, lines=[ReturnLineIn(sku="SKU-A", quantity=1)]).rma
    rma = rma_mark_in_transit(rma=rma, tracking_number="1ZRET")
    rma = rma_mark_in_transit(rma=rma, tracking_number="1ZRET")
    assert rma.status == "in_transit"
    assert OrderEvent.objects.filter(order=delivered, type="return_in_transit").count() == 1
    assert _receive(rma, "SKU-A", 1).status == "inspected"


def test_reject_frees_the_units(delivered):
    rma = rma_create(order=delivered, lines=[ReturnLineIn(sku="SKU-A", quantity=3)]).rma
    with pytest.raises(ValidationError, match="Say why"):
        rma_reject(rma=rma, reason=" ")
    rma = rma_reject(rma=rma, reason="outside policy")
    assert (rma.status, rma.refund_status, rma.refund_amount) == ("rejected", "none", 0)
    assert rma_create(order=delivered, lines=[ReturnLineIn(sku="SKU-A", quantity=3)]).created


def test_store_staff_receive_only_their_stores_returns(delivered, store, store_b, store_user):
    clerk_b = make_user("clerk-b", roles.STORE_STAFF, stores=[store_b])
    rma = rma_create(order=delivered, lines=[ReturnLineIn(sku="SKU-A", quantity=1)]).rma
    assert rma.return_location == store
    with pytest.raises(PermissionDenied, match="This return is handled at STORE-0001, not at your store"):
        _receive(rma, "SKU-A", 1, actor=clerk_b)
    assert not InventoryMovement.objects.filter(reason="return").exists()
    assert _receive(rma, "SKU-A", 1, actor=store_user).status == "inspected"


def test_store_staff_create_in_store_returns_only_at_their_store(delivered, store, store_b, store_user):
    with pytest.raises(PermissionDenied, match="handled at STORE-0002"):
        rma_create(
            order=delivered,
            lines=[ReturnLineIn(sku="SKU-A", quantity=1)],
            method="in_store",
            store=store_b,
            actor=store_user,
        )
    rma = rma_create(
        order=delivered,
        lines=[ReturnLineIn(sku="SKU-A", quantity=1)],
        method="in_store",
        store=store,
        actor=store_user,
    ).rma
    assert rma.return_location == store


def test_api_client_only_for_its_channel(delivered, marketplace):
    from orders.models import ApiClient

    other = make_user("mkt-api", roles.API_CLIENT)
    ApiClient.objects.create(user=other, channel=marketplace)
    with pytest.raises(PermissionDenied, match="not an order of this API client's channel"):
        rma_create(order=delivered, lines=[ReturnLineIn(sku="SKU-A", quantity=1)], actor=other)


def test_refunds_only_by_operations(delivered, store_user):
    rma = rma_create(order=delivered, lines=[ReturnLineIn(sku="SKU-A", quantity=1)]).rma
    _receive(rma, "SKU-A", 1)
    with pytest.raises(PermissionDenied):
        rma_refund_issue(rma=rma, actor=store_user)
