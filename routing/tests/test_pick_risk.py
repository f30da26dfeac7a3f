"""Pick-failure risk: each store's short-pick rate learned with a Beta prior, and its expected cost in routing."""

from dataclasses import replace

import pytest
from django.conf import settings

from fulfillment.models import FulfillmentLine, FulfillmentOrder
from inventory.models import Location
from routing.core import order_decide
from routing.selectors import network_state_load, network_static, order_views_load, pick_risk_load
from routing.services import order_route, routing_revision_bump
from routing.tests.helpers import MONDAY_9AM, make_order, stock

pytestmark = pytest.mark.django_db


@pytest.fixture
def twin(db) -> Location:
    """A second store at the very same ZIP as `store`: every order is a tie between them."""
    return Location.objects.create(
        code="STORE-0009",
        name="Manhattan twin store",
        kind="store",
        postal_code="10001",
        can_ship=True,
        can_pickup=True,
        daily_capacity=40,
    )


def _history(*, web, location, product, units: int, short: int, orders: int = 1) -> None:
    """Past fulfilment work at `location`: `orders` fulfilment orders of `units` units, `short` of them short."""
    for _ in range(orders):
        order = make_order(channel=web, lines=[(product, units)], status="routed")
        fo = FulfillmentOrder.objects.create(order=order, location=location, status="picking")
        FulfillmentLine.objects.create(
            fulfillment_order=fo,
            order_line=order.lines.get(),
            quantity=units,
            quantity_picked=units - short,
            quantity_short=short,
        )


def test_a_new_store_gets_the_prior_and_a_store_learns_from_its_short_picks(web, store, twin, product):
    alpha, beta = settings.DOM["PICK_RISK_PRIOR"]
    _history(web=web, location=store, product=product, units=4, short=3, orders=5)  # 15 short of 20

    risk = pick_risk_load(static=network_static())

    assert risk[twin.pk] == pytest.approx(alpha / (alpha + beta))  # no history: the prior's mean (5 %)
    assert risk[store.pk] == pytest.approx((alpha + 15) / (alpha + beta + 20))
    assert all(Location.objects.get(pk=k).kind == "store" for k in risk)


def test_a_store_with_many_short_picks_loses_a_tie_to_a_reliable_store(web, store, twin, product):
    stock(product, store, 5)
    stock(product, twin, 5)
    probe = make_order(channel=web, lines=[(product, 1)])
    first = order_route(order_id=probe.pk, now=MONDAY_9AM).plan[0]["location_id"]
    unreliable = Location.objects.get(pk=first)
    reliable = twin if unreliable == store else store
    _history(web=web, location=unreliable, product=product, units=4, short=2, orders=5)
    routing_revision_bump()  # a fresh snapshot reads the history at once (otherwise within ten minutes)

    order = make_order(channel=web, lines=[(product, 1)])
    decision = order_route(order_id=order.pk, now=MONDAY_9AM)

    assert [s["location_id"] for s in decision.plan] == [reliable.pk]
    rows = {row[0]: row for row in decision.candidates["rows"]}
    assert rows[unreliable.pk][-1] > rows[reliable.pk][-1] > 0  # expected failure cost per unit, explained
    assert float(decision.cost) > float(decision.model_cost)  # the risk is in the objective only


def test_the_risk_term_is_probability_times_a_re_route_and_a_days_delay(web, store, twin, product):
    stock(product, store, 5)
    stock(product, twin, 5)
    order = make_order(channel=web, lines=[(product, 2)])
    static = network_static()
    views = order_views_load(order_ids=[order.pk], now=MONDAY_9AM)
    state, _ = network_state_load(product_ids=[product.pk], static=static, clock=MONDAY_9AM)
    quiet = order_decide(order=views[order.pk], static=replace(static, pick_risk={}), state=state)
    risky = order_decide(order=views[order.pk], static=replace(static, pick_risk={store.pk: 0.2}), state=state)

    at = {c.location_id: c for c in risky.candidates}
    info = at[store.pk]
    assert info.pick_risk == pytest.approx(0.2 * (info.shipping_base + info.handling_order + static.late_penalty))
    assert at[twin.pk].pick_risk == 0.0
    assert [s.location_id for s in risky.shipments] == [twin.pk]
    assert {c.location_id: c.pick_risk for c in quiet.candidates} == {store.pk: 0.0, twin.pk: 0.0}
