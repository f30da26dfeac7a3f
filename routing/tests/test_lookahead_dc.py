"""Look-ahead on DC stock and DC order slots from a demand forecast (routing.lookahead.Outlook): the bid price
rises as forecast demand until the next replenishment approaches the stock, is zero when the replenishment
comes first, is never negative, changes a decision without entering the real cost, keeps the optimizer exact
(MILP oracle), is read from inventory's stored forecasts (with a fallback rate), and is what batch
re-optimisation prices with."""

import random
from datetime import UTC, date, datetime, timedelta

import pytest

from inventory.forecasting import forecast_units_window
from inventory.models import DemandForecast, InventoryMovement
from inventory.selectors import demand_forecast_ahead, demand_forecast_location_daily, forecast_units_between
from routing.core import NetworkState, NetworkStatic, order_decide
from routing.lookahead import Lookahead, Outlook, lookahead_load, lookahead_premiums, poisson_tail
from routing.reopt import Routed, _working_state
from routing.selectors import network_static
from routing.tests.helpers import MONDAY_9AM
from routing.tests.test_exactness import assert_matches_oracle, random_case
from routing.tests.test_lookahead import DC, PRODUCT, STORE, _loc, _order, _static

NEAR_DC = 3
NEWARK = (40.7357, -74.1724)
VALUE = {"warehouse": 10.0, "3pl": 10.0, "dropship": 10.0}


def _two_dcs() -> NetworkStatic:
    static = _static()
    locations = dict(static.locations)
    locations[NEAR_DC] = _loc(NEAR_DC, "warehouse", NEWARK, 2.5, 0.25)
    return NetworkStatic(
        revision=0,
        locations=locations,
        rates=static.rates,
        split_penalty=static.split_penalty,
        late_penalty=static.late_penalty,
        pickup_ready_hours=2,
        rules=static.rules,
    )


def _bid(mean: float, available: int, quantity: int = 1) -> float:
    outlook = Outlook(demand={(PRODUCT, DC): mean}, unit_value=VALUE)
    return outlook.bid(product_id=PRODUCT, location_id=DC, kind="warehouse", available=available, quantity=quantity)


def test_dc_bid_price_rises_as_forecast_demand_approaches_the_stock():
    bids = [_bid(mean, 50) for mean in (5.0, 30.0, 45.0, 50.0, 60.0, 100.0)]
    assert bids == sorted(bids) and bids[0] == 0.0
    assert bids[3] == pytest.approx(poisson_tail(mean=50.0, at_least=50) * 10.0)
    assert 0.0 < bids[2] < bids[3] < bids[4] < 10.0 and bids[5] == pytest.approx(10.0)
    # Taking more units: the mean of the marginal units' prices (the later ones are scarcer).
    two = _bid(45.0, 50, quantity=2)
    assert two == pytest.approx((poisson_tail(mean=45.0, at_least=50) + poisson_tail(mean=45.0, at_least=49)) * 5.0)


def test_dc_bid_price_is_zero_when_the_replenishment_covers_the_demand():
    # 48 units a day forecast, 30 on hand: scarce for the day, but the replenishment two hours away comes first.
    day = [48.0] * 7
    start = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)
    first = start.date()
    until_restock = forecast_units_window(
        daily=day, first_day=first, start=start, end=start + timedelta(hours=2), fallback=0.0
    )
    whole_day = forecast_units_window(
        daily=day, first_day=first, start=start, end=start + timedelta(hours=24), fallback=0.0
    )
    assert until_restock == pytest.approx(4.0) and whole_day == pytest.approx(48.0)
    assert _bid(until_restock, 30) == 0.0
    assert _bid(whole_day, 30) > 9.9  # sold out before the restock: nearly a whole unit's value


def test_forecast_window_spreads_each_day_and_falls_back_outside_the_forecast():
    start = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    daily = [24.0, 48.0]  # for Nov 23 and Nov 24
    # 12 h of the 23rd, all of the 24th, 6 h of the 25th (no forecast: the fallback of 8 a day).
    units = forecast_units_window(
        daily=daily, first_day=date(2026, 11, 23), start=start, end=start + timedelta(hours=42), fallback=8.0
    )
    assert units == pytest.approx(12.0 + 48.0 + 2.0)
    assert forecast_units_window(daily=[-5.0], first_day=start.date(), start=start, end=start, fallback=1.0) == 0.0
    assert (
        forecast_units_window(
            daily=[-5.0], first_day=start.date(), start=start, end=start + timedelta(hours=6), fallback=1.0
        )
        == 0.0
    )


def test_poisson_tail_stays_exact_for_large_means():
    assert poisson_tail(mean=1000.0, at_least=2000) == pytest.approx(0.0, abs=1e-12)
    assert poisson_tail(mean=1000.0, at_least=500) == pytest.approx(1.0)
    from scipy.stats import poisson

    for mean, k in ((1000.0, 1000), (800.0, 760), (3.5, 6), (0.2, 1)):
        assert poisson_tail(mean=mean, at_least=k) == pytest.approx(poisson.sf(k - 1, mean), rel=1e-9)
    assert poisson_tail(mean=4.0, at_least=3) == pytest.approx(1 - 13 * 2.718281828459045**-4.0)


def test_bid_prices_are_never_negative():
    """Pruning bounds in routing.core take a candidate's cost without bid prices as a lower bound."""
    rng = random.Random(7)
    static = _two_dcs()
    day = MONDAY_9AM.date()
    for _ in range(2000):
        outlook = Outlook(
            demand={(PRODUCT, DC): rng.uniform(-50, 500), (PRODUCT, STORE): rng.uniform(-5, 50)},
            unit_value={"warehouse": rng.uniform(-20, 20)},
            orders_ahead={(DC, day): rng.uniform(-50, 500)},
        )
        available, quantity, left = rng.randint(-3, 400), rng.randint(-1, 20), rng.randint(-2, 300)
        kw = {"product_id": PRODUCT, "available": available, "quantity": quantity}
        assert outlook.bid(location_id=DC, kind="warehouse", **kw) >= 0.0
        assert outlook.slot_bid(location_id=DC, kind="warehouse", day=day, left=left) >= 0.0
        la = Lookahead(static=static, stock={}, rate={}, share={}, horizon_hours=1.0, outlook=outlook)
        for loc in (DC, STORE, NEAR_DC):
            assert la.unit_premium(location_id=loc, **kw) >= 0.0
            assert la.slot_premium(location_id=loc, day=day, left=left) >= 0.0


def test_a_dc_short_before_its_replenishment_leaves_the_order_to_the_other_dc():
    static = _two_dcs()
    order = _order()
    stock = {PRODUCT: {NEAR_DC: 20, DC: 500}}
    plain = order_decide(order=order, static=static, state=NetworkState(stock={p: dict(a) for p, a in stock.items()}))
    assert [s.location_id for s in plain.shipments] == [NEAR_DC]
    state = NetworkState(stock={p: dict(a) for p, a in stock.items()})
    outlook = Outlook(demand={(PRODUCT, NEAR_DC): 60.0}, unit_value={"warehouse": 50.0})
    state.lookahead = Lookahead(static=static, stock=state.stock, rate={}, share={}, horizon_hours=8, outlook=outlook)
    kept = order_decide(order=order, static=static, state=state)
    assert [s.location_id for s in kept.shipments] == [DC]
    near = next(c for c in kept.candidates if c.location_id == NEAR_DC)
    assert near.lookahead[0] == pytest.approx(50.0 * poisson_tail(mean=60.0, at_least=20))
    assert kept.cost == pytest.approx(kept.model_cost)  # the chosen DC carries no price; real cost excludes it


def test_a_dc_whose_slots_the_forecast_takes_leaves_the_order_to_the_other_dc():
    static = _two_dcs()
    order = _order()
    day = next(
        c.ship_date
        for c in order_decide(order=order, static=static, state=NetworkState(stock={PRODUCT: {NEAR_DC: 9}})).candidates
    )
    state = NetworkState(
        stock={PRODUCT: {NEAR_DC: 100, DC: 100}},
        capacity_used={(NEAR_DC, day): 995},
    )
    plain = order_decide(order=order, static=static, state=state)
    assert [s.location_id for s in plain.shipments] == [NEAR_DC]  # 5 slots left: enough for this order alone
    outlook = Outlook(demand={}, unit_value={"warehouse": 50.0}, orders_ahead={(NEAR_DC, day): 40.0})
    state.lookahead = Lookahead(static=static, stock=state.stock, rate={}, share={}, horizon_hours=8, outlook=outlook)
    d = order_decide(order=order, static=static, state=state, prune=False)
    near = next(c for c in d.candidates if c.location_id == NEAR_DC)
    assert near.lookahead_slot == pytest.approx(50.0 * poisson_tail(mean=40.0, at_least=5))
    assert [s.location_id for s in d.shipments] == [DC]


def _case_with_dc_prices(seed: int):
    rng = random.Random(5000 + seed)
    static, state, order = random_case(rng)
    demand, ahead = {}, {}
    for loc in static.locations.values():
        if loc.kind == "store":
            continue
        for ln in order.lines:
            have = state.stock.get(ln.product_id, {}).get(loc.id, 0)
            if have > 0:
                demand[(ln.product_id, loc.id)] = have * rng.uniform(0.3, 1.5)
        for k in range(3):
            ahead[(loc.id, MONDAY_9AM.date() + timedelta(days=k))] = rng.uniform(0, 3)
    outlook = Outlook(demand=demand, unit_value={"warehouse": 8.0, "3pl": 6.0, "dropship": 4.0}, orders_ahead=ahead)
    state.lookahead = Lookahead(
        static=static, stock=state.stock, rate={}, share={}, horizon_hours=4, clock=MONDAY_9AM, outlook=outlook
    )
    return static, state, order


@pytest.mark.parametrize("seed", range(100))
def test_optimizer_matches_the_milp_oracle_with_dc_prices_on(seed):
    assert_matches_oracle(*_case_with_dc_prices(seed))


def test_the_dc_oracle_cases_do_carry_prices():
    priced = 0
    for seed in range(100):
        static, state, order = _case_with_dc_prices(seed)
        d = order_decide(order=order, static=static, state=state, prune=False)
        priced += any(any(c.lookahead) or c.lookahead_slot for c in d.candidates)
    assert priced >= 30


def test_reoptimisation_prices_with_the_batch_look_ahead():
    static = _two_dcs()
    state = NetworkState(stock={PRODUCT: {NEAR_DC: 5}})
    state.lookahead = Lookahead(
        static=static,
        stock=state.stock,
        rate={},
        share={},
        horizon_hours=1,
        outlook=Outlook(demand={(PRODUCT, NEAR_DC): 9.0}, unit_value=VALUE),
    )
    order = _order()
    routed = Routed(order=order, allocations={NEAR_DC: {1: 1}}, ship_days={NEAR_DC: MONDAY_9AM.date()}, cost=1.0)
    work = _working_state(state, [routed])
    assert work.lookahead is state.lookahead and work.stock[PRODUCT][NEAR_DC] == 6


@pytest.mark.django_db
def test_forecast_selectors_read_the_stored_forecast_and_fall_back_to_the_reservation_rate(dc, dc_west, product):
    made = datetime(2026, 3, 1, 3, 0, tzinfo=UTC)  # forecast days from Mar 2 (Monday)
    DemandForecast.objects.create(
        product=product,
        location=dc,
        made_at=made,
        history_days=364,
        daily=[24.0, 48.0, 12.0],
        daily_mean=28.0,
        sigma=1.0,
        model="AutoETS",
    )
    start = MONDAY_9AM  # Mar 2, 14:00 UTC
    end = start + timedelta(hours=20)  # 10 h of Mar 2, 10 h of Mar 3
    assert forecast_units_between(product_id=product.pk, location_id=dc.pk, start=start, end=end) == pytest.approx(
        10.0 + 20.0
    )
    # No forecast at the west DC: the units it reserved over the last 7 days (14), 2 a day → 20 h ≈ 1.67.
    for back in (1, 3):
        m = InventoryMovement.objects.create(
            product=product, location=dc_west, delta_reserved=7, reason=InventoryMovement.Reason.RESERVE
        )
        InventoryMovement.objects.filter(pk=m.pk).update(created_at=start - timedelta(days=back))
    old = InventoryMovement.objects.create(
        product=product, location=dc_west, delta_reserved=50, reason=InventoryMovement.Reason.RESERVE
    )
    InventoryMovement.objects.filter(pk=old.pk).update(created_at=start - timedelta(days=30))  # outside the window
    ahead = demand_forecast_ahead(product_ids=[product.pk], location_ids=[dc.pk, dc_west.pk], start=start, end=end)
    assert ahead == pytest.approx({(product.pk, dc.pk): 30.0, (product.pk, dc_west.pk): 2.0 * 20 / 24})
    daily = demand_forecast_location_daily(location_id=dc.pk, days=4)
    assert [d["units"] for d in daily] == [24.0, 48.0, 12.0, 0.0] and daily[0]["day"] == date(2026, 3, 2)
    assert demand_forecast_location_daily(location_id=dc_west.pk) == []


@pytest.mark.django_db
def test_batch_look_ahead_prices_dc_units_from_the_stored_forecast(dc, dc_west, product):
    from routing.models import RoutingSettings

    RoutingSettings.objects.update_or_create(pk=1, defaults={"lookahead_horizon_hours": 24})
    DemandForecast.objects.create(
        product=product,
        location=dc,
        made_at=MONDAY_9AM - timedelta(days=1),
        history_days=364,
        daily=[40.0] * 7,
        daily_mean=40.0,
        sigma=1.0,
        model="AutoETS",
    )
    static = network_static()
    state = NetworkState(stock={product.pk: {dc.pk: 30, dc_west.pk: 500}})
    la = lookahead_load(static=static, state=state, product_ids=[product.pk], clock=MONDAY_9AM)
    assert la is not None and la.outlook.demand == pytest.approx({(product.pk, dc.pk): 40.0})
    assert la.share == {}  # no recent orders: the forecast alone prices
    value = static.late_penalty_per_day or static.late_penalty
    assert la.unit_premium(product_id=product.pk, location_id=dc.pk, available=30, quantity=1) == pytest.approx(
        value * poisson_tail(mean=40.0, at_least=30)
    )
    assert la.unit_premium(product_id=product.pk, location_id=dc_west.pk, available=500, quantity=1) == 0.0

    class _Line:
        product_id = product.pk

    bids, slot = lookahead_premiums(
        lookahead=la,
        location_id=dc.pk,
        lines=[_Line()],
        available=[30],
        quantities=(1,),
        day=MONDAY_9AM.date(),
        state=state,
    )
    assert bids[0] > 0 and slot == 0.0
    RoutingSettings.objects.update_or_create(pk=1, defaults={"lookahead_horizon_hours": 0})
    assert lookahead_load(static=static, state=state, product_ids=[product.pk], clock=MONDAY_9AM) is None
