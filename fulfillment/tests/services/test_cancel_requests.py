"""Cancelling units a location already has: the location is asked (store prompt, or a `cancel_request` outbox
message to a warehouse or 3PL) and the cancellation completes only when it confirms (real routing, real stock)."""

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from common import roles
from conftest import make_user
from fulfillment.models import CancelRequest, FulfillmentOrder, OutboxMessage
from fulfillment.services import (
    fulfillment_cancel_request_confirm,
    fulfillment_cancel_request_refuse,
    fulfillment_event_apply,
    fulfillment_line_pick,
    fulfillment_order_release_now,
)
from inventory.models import Location, StockLevel
from inventory.selectors import stock_ledger_mismatches
from orders.models import Order, OrderEvent
from orders.services import OrderChangeConflict, order_units_cancel
from routing.services import order_route
from routing.tests.helpers import MONDAY_9AM, make_order, stock
from webhooks.models import Event

pytestmark = pytest.mark.django_db


def _priced(order: Order, price: str) -> Order:
    order.lines.update(unit_price=Decimal(price))
    subtotal = sum(Decimal(price) * ln.quantity for ln in order.lines.all())
    Order.objects.filter(pk=order.pk).update(subtotal=subtotal, shipping_total=10, tax_total=0, total=subtotal + 10)
    order.refresh_from_db()
    return order


@pytest.fixture
def released(web, dc, product):
    """An order of 3 × SKU-A routed to DC-EAST and released to it."""
    stock(product, dc, 5)
    order = _priced(make_order(channel=web, lines=[(product, 3)]), "20.00")
    order_route(order_id=order.pk, now=MONDAY_9AM)
    fo = FulfillmentOrder.objects.get(order=order)
    fulfillment_order_release_now(fo_id=fo.pk)
    order.refresh_from_db()
    return order, fo


@pytest.fixture
def at_store(web, store, product, store_user):
    """An order of 3 × SKU-A at STORE-0001, where the clerk has picked one unit (the store has the work)."""
    stock(product, store, 5)
    order = _priced(make_order(channel=web, lines=[(product, 3)]), "20.00")
    order_route(order_id=order.pk, now=MONDAY_9AM)
    fo = FulfillmentOrder.objects.get(order=order)
    assert fo.location == store
    fulfillment_line_pick(line_id=fo.lines.get().pk, actor=store_user)
    fo.refresh_from_db()
    assert fo.status == "picking"
    order.refresh_from_db()
    return order, fo


def reserved(product, location) -> int:
    return StockLevel.objects.get(product=product, location=location).reserved


def events(order: Order, type: str) -> list[str]:
    return list(OrderEvent.objects.filter(order=order, type=type).order_by("pk").values_list("message", flat=True))


def test_cancel_on_released_work_asks_the_3pl_and_touches_nothing(released, ops_user, dc, product):
    order, fo = released
    result = order_units_cancel(order=order, lines={1: 1}, reason="Customer wants two", actor=ops_user)
    (req,) = result.requests
    assert req.status == "requested" and req.units == {str(order.lines.get().pk): 1}
    msg = OutboxMessage.objects.get(kind="cancel_request")
    assert msg.location == dc and msg.payload["lines"] == [{"sku": "SKU-A", "quantity": 1}]
    assert msg.payload["cancel_request"] == req.pk
    order.refresh_from_db()
    ln = order.lines.get()
    assert ln.quantity_cancelled == 0 and ln.quantity_allocated == 3 and order.total == Decimal("70.00")
    assert reserved(product, dc) == 3 and fo.lines.get().quantity == 3
    (said,) = events(order, "cancellation_requested")
    assert "asked DC-EAST to cancel 1 × SKU-A (line 1)" in said and "completes when the location confirms" in said
    # The same units are not asked twice.
    with pytest.raises(OrderChangeConflict, match="already asked"):
        order_units_cancel(order=order, lines={1: 3}, reason="all of them", actor=ops_user)


def test_3pl_confirms_and_the_cancellation_completes(released, ops_user, dc, product):
    order, fo = released
    req = order_units_cancel(order=order, lines={1: 1}, reason="Customer wants two", actor=ops_user).requests[0]
    fo_after, dup = fulfillment_event_apply(fo_id=fo.pk, event_id="c-1", type="cancel_confirmed", payload={})
    assert not dup and fo_after.status == "released"
    req.refresh_from_db()
    assert req.status == "confirmed" and req.answered_at is not None
    order.refresh_from_db()
    ln = order.lines.get()
    assert (ln.quantity_cancelled, ln.quantity_allocated) == (1, 2)
    assert order.total == Decimal("50.00") and fo.lines.get().quantity == 2 and reserved(product, dc) == 2
    assert Event.objects.filter(type="order.cancelled").exists()
    assert "confirmed by DC-EAST" in events(order, "cancelled")[-1]
    # The same event again, and another confirmation of the answered request: nothing changes.
    assert fulfillment_event_apply(fo_id=fo.pk, event_id="c-1", type="cancel_confirmed", payload={})[1]
    fulfillment_cancel_request_confirm(request_id=req.pk, actor=None)
    fulfillment_cancel_request_refuse(request_id=req.pk, actor=None, note="late")
    req.refresh_from_db()
    assert req.status == "confirmed" and order.lines.get().quantity_cancelled == 1
    assert stock_ledger_mismatches() == []


def test_whole_order_cancel_on_released_work_completes_when_the_3pl_confirms(released, ops_user, dc, product):
    order, fo = released
    result = order_units_cancel(order=order, lines=None, reason="fraud", actor=ops_user)
    assert len(result.requests) == 1
    with pytest.raises(OrderChangeConflict, match="already asked"):
        order_units_cancel(order=order, lines=None, reason="fraud", actor=ops_user)
    fulfillment_event_apply(
        fo_id=fo.pk, event_id="c-1", type="cancel_confirmed", payload={"cancel_request": result.requests[0].pk}
    )
    order.refresh_from_db()
    fo.refresh_from_db()
    assert order.status == "cancelled" and fo.status == "cancelled" and order.total == Decimal("0.00")
    assert reserved(product, dc) == 0 and stock_ledger_mismatches() == []


def test_3pl_refuses_and_the_units_will_ship(released, ops_user, dc, product):
    order, fo = released
    req = order_units_cancel(order=order, lines={1: 1}, reason="x", actor=ops_user).requests[0]
    fulfillment_event_apply(
        fo_id=fo.pk, event_id="r-1", type="cancel_refused", payload={"reason": "Already on the truck."}
    )
    req.refresh_from_db()
    assert req.status == "refused" and req.answer_note == "Already on the truck."
    order.refresh_from_db()
    assert order.lines.get().quantity_cancelled == 0 and reserved(product, dc) == 3
    (said,) = events(order, "cancellation_refused")
    assert "DC-EAST could not cancel 1 × SKU-A (line 1)" in said and "The units will ship." in said
    with pytest.raises(ValidationError, match="no cancel request waiting"):
        fulfillment_event_apply(fo_id=fo.pk, event_id="r-2", type="cancel_refused", payload={})
    with pytest.raises(ValidationError, match="is not on FO"):
        fulfillment_event_apply(fo_id=fo.pk, event_id="r-3", type="cancel_confirmed", payload={"cancel_request": 999})


def test_a_request_on_work_that_then_ships_is_refused_cleanly(released, ops_user, dc, product):
    order, fo = released
    req = order_units_cancel(order=order, lines={1: 1}, reason="x", actor=ops_user).requests[0]
    fulfillment_event_apply(fo_id=fo.pk, event_id="p-1", type="picked", payload={})
    fulfillment_event_apply(
        fo_id=fo.pk, event_id="s-1", type="shipped", payload={"tracking_number": "1Z", "service": "ups_ground"}
    )
    fulfillment_cancel_request_confirm(request_id=req.pk, actor=None)
    req.refresh_from_db()
    assert req.status == "refused" and "already" in req.answer_note
    order.refresh_from_db()
    assert order.lines.get().quantity_cancelled == 0 and order.lines.get().quantity_shipped == 3
    assert stock_ledger_mismatches() == []


def test_store_associate_confirms_the_prompt(at_store, ops_user, store_user, store, product):
    order, fo = at_store
    req = order_units_cancel(order=order, lines={1: 1}, reason="Customer wants two", actor=ops_user).requests[0]
    assert not OutboxMessage.objects.filter(kind="cancel_request").exists()  # a store sees it on its screen
    assert reserved(product, store) == 3
    fulfillment_cancel_request_confirm(request_id=req.pk, actor=store_user)
    req.refresh_from_db()
    assert req.status == "confirmed" and req.answered_by == store_user
    order.refresh_from_db()
    assert order.lines.get().quantity_cancelled == 1 and fo.lines.get().quantity == 2
    assert reserved(product, store) == 2 and order.total == Decimal("50.00")
    assert "clerk cancelled 1 unit" in events(order, "cancelled")[-1]


def test_store_associate_answers_already_packed(at_store, ops_user, store_user):
    order, fo = at_store
    req = order_units_cancel(order=order, lines=None, reason="changed mind", actor=ops_user).requests[0]
    fulfillment_cancel_request_refuse(request_id=req.pk, actor=store_user, note="Already packed.")
    req.refresh_from_db()
    assert req.status == "refused" and req.answered_by == store_user
    order.refresh_from_db()
    assert order.status != "cancelled" and order.lines.get().quantity_cancelled == 0
    assert "STORE-0001 could not cancel 3 × SKU-A (line 1)" in events(order, "cancellation_refused")[0]


def test_store_staff_of_another_store_cannot_answer(at_store, ops_user, web):
    order, fo = at_store
    req = order_units_cancel(order=order, lines={1: 1}, reason="x", actor=ops_user).requests[0]
    other = Location.objects.create(code="STORE-0002", name="Other", kind="store", postal_code="10002")
    stranger = make_user("stranger", roles.STORE_STAFF, stores=[other])
    with pytest.raises(PermissionDenied):
        fulfillment_cancel_request_confirm(request_id=req.pk, actor=stranger)
    assert CancelRequest.objects.get(pk=req.pk).status == "requested"


def test_operations_sees_the_request_and_the_refusal_on_the_order_page(client, released, ops_user):
    from django.urls import reverse

    order, fo = released
    client.force_login(ops_user)
    r = client.post(reverse("orders:cancel", args=[order.pk]), {"reason": "customer called"}, follow=True)
    assert "asked DC-EAST to cancel 3 × SKU-A (line 1)" in r.content.decode()
    assert Order.objects.get(pk=order.pk).status != "cancelled"
    fulfillment_event_apply(fo_id=fo.pk, event_id="r-1", type="cancel_refused", payload={"reason": "On the truck."})
    page = client.get(reverse("orders:detail", args=[order.pk])).content.decode()
    assert "DC-EAST could not cancel 3 × SKU-A (line 1) on FO-" in page and "The units will ship." in page
