"""Batch re-optimisation (routing.services.reopt): routed, unreleased orders re-solved together."""

from datetime import timedelta

import pytest

from fulfillment.models import FulfillmentOrder
from orders.models import OrderEvent
from routing.models import RoutingDecision
from routing.services import orders_reoptimise, orders_route_pending
from routing.tests.helpers import MONDAY_9AM, make_order, stock

pytestmark = pytest.mark.django_db

NOW = MONDAY_9AM + timedelta(minutes=5)


@pytest.fixture
def myopic(web, dc, dc_west, product, product_b):
    """Edison holds one Widget and one Gadget, Ontario five Widgets. The first order (a Widget to New York)
    takes Edison's Widget; the second (Widget + Gadget to New York) must then split: Widget from Ontario,
    Gadget from Edison. Three shipments where two would do."""
    stock(product, dc, 1)
    stock(product_b, dc, 1)
    stock(product, dc_west, 5)
    first = make_order(channel=web, lines=[(product, 1)], placed_at=MONDAY_9AM)
    second = make_order(channel=web, lines=[(product, 1), (product_b, 1)], placed_at=MONDAY_9AM + timedelta(seconds=1))
    orders_route_pending(now=MONDAY_9AM)
    assert FulfillmentOrder.objects.filter(order=first, location=dc).count() == 1
    assert FulfillmentOrder.objects.filter(order=second).count() == 2
    return first, second


def _open(order):
    return list(
        FulfillmentOrder.objects.filter(order=order)
        .exclude(status=FulfillmentOrder.Status.CANCELLED)
        .values_list("location__code", flat=True)
    )


def test_two_orders_routed_into_three_shipments_are_re_solved_into_two(myopic, dc, dc_west):
    first, second = myopic

    result = orders_reoptimise(now=NOW, margin=0.0)

    assert result.orders == 2 and result.replanned == 2
    assert (result.shipments_before, result.shipments_after) == (3, 2)
    assert result.saved > 0
    assert _open(first) == [dc_west.code]
    assert sorted(_open(second)) == [dc.code]
    # The withdrawn work is cancelled (its stock back to sale), the new one holds the stock.
    assert FulfillmentOrder.objects.filter(order=second, status=FulfillmentOrder.Status.CANCELLED).count() == 2
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == second.status == "routed"
    assert [ln.quantity_allocated for ln in second.lines.order_by("line_number")] == [1, 1]


def test_the_explanation_and_the_timeline_say_what_changed(myopic, dc):
    _, second = myopic

    orders_reoptimise(now=NOW, margin=0.0)

    decision = RoutingDecision.objects.filter(order=second).order_by("-id").first()
    assert decision.kind == RoutingDecision.Kind.REROUTE
    assert "re-optimised" in decision.reason and "2 → 1 shipment" in decision.reason
    assert [s["location_id"] for s in decision.plan] == [dc.pk]
    event = OrderEvent.objects.filter(order=second, type="rerouted").order_by("-id").first()
    assert event is not None and "re-optimised with 1 other" in event.message and "DC-EAST" in event.message


def test_a_released_order_is_never_touched(myopic, dc):
    from fulfillment.services import fulfillment_order_release_now

    first, second = myopic
    fo = FulfillmentOrder.objects.get(order=first)
    fulfillment_order_release_now(fo_id=fo.pk, now=NOW)

    result = orders_reoptimise(now=NOW, margin=0.0)

    assert result.replanned == 0
    assert _open(first) == [dc.code]
    assert len(_open(second)) == 2
    assert not RoutingDecision.objects.filter(kind=RoutingDecision.Kind.REROUTE).exists()


def test_the_margin_is_honoured(myopic):
    first, second = myopic
    before = sorted(_open(first) + _open(second))

    kept = orders_reoptimise(now=NOW, margin=1000.0)  # no swap saves $1,000 per order

    assert kept.replanned == 0 and "margin" in kept.note
    assert sorted(_open(first) + _open(second)) == before
    swapped = orders_reoptimise(now=NOW, margin=1.0)
    assert swapped.replanned == 2


def test_orders_outside_the_window_are_left_alone(myopic):
    from django.utils import timezone

    result = orders_reoptimise(now=timezone.now() + timedelta(hours=3), window_minutes=60, margin=0.0)
    assert result.orders == 0 and result.replanned == 0


def test_bad_parameters_are_refused():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        orders_reoptimise(now=NOW, margin=-1.0)


@pytest.mark.cluster
@pytest.mark.django_db(transaction=True)
def test_the_reoptimise_task_runs_on_a_real_cluster(qcluster, myopic, dc, dc_west):
    from django.db import transaction
    from django_q.tasks import async_task

    from conftest import wait_for

    first, second = myopic
    with transaction.atomic():
        transaction.on_commit(lambda: async_task("routing.tasks.reoptimise_window"))
    wait_for(
        lambda: _open(first) == [dc_west.code] and _open(second) == [dc.code],
        timeout=90,
        what="the window to be re-optimised",
    )
    assert RoutingDecision.objects.filter(order=second, kind=RoutingDecision.Kind.REROUTE).count() == 1


def test_the_task_is_scheduled():
    from routing.schedules import SCHEDULES

    assert any(path == "routing.tasks.reoptimise_window" for _, path, _ in SCHEDULES)
