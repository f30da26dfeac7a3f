"""The live routing core (rules, eligibility, pricing, exact pruning, optimizer) against the MILP oracle on
a few hundred random small networks (seeded). No database: the core is pure."""

import random
from datetime import time

import pytest

from routing.core import LineView, LocationView, NetworkState, NetworkStatic, OrderView, order_decide
from routing.costs import DEFAULT_RATES
from routing.oracle import plan_oracle
from routing.rules import Resolver, ruleset_compile
from routing.tests.helpers import MONDAY_9AM

KINDS = [("warehouse", 2.5, 0.25), ("store", 5.0, 0.75), ("3pl", 3.0, 0.4), ("dropship", 4.0, 0.5)]
ZONES = ["America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"]


def random_case(rng: random.Random):
    n_loc = rng.randint(2, 12)
    locations = {}
    for i in range(1, n_loc + 1):
        kind, h_order, h_unit = rng.choice(KINDS)
        locations[i] = LocationView(
            id=i,
            code=f"L{i}",
            kind=kind,
            latitude=rng.uniform(26, 48),
            longitude=rng.uniform(-122, -71),
            timezone=rng.choice(ZONES),
            cutoff=time(rng.choice([12, 15, 18]), 0),
            handling_classes=frozenset(rng.sample(["ambient", "hazmat", "chilled"], rng.randint(1, 3))),
            is_active=rng.random() > 0.05,
            can_ship=True,
            can_pickup=kind == "store",
            can_same_day=False,
            sell_online=True,
            handling_per_order=h_order,
            handling_per_unit=h_unit,
            daily_capacity=rng.choice([0, 5, 100]),
        )
    rules = [(1, "max shipments", 1, {}, {"type": "max_shipments", "max": rng.randint(1, 4)})]
    if rng.random() < 0.2:
        rules.append((2, "ship complete", 2, {}, {"type": "ship_complete"}))
    if rng.random() < 0.3:
        rules.append((3, "prefer stores", 3, {}, {"type": "prefer", "kinds": ["store"], "adjustment": -1.5}))
    static = NetworkStatic(
        revision=0,
        locations=locations,
        rates=DEFAULT_RATES,
        split_penalty=2.0,
        late_penalty=3.0,
        pickup_ready_hours=2,
        rules=ruleset_compile(version_id=None, label="t", rules=rules, resolver=Resolver({}, {})),
    )
    n_lines = rng.randint(1, 5)
    lines = tuple(
        LineView(
            id=k,
            product_id=k,
            sku=f"P{k}",
            quantity=rng.choice([1, 1, 2, 3]),
            handling_class=rng.choice(["ambient", "ambient", "hazmat", "chilled"]),
            weight_kg=rng.uniform(0.05, 12),
        )
        for k in range(1, n_lines + 1)
    )
    stock = {ln.product_id: {i: rng.randint(1, 4) for i in locations if rng.random() < 0.5} for ln in lines}
    order = OrderView(
        id=1,
        channel="web",
        channel_online=True,
        method="ship",
        service_level=rng.choice(["standard", "standard", "express", "overnight"]),
        total=100.0,
        customer_tier="standard",
        country="US",
        region="",
        postal_code="",
        latitude=rng.uniform(26, 48),
        longitude=rng.uniform(-122, -71),
        clock=MONDAY_9AM,
        promise=None,
        placed_at=MONDAY_9AM,
        pickup_location_id=None,
        lines=lines,
    )
    return static, NetworkState(stock=stock), order


def assert_matches_oracle(static, state, order):
    """Route `order` (pruned) and check the plan against the MILP oracle on the unpruned problem."""
    ours = order_decide(order=order, static=static, state=state)
    unpruned = order_decide(order=order, static=static, state=state, prune=False)
    exact = plan_oracle(problem=unpruned.problem)
    assert ours.plan.placed == exact.placed
    if exact.placed:
        assert ours.plan.cost == pytest.approx(exact.cost, abs=1e-6)
    return ours


@pytest.mark.parametrize("seed", range(300))
def test_routing_core_matches_the_milp_oracle(seed):
    rng = random.Random(seed)
    static, state, order = random_case(rng)
    ours = assert_matches_oracle(static, state, order)
    # Never a unit from a location that cannot handle the line or lacks the stock.
    for s in ours.shipments:
        loc = static.locations[s.location_id]
        for line_id, q in s.lines:
            line = next(ln for ln in order.lines if ln.id == line_id)
            assert line.handling_class in loc.handling_classes
            assert q <= state.stock[line.product_id][s.location_id]
