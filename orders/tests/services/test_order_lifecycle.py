"""Lifecycle, holds, cancellation (releasing stock) and the routing hand-off."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from inventory.models import RefType, Reservation, StockLevel
from inventory.services import ReserveLine, stock_reserve
from inventory.tests.helpers import assert_ledger_matches_levels, put_stock
from orders.inputs import LineIn
from orders.models import Customer, Order, OrderHold
from orders.services import (
    ALLOWED_TRANSITIONS,
    order_cancel,
    order_hold_place,
    order_hold_release,
    order_priorities_refresh,
    order_routing_enqueue,
    order_status_set,
)
from orders.signals import order_cancelled
from orders.tests.services.test_order_checks import make_in

pytestmark = pytest.mark.django_db


def ingest(channel, **kw) -> Order:
    from orders.services import order_ingest

    return order_ingest(channel=channel, order_in=make_in(**kw)).order


def reserve_for(order: Order, location, qty: int = 1) -> Reservation:
    """What routing does: one reservation per fulfilment order, referenced to the order and its lines."""
    line = order.lines.get()
    return stock_reserve(
        lines=[ReserveLine(line.product_id, qty, location.pk, f"order_line:{line.pk}", RefType.ORDER_LINE, line.pk)],
        channel=order.channel,
        reference=f"order:{order.pk}",
        ref_type=RefType.ORDER,
        ref_id=order.pk,
    )


def test_allowed_moves_pass_and_each_writes_an_event(web, catalogue, ops_user):
    order = ingest(web)
    for status in ["routed", "partially_shipped", "shipped", "delivered", "partially_returned", "returned", "closed"]:
        order_status_set(order=order, status=status, actor=ops_user)
    order.refresh_from_db()
    assert order.status == "closed"
    moves = list(order.events.filter(type="status_changed").values_list("data__from", "data__to"))
    assert moves[-1] == ("returned", "closed") and len(moves) == 8


@pytest.mark.parametrize("frm, to", [("validated", "shipped"), ("validated", "delivered"), ("created", "routed")])
def test_forbidden_moves_are_refused_and_nothing_changes(web, catalogue, frm, to):
    order = ingest(web)
    Order.objects.filter(pk=order.pk).update(status=frm)
    with pytest.raises(ValidationError, match="cannot go from"):
        order_status_set(order=order, status=to)
    order.refresh_from_db()
    assert order.status == frm


def test_terminal_states_have_no_way_out():
    assert ALLOWED_TRANSITIONS["cancelled"] == frozenset() and ALLOWED_TRANSITIONS["closed"] == frozenset()


def test_setting_the_same_status_writes_nothing(web, catalogue):
    order = ingest(web)
    before = order.events.count()
    order_status_set(order=order, status="validated")
    assert order.events.count() == before


def test_cannot_leave_a_hold_by_status_while_holds_are_active(web):
    order = ingest(web)  # unknown SKU → held
    with pytest.raises(ValidationError, match="active holds"):
        order_status_set(order=order, status="validated")


def test_release_of_the_last_hold_validates_the_order(web, catalogue, ops_user):
    order = ingest(web, payment_status="pending", shipping_address={})
    holds = list(order.holds.order_by("kind"))
    assert [h.kind for h in holds] == ["address", "payment"]
    order_hold_release(hold=holds[0], actor=ops_user, note="Phoned the customer, address fixed")
    order.refresh_from_db()
    assert order.status == "on_hold"
    order_hold_release(hold=holds[1], actor=ops_user)
    order.refresh_from_db()
    assert order.status == "validated"
    released = OrderHold.objects.get(pk=holds[0].pk)
    assert released.released_by == ops_user and released.resolution == "released"
    events = list(order.events.values_list("type", "actor__username"))
    assert ("hold_released", "ops") in events and events[-1] == ("status_changed", "ops")
    # Releasing again changes nothing.
    n = order.events.count()
    order_hold_release(hold=holds[1], actor=ops_user)
    assert order.events.count() == n


def test_unknown_item_hold_releases_only_once_the_sku_exists(web, ops_user):
    from inventory.models import Product

    order = ingest(web)
    hold = order.holds.get()
    with pytest.raises(ValidationError, match="SKU 'SKU-A' still unknown"):
        order_hold_release(hold=hold, actor=ops_user)
    assert OrderHold.objects.get(pk=hold.pk).released_at is None
    product = Product.objects.create(sku="SKU-A", name="Widget")
    order_hold_release(hold=hold, actor=ops_user)
    order.refresh_from_db()
    assert order.status == "validated" and order.lines.get().product == product


def test_manual_hold(web, catalogue, ops_user):
    order = ingest(web)
    order_hold_place(order=order, kind="manual", reason="Customer asked to wait", actor=ops_user)
    order.refresh_from_db()
    assert order.status == "on_hold"
    Order.objects.filter(pk=order.pk).update(status="shipped")
    with pytest.raises(ValidationError, match="cannot be held"):
        order_hold_place(order=order, kind="manual", reason="late", actor=ops_user)


def test_cancel_releases_the_orders_reservations_and_cancels_lines(web, catalogue, dc, ops_user):
    put_stock(catalogue[0], dc, 5)
    order = ingest(web)
    res = reserve_for(order, dc)
    other = stock_reserve(lines=[ReserveLine(catalogue[0].pk, 1)], reference="cart-xyz")
    order_status_set(order=order, status="routed")
    assert StockLevel.objects.get(product=catalogue[0], location=dc).reserved == 2
    received = []

    def receiver(sender, order, actor, **kw):
        received.append((order.pk, actor))

    order_cancelled.connect(receiver, weak=False)
    try:
        order_cancel(order=order, actor=ops_user, reason="Customer changed their mind")
    finally:
        order_cancelled.disconnect(receiver)  # only this test's: fulfilment's own receiver stays connected
    order.refresh_from_db()
    assert order.status == "cancelled" and order.cancel_reason == "Customer changed their mind"
    assert Reservation.objects.get(pk=res.pk).status == "released"
    assert Reservation.objects.get(pk=other.pk).status == "active"  # not this order's
    assert StockLevel.objects.get(product=catalogue[0], location=dc).reserved == 1
    line = order.lines.get()
    assert line.quantity_cancelled == 1 and line.quantity_open == 0
    assert received == [(order.pk, ops_user)]
    event = order.events.get(type="cancelled")
    assert event.actor == ops_user and event.data["released_reservations"] == [res.pk]
    assert_ledger_matches_levels()


def test_cancel_closes_holds_and_is_idempotent(web, ops_user):
    order = ingest(web)
    order_cancel(order=order, actor=ops_user, reason="Fraud confirmed")
    order_cancel(order=order, actor=ops_user, reason="again")
    hold = order.holds.get()
    assert hold.resolution == "cancelled" and hold.released_at is not None
    assert order.events.filter(type="cancelled").count() == 1


def test_partly_shipped_order_cancels_the_remainder_and_ends_shipped(web, catalogue, ops_user):
    order = ingest(web, lines=[LineIn(sku="SKU-A", quantity=3, unit_price=Decimal(1))])
    order_status_set(order=order, status="routed")
    order.lines.update(quantity_shipped=1, quantity_allocated=3)
    order_status_set(order=order, status="partially_shipped")
    order_cancel(order=order, actor=ops_user, reason="Rest out of stock")
    order.refresh_from_db()
    line = order.lines.get()
    assert order.status == "shipped" and line.quantity_cancelled == 2 and line.quantity_allocated == 1


def test_shipped_orders_cannot_be_cancelled(web, catalogue, ops_user):
    order = ingest(web)
    Order.objects.filter(pk=order.pk).update(status="shipped")
    with pytest.raises(ValidationError, match="nothing is left to cancel"):
        order_cancel(order=order, actor=ops_user, reason="too late")


def test_cancel_needs_a_reason(web, catalogue, ops_user):
    with pytest.raises(ValidationError):
        order_cancel(order=ingest(web), actor=ops_user, reason=" ")


def test_cancel_api(api, catalogue, dc, web):
    put_stock(catalogue[0], dc, 2)
    order = ingest(web)
    reserve_for(order, dc)
    resp = api.post(f"/api/v1/orders/{order.pk}/cancel", {"reason": "customer request"}, format="json")
    assert resp.status_code == 200 and resp.json()["status"] == "cancelled"
    assert resp.json()["lines"][0]["quantity_cancelled"] == 1
    assert StockLevel.objects.get(product=catalogue[0], location=dc).reserved == 0
    Order.objects.filter(pk=order.pk).update(status="shipped")
    assert api.post(f"/api/v1/orders/{order.pk}/cancel", {"reason": "x"}, format="json").status_code == 409
    assert api.post(f"/api/v1/orders/{order.pk}/cancel", {}, format="json").status_code == 400


def test_hold_release_api_is_for_operations(api, ops_api, web, catalogue):
    order = ingest(web, payment_status="pending")
    hold = order.holds.get()
    url = f"/api/v1/orders/{order.pk}/holds/{hold.pk}/release"
    assert api.post(url, {}, format="json").status_code == 403
    resp = ops_api.post(url, {"note": "paid by wire"}, format="json")
    assert resp.status_code == 200 and resp.json()["status"] == "validated"


# --- Routing hand-off ------------------------------------------------------------------------------------
ROUTED: list[int] = []


def record_route(order_id: int) -> None:
    """Stands in for routing.tasks.route_order in these tests: a real task the queue runs."""
    ROUTED.append(order_id)


def test_validation_enqueues_routing_after_commit(settings, web, catalogue, django_capture_on_commit_callbacks):
    settings.DOM = {**settings.DOM, "ROUTE_ORDER_TASK": "orders.tests.services.test_order_lifecycle.record_route"}
    ROUTED.clear()
    with django_capture_on_commit_callbacks(execute=True):
        order = ingest(web)
        held = ingest(web, external_id="H-1", payment_status="pending")
    assert [order.pk] == ROUTED
    with django_capture_on_commit_callbacks(execute=True):
        order_hold_release(hold=held.holds.get(), actor=None)
    assert [order.pk, held.pk] == ROUTED


def test_without_a_routing_task_orders_wait_as_validated(settings, web, catalogue, django_capture_on_commit_callbacks):
    settings.DOM = {**settings.DOM, "ROUTE_ORDER_TASK": "routing.tasks.no_such_task_module_yet"}
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        order = ingest(web)
    assert callbacks == [] and order.status == "validated"
    assert order_routing_enqueue(order_id=order.pk) is False


def test_priority_refresh_raises_waiting_orders_as_ship_by_nears(web, catalogue):
    order = ingest(web, placed_at=datetime.now(UTC))
    Customer.objects.update(loyalty_tier="platinum")
    before = Order.objects.get(pk=order.pk).priority
    assert order_priorities_refresh(now=datetime.now(UTC) + timedelta(hours=10)) == 1
    after = Order.objects.get(pk=order.pk).priority
    assert after > before
    assert order_priorities_refresh(now=datetime.now(UTC) + timedelta(hours=10)) == 0  # idempotent
