"""The cost bounds the routing core cuts locations by (routing.core._visit) are admissible and change no
decision: on random small networks and orders (Hypothesis), the pruned search gives the plan and cost of the
unpruned one and of a full enumeration of every set of shipping locations, and every floor a location was
ranked or cut by is at most the cost of every plan shipping from it. No database: the core is pure."""

import itertools
import random
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routing import core
from routing.core import COST_CUT, NetworkState, _order_context, _visit, order_decide
from routing.optimizer import Problem, plan_from_set
from routing.ratecard import DEFAULT_CARD
from routing.tests.test_exactness import random_case

CASES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


class _Bids:
    """Stands in for a look-ahead: seeded bid prices per location, some of them negative (the core must
    never let a negative one below its floors)."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def premiums(self, *, location_id, lines, **_) -> tuple[tuple[float, ...], float]:
        rng = random.Random(self.seed * 1009 + location_id)
        return tuple(rng.choice([0.0, 0.0, 0.4, 1.5, -2.0]) for _ in lines), rng.choice([0.0, 0.8, -3.0])


def _case(seed: int, card: bool, many_lines: bool, bids: bool):
    rng = random.Random(seed)
    static, state, order = random_case(rng)
    if card:
        static = replace(static, card=DEFAULT_CARD, _dist_cache=type(static._dist_cache)())
    if many_lines:  # thin stock, half the network near the customer: plans split, far locations are cut
        near = {
            i: replace(loc, latitude=order.latitude + rng.uniform(-0.5, 0.5), longitude=order.longitude)
            for i, loc in static.locations.items()
            if i % 2
        }
        static = replace(static, locations={**static.locations, **near}, _dist_cache=type(static._dist_cache)())
        stock = {pid: {i: q for i, q in at.items() if rng.random() < 0.6} for pid, at in state.stock.items()}
        state = NetworkState(stock=stock)
    if bids:
        state.lookahead = _Bids(seed)
    return static, state, order


def _enumerated(problem: Problem) -> tuple[int, float]:
    """(units placed, cost) of the lexicographically best plan over every set of shipping locations."""
    best = (0, 0.0)
    n = len(problem.candidates)
    for k in range(1, n + 1):
        if problem.max_shipments is not None and k > problem.max_shipments:
            break
        for chosen in itertools.combinations(range(n), k):
            plan = plan_from_set(problem=problem, chosen=list(chosen))
            if problem.ship_complete and plan.placed < sum(problem.quantities):
                continue
            if problem.max_shipments is not None and plan.shipments > problem.max_shipments:
                continue
            if plan.placed > best[0] or (plan.placed == best[0] and plan.cost < best[1] - 1e-9):
                best = (plan.placed, plan.cost)
    return best


@pytest.fixture
def fake_bids(monkeypatch):
    monkeypatch.setattr(core, "lookahead_premiums", lambda *, lookahead, **kw: lookahead.premiums(**kw))


@CASES
@given(seed=st.integers(0, 2**31), card=st.booleans(), many_lines=st.booleans(), bids=st.booleans())
def test_pruned_search_decides_as_the_full_enumeration(fake_bids, seed, card, many_lines, bids):
    static, state, order = _case(seed, card, many_lines, bids)
    pruned = order_decide(order=order, static=static, state=state)
    full = order_decide(order=order, static=static, state=state, prune=False)
    shipments = [(s.location_id, sorted(s.lines), s.service) for s in pruned.shipments]
    assert shipments == [(s.location_id, sorted(s.lines), s.service) for s in full.shipments]
    assert pruned.cost == pytest.approx(full.cost, abs=1e-6)
    assert pruned.priced <= full.priced
    if len(full.problem.candidates) <= 9:
        placed, cost = _enumerated(full.problem)
        assert pruned.plan.placed == placed
        if placed:
            assert pruned.plan.cost == pytest.approx(cost, abs=1e-6)
    # Every location cut by a bound is explained as such and was never priced.
    cut = {i for reason, ids in pruned.excluded.items() if reason.startswith(COST_CUT) for i in ids}
    assert not cut & {c.location_id for c in pruned.candidates}


@CASES
@given(seed=st.integers(0, 2**31), card=st.booleans(), many_lines=st.booleans(), bids=st.booleans())
def test_every_floor_is_at_most_the_cost_of_the_plans_it_bounds(fake_bids, seed, card, many_lines, bids):
    _floors_check(*_case(seed, card, many_lines, bids))


@pytest.mark.parametrize("seed", range(200))
def test_every_floor_holds_where_plans_split(fake_bids, seed):
    """The same on seeded thin-stock networks, where most locations cannot send everything and their floor
    counts a second shipment."""
    _floors_check(*_case(seed, card=seed % 2 == 0, many_lines=True, bids=seed % 3 == 0))


def _floors_check(static, state, order) -> None:
    full = order_decide(order=order, static=static, state=state, prune=False)
    problem = full.problem
    if full.method != order.method or len(problem.candidates) > 9:
        return
    o = _order_context(
        order=order,
        static=static,
        state=state,
        ctx=static.rules.apply(order),
        service=full.service_level,
        method=full.method,
        exclude_ids=frozenset(),
        exclude_reason="",
        policy_mode=False,
    )
    ids = {i for ln in order.lines for i in state.stock.get(ln.product_id, ())}
    trace: dict[int, float] = {}
    _visit(o, ids=ids, prune=True, cands=[], infos=[], excluded={}, trace=trace)
    keys = [c.key for c in problem.candidates]
    wanted = sum(problem.quantities)
    for chosen in itertools.chain.from_iterable(
        itertools.combinations(range(len(keys)), k) for k in range(1, len(keys) + 1)
    ):
        plan = plan_from_set(problem=problem, chosen=list(chosen))
        if plan.placed < wanted:
            continue  # the floors bound plans that place every unit
        for i in plan.used:
            if keys[i] in trace:
                assert trace[keys[i]] <= plan.cost + 1e-9, (keys[i], trace[keys[i]], plan.cost)


def test_a_negative_bid_price_is_never_below_the_floor(fake_bids):
    """A look-ahead bid price below zero is clamped to zero, so the floors that count it as ≥ 0 hold."""
    for seed in range(40):
        static, state, order = _case(seed, card=False, many_lines=False, bids=True)
        d = order_decide(order=order, static=static, state=state, prune=False)
        for info in d.candidates:
            assert all(b >= 0.0 for b in info.lookahead)
            assert info.lookahead_slot >= 0.0


@pytest.mark.parametrize("seed", [71, 125, 157, 253, 469])
def test_a_split_plan_found_early_cuts_the_locations_that_cannot_beat_it(seed):
    """No single location holds the whole order: the first split the priced locations can make is the
    incumbent, the locations whose floor is above it stay unpriced (their reason names the split), and the
    decision is the one every location gives."""
    static, state, order = _case(seed, card=True, many_lines=True, bids=False)
    pruned = order_decide(order=order, static=static, state=state)
    full = order_decide(order=order, static=static, state=state, prune=False)
    assert any(r.startswith(f"{COST_CUT} cannot beat") and "split between" in r for r in pruned.excluded)
    assert pruned.priced < full.priced
    assert [(s.location_id, s.lines) for s in pruned.shipments] == [(s.location_id, s.lines) for s in full.shipments]
    assert pruned.cost == pytest.approx(full.cost, abs=1e-6)
