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


def _decide(order, static, stock_at: dict, **state_kw):
    from routing.core import NetworkState

    views = order_views_load(order_ids=[order.pk], now=MONDAY_9AM)
    state = NetworkState(stock=stock_at, **state_kw)
    return order_decide(order=views[order.pk], static=static, state=state)


def test_a_full_location_is_pushed_as_many_days_ahead_as_the_snapshot_allows(web, dc, dc_west, product):
    """Peak-world mechanics (`capacity_days_ahead`; 1 = the shipped behaviour): a full Edison tries later days."""
    from datetime import date

    full = {(dc.pk, date(2026, 3, 2)): 1000, (dc.pk, date(2026, 3, 3)): 1000}
    order = make_order(channel=web, lines=[(product, 1)])
    stock_at = {product.pk: {dc.pk: 5, dc_west.pk: 5}}
    static = network_static()

    shipped = _decide(order, static, stock_at, capacity_used=dict(full))
    assert [s.location_id for s in shipped.shipments] == [dc_west.pk]
    assert "capacity: no orders left for 2026-03-02 or 2026-03-03" in shipped.excluded
    later = _decide(order, replace(static, capacity_days_ahead=3), stock_at, capacity_used=dict(full))
    edison = next(c for c in later.candidates if c.location_id == dc.pk)
    assert edison.ship_date == date(2026, 3, 4)


def test_lateness_can_be_priced_per_business_day(web, dc_west, product):
    """`late_penalty_per_day` (0 = a flat late penalty): a shipment 2 business days late pays the flat penalty
    plus one more day."""
    order = make_order(channel=web, lines=[(product, 1)], postal_code="10001")
    stock_at = {product.pk: {dc_west.pk: 5}}
    static = replace(network_static(), late_penalty=10.0)
    views = order_views_load(order_ids=[order.pk], now=MONDAY_9AM)
    promise = MONDAY_9AM.date()  # already due: the cross-country shipment arrives days late
    view = replace(views[order.pk], promise=promise)
    from routing.core import NetworkState

    flat = order_decide(order=view, static=static, state=NetworkState(stock=stock_at))
    per_day = order_decide(
        order=view, static=replace(static, late_penalty_per_day=10.0), state=NetworkState(stock=stock_at)
    )
    a = next(c for c in flat.candidates if c.location_id == dc_west.pk)
    b = next(c for c in per_day.candidates if c.location_id == dc_west.pk)
    from routing.costs import add_business_days

    days = 0
    while add_business_days(promise, days) < a.delivery_date:
        days += 1
    assert days >= 2
    assert a.late_penalty == 10.0
    assert b.late_penalty == pytest.approx(10.0 + 10.0 * (days - 1))
