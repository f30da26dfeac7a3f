"""The look-ahead bid price on scarce store units (routing.lookahead): the premium itself, that it changes a
decision when a store's last unit is worth more to its own customers, that it stays out of the real cost,
that the optimizer stays exact with it (MILP oracle), and the per-batch forecast read from order history."""

import math
import random
from datetime import time, timedelta

import pytest

from inventory.models import Location
from routing.core import LineView, LocationView, NetworkState, NetworkStatic, OrderView, order_decide
from routing.costs import DEFAULT_RATES, rate_for
from routing.lookahead import PastOrder, lookahead_build, lookahead_load, poisson_tail
from routing.models import RoutingSettings
from routing.rules import Resolver, ruleset_compile
from routing.selectors import decision_explain, network_static
from routing.services import order_route
from routing.tests.helpers import MONDAY_9AM, make_order, stock
from routing.tests.test_exactness import assert_matches_oracle, random_case

NYC = (40.7506, -73.9972)
ATLANTA = (33.7490, -84.3880)
STORE, DC = 1, 2
PRODUCT = 7


def _loc(id_, kind, point, h_order, h_unit, **kw) -> LocationView:
    return LocationView(
        id=id_,
        code=f"{kind}-{id_}",
        kind=kind,
        latitude=point[0],
        longitude=point[1],
        timezone="America/New_York",
        cutoff=time(18, 0),
        handling_classes=frozenset({"ambient"}),
        is_active=True,
        can_ship=True,
        can_pickup=kind == "store",
        can_same_day=False,
        sell_online=True,
        handling_per_order=h_order,
        handling_per_unit=h_unit,
        daily_capacity=1000,
        **kw,
    )


def _static() -> NetworkStatic:
    return NetworkStatic(
        revision=0,
        locations={STORE: _loc(STORE, "store", NYC, 5.0, 0.75), DC: _loc(DC, "warehouse", ATLANTA, 2.5, 0.25)},
        rates=DEFAULT_RATES,
        split_penalty=2.0,
        late_penalty=3.0,
        pickup_ready_hours=2,
        rules=ruleset_compile(version_id=None, label="t", rules=[], resolver=Resolver({}, {})),
    )


def _order(*, service: str = "standard", quantity: int = 1) -> OrderView:
    return OrderView(
        id=1,
        channel="web",
        channel_online=True,
        method="ship",
        service_level=service,
        total=50.0,
        customer_tier="standard",
        country="US",
        region="NY",
        postal_code="10001",
        latitude=NYC[0],
        longitude=NYC[1],
        clock=MONDAY_9AM,
        promise=None,
        placed_at=MONDAY_9AM,
        pickup_location_id=None,
        lines=(LineView(1, PRODUCT, "P", quantity, "ambient", 0.5),),
    )


def _pickups_at_store(n: int) -> list[tuple[PastOrder, int]]:
    return [(PastOrder("pickup", "standard", NYC[0], NYC[1], STORE, ((PRODUCT, 1),)), n)]


def test_poisson_tail():
    assert poisson_tail(mean=2.0, at_least=0) == 1.0
    assert poisson_tail(mean=0.0, at_least=1) == 0.0
    assert poisson_tail(mean=1.0, at_least=1) == pytest.approx(1 - math.exp(-1))
    assert poisson_tail(mean=1.0, at_least=2) == pytest.approx(1 - 2 * math.exp(-1))
    assert poisson_tail(mean=3.0, at_least=50) == pytest.approx(0.0, abs=1e-12)


def test_premium_is_the_chance_the_store_runs_short_times_what_its_own_order_would_lose():
    static = _static()
    stock = {PRODUCT: {STORE: 2, DC: 100}}
    # 6 pickups of one unit at the store in 3 hours: 2 units/h of its own demand; horizon 1.5 h → mean 3.
    la = lookahead_build(
        static=static, stock=stock, history=_pickups_at_store(6), hours=3.0, horizon_hours=1.5, weight_kg={PRODUCT: 0.5}
    )
    km = static.distances(*NYC)[DC]
    band = rate_for(rates=DEFAULT_RATES["standard"], distance_km=km)
    transfer = band.base + band.per_kg * 0.5 + 2.5 + 0.25  # the next-best source: sent to the store from the DC
    saving = transfer - (5.0 + 0.75)  # against picking it at the store itself
    assert la.saving(product_id=PRODUCT, location_id=STORE) == pytest.approx(saving)
    p_two = poisson_tail(mean=3.0, at_least=2)
    assert la.unit_premium(product_id=PRODUCT, location_id=STORE, available=2, quantity=1) == pytest.approx(
        p_two * saving
    )
    # Two units taken: the mean of the two marginal units' prices.
    p_one = poisson_tail(mean=3.0, at_least=1)
    assert la.unit_premium(product_id=PRODUCT, location_id=STORE, available=2, quantity=2) == pytest.approx(
        (p_two + p_one) / 2 * saving
    )
    # No price on DC stock, on products nobody ordered, or when no other location holds the product.
    assert la.unit_premium(product_id=PRODUCT, location_id=DC, available=100, quantity=1) == 0.0
    assert la.unit_premium(product_id=99, location_id=STORE, available=1, quantity=1) == 0.0
    alone = lookahead_build(
        static=static, stock={PRODUCT: {STORE: 2}}, history=_pickups_at_store(6), hours=3.0, horizon_hours=1.5
    )
    assert alone.unit_premium(product_id=PRODUCT, location_id=STORE, available=2, quantity=1) == 0.0


def test_scarce_store_unit_is_kept_for_its_own_customers_and_the_real_cost_excludes_the_premium():
    static = _static()
    order = _order()
    # Without look-ahead the store's last unit goes to this standard order (cheaper than from Atlanta).
    plain = order_decide(order=order, static=static, state=NetworkState(stock={PRODUCT: {STORE: 1, DC: 100}}))
    assert [s.location_id for s in plain.shipments] == [STORE]
    # With busy pickups at the store, that unit is worth more to them: the DC sends this one.
    state = NetworkState(stock={PRODUCT: {STORE: 1, DC: 100}})
    state.lookahead = lookahead_build(
        static=static, stock=state.stock, history=_pickups_at_store(8), hours=4.0, horizon_hours=4.0
    )
    kept = order_decide(order=order, static=static, state=state)
    assert [s.location_id for s in kept.shipments] == [DC]
    assert kept.model_cost > plain.model_cost
    assert kept.cost == pytest.approx(kept.model_cost)  # no premium on the DC's units
    store_info = next(c for c in kept.candidates if c.location_id == STORE)
    assert store_info.lookahead[0] > kept.model_cost - plain.model_cost  # worth more than this order saves
    assert store_info.row()[-3:-1] == [[round(store_info.lookahead[0], 2)], 0.0]
    # A slow store: the premium is small, the store still sends it, and only the objective carries it.
    state = NetworkState(stock={PRODUCT: {STORE: 1, DC: 100}})
    state.lookahead = lookahead_build(
        static=static, stock=state.stock, history=_pickups_at_store(1), hours=24.0, horizon_hours=1.0
    )
    cheap = order_decide(order=order, static=static, state=state)
    premium = next(c for c in cheap.candidates if c.location_id == STORE).lookahead[0]
    assert [s.location_id for s in cheap.shipments] == [STORE] and premium > 0
    assert cheap.model_cost == pytest.approx(plain.model_cost)
    assert cheap.cost == pytest.approx(plain.cost + premium)


def _case_with_premiums(seed: int):
    """A random network of routing/tests/test_exactness.py with demand on every store's products."""
    rng = random.Random(1000 + seed)
    static, state, order = random_case(rng)
    stores = [loc.id for loc in static.locations.values() if loc.kind == "store"]
    history = [
        (PastOrder("pickup", "standard", None, None, sid, tuple((ln.product_id, 1) for ln in order.lines)), 3)
        for sid in stores
    ]
    history.append((PastOrder("ship", "express", order.latitude, order.longitude, None, ()), 2))
    day = MONDAY_9AM.date()
    for sid in stores:  # slots already filled today (and tomorrow, for stores past their cut-off)
        for d in (day, day + timedelta(days=1)):
            state.capacity_used[(sid, d)] = rng.randint(0, 4)
    state.lookahead = lookahead_build(
        static=static,
        stock=state.stock,
        history=history,
        hours=1.0,
        horizon_hours=rng.choice([0.5, 2.0, 6.0]),
        clock=MONDAY_9AM,
        capacity_used=state.capacity_used,
    )
    return static, state, order


@pytest.mark.parametrize("seed", range(150))
def test_optimizer_matches_the_milp_oracle_with_the_premium_on(seed):
    assert_matches_oracle(*_case_with_premiums(seed))


def test_the_oracle_cases_do_carry_premiums():
    priced = slots = 0
    for seed in range(150):
        static, state, order = _case_with_premiums(seed)
        d = order_decide(order=order, static=static, state=state, prune=False)
        priced += any(any(c.lookahead) for c in d.candidates)
        slots += any(c.lookahead_slot for c in d.candidates)
    assert priced >= 30 and slots >= 10


def _busy_store(*, used: int, limit: int = 40):
    """The store has filled `used` of its `limit` order slots today over the last 2 hours of history (its
    own orders are pickups); the batch routes at MONDAY_9AM (09:00 in New York)."""
    static = _static()
    day = MONDAY_9AM.date()
    state = NetworkState(
        stock={PRODUCT: {STORE: 5, DC: 100}}, capacity_used={(STORE, day): used}, capacity_limit={(STORE, day): limit}
    )
    state.lookahead = lookahead_build(
        static=static,
        stock=state.stock,
        history=[(PastOrder("pickup", "standard", NYC[0], NYC[1], STORE, ()), 4)],
        hours=2.0,
        horizon_hours=2.0,
        clock=MONDAY_9AM,
        capacity_used=state.capacity_used,
    )
    return static, state, day


def test_slot_premium_prices_the_last_order_slots_of_a_busy_store():
    static, state, day = _busy_store(used=30)
    la = state.lookahead
    # 30 slots in 2 hours: 15 an hour, 30 expected over the 2-hour horizon; 10 of the 40 left.
    km = static.distances(*NYC)[DC]
    band = rate_for(rates=DEFAULT_RATES["standard"], distance_km=km)
    saving = band.base + band.per_kg * 0.5 + 2.5 + 0.25 - (5.0 + 0.75)
    assert la.slot_premium(location_id=STORE, day=day, left=10) == pytest.approx(
        poisson_tail(mean=30.0, at_least=10) * saving
    )
    assert la.slot_premium(location_id=STORE, day=day, left=0) == 0.0
    assert la.slot_premium(location_id=DC, day=day, left=10) == 0.0  # only stores
    # A day that has not begun yet where the store is (no rate to go by), or a store with no slots used.
    assert la.slot_premium(location_id=STORE, day=day + timedelta(days=1), left=10) == 0.0
    assert _busy_store(used=0)[1].lookahead.slot_premium(location_id=STORE, day=day, left=10) == 0.0


def test_a_busy_store_with_its_last_slot_leaves_a_standard_order_to_the_dc():
    static, state, day = _busy_store(used=39)  # one slot left of 40
    order = _order()
    d = order_decide(order=order, static=static, state=state, prune=False)  # the store stays listed
    assert [s.location_id for s in d.shipments] == [DC]
    store_info = next(c for c in d.candidates if c.location_id == STORE)
    assert store_info.lookahead_slot > 0 and store_info.row()[-2] == round(store_info.lookahead_slot, 2)
    assert d.cost == pytest.approx(d.model_cost)
    # A quiet store with slots to spare: the slot is cheap: the store sends it, and the real cost excludes the price.
    static, state, day = _busy_store(used=3, limit=8)  # 3 expected over the horizon, 5 slots left
    d = order_decide(order=order, static=static, state=state)
    slot = next(c for c in d.candidates if c.location_id == STORE).lookahead_slot
    assert [s.location_id for s in d.shipments] == [STORE] and slot > 0
    assert d.cost == pytest.approx(d.model_cost + slot)


# ---------------------------------------------------------------------------------------------------------
# The forecast from order history, and live routing (database)


@pytest.fixture
def dc_atlanta(db) -> Location:
    return Location.objects.create(
        code="DC-ATL",
        name="Atlanta DC",
        kind="warehouse",
        postal_code="30336",
        can_ship=True,
        handling_classes=["ambient"],
        daily_capacity=1000,
    )


def _history(web, store, product, n: int) -> None:
    for k in range(n):
        make_order(
            channel=web,
            lines=[(product, 1)],
            method="pickup",
            pickup_location=store,
            placed_at=MONDAY_9AM - timedelta(minutes=30 * (k + 1)),
            status="routed",
        )


@pytest.mark.django_db
def test_forecast_reads_recent_orders_and_can_be_switched_off(web, store, dc_atlanta, product):
    _history(web, store, product, 4)  # 4 pickups over the last 2 hours
    located = make_order(channel=web, lines=[(product, 2)], placed_at=MONDAY_9AM - timedelta(minutes=10))
    located.shipping_address = {"postal_code": "", "country": "US", "latitude": 40.70, "longitude": -73.95}
    located.save(update_fields=["shipping_address"])  # its own coordinates: nearest the store, no ZIP needed
    make_order(channel=web, lines=[(product, 5)], placed_at=MONDAY_9AM - timedelta(hours=30))  # out of the window
    make_order(channel=web, lines=[(product, 5)], placed_at=MONDAY_9AM + timedelta(minutes=5))  # not yet placed
    static = network_static()
    state = NetworkState(stock={product.pk: {store.pk: 1, dc_atlanta.pk: 10}})
    la = lookahead_load(static=static, state=state, product_ids=[product.pk], clock=MONDAY_9AM)
    assert la.rate[product.pk] == pytest.approx(6 / 2.0)  # units per hour over the observed 2 hours
    assert la.share == {store.pk: {"pickup": 0.8, "standard": 0.2}}
    assert la.weight_kg[product.pk] == pytest.approx(0.4)
    assert la.capacity_used is state.capacity_used and la.hours == pytest.approx(2.0)
    RoutingSettings.objects.update_or_create(pk=1, defaults={"lookahead_horizon_hours": 0})
    assert lookahead_load(static=static, state=state, product_ids=[product.pk], clock=MONDAY_9AM) is None


@pytest.mark.django_db
@pytest.mark.parametrize("horizon", [0, 4])
def test_live_routing_keeps_the_last_store_unit_for_pickups_when_on(
    web, store, dc_atlanta, product, horizon, ops_user, client
):
    RoutingSettings.objects.update_or_create(pk=1, defaults={"lookahead_horizon_hours": horizon})
    _history(web, store, product, 8)
    stock(product, store, 2)  # one unit above the store's safety stock
    stock(product, dc_atlanta, 10)
    order = make_order(channel=web, lines=[(product, 1)], postal_code="10001")
    decision = order_route(order_id=order.pk, now=MONDAY_9AM)
    chosen = [s["location_id"] for s in decision.plan]
    x = decision_explain(decision=decision)
    at_store = next(c for c in x["candidates"] if c["location"] == store.code)
    client.force_login(ops_user)
    html = client.get(f"/routing/orders/{order.pk}/decision/").content.decode()
    if horizon:
        assert chosen == [dc_atlanta.pk] and at_store["lookahead"][product.sku] > 0
        assert f"{product.sku}: +{at_store['lookahead'][product.sku]:.2f}/unit" in html
    else:
        assert chosen == [store.pk] and at_store["lookahead"] == {}
