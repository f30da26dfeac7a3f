"""Pausing a store stops routing to it at once: the location's capacity goes to 0 through inventory's
service (so the cached network is rebuilt) and today's capacity row, already opened by earlier routing,
is closed at what it has taken."""

import pytest

from fulfillment.models import FulfillmentOrder
from fulfillment.services import store_pause_today, store_resume
from routing.models import LocationCapacity
from routing.services import order_route
from routing.tests.helpers import MONDAY_9AM, make_order, stock

pytestmark = pytest.mark.django_db


def _routed_to(order) -> list[str]:
    return list(FulfillmentOrder.objects.filter(order=order).values_list("location__code", flat=True))


def test_paused_store_gets_no_more_orders_today(web, store, dc_west, product):
    stock(product, store, 10)
    stock(product, dc_west, 10)
    first = make_order(channel=web, lines=[(product, 1)], postal_code="10001")
    order_route(order_id=first.pk, now=MONDAY_9AM)
    assert _routed_to(first) == [store.code]  # the store next door is the cheapest
    day = LocationCapacity.objects.get(location=store)
    assert (day.used, day.capacity) == (1, store.daily_capacity)

    store_pause_today(location=store, now=MONDAY_9AM)

    day.refresh_from_db()
    assert (day.used, day.capacity) == (1, 1)  # closed at what it has taken
    second = make_order(channel=web, lines=[(product, 1)], postal_code="10001")
    order_route(order_id=second.pk, now=MONDAY_9AM)
    assert _routed_to(second) == [dc_west.code]

    store_resume(location=store)
    day.refresh_from_db()
    assert day.capacity == 40
    third = make_order(channel=web, lines=[(product, 1)], postal_code="10001")
    order_route(order_id=third.pk, now=MONDAY_9AM)
    assert _routed_to(third) == [store.code]
