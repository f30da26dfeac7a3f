"""The baseline policies of BENCHMARK.md: single_dc and shopify_default."""

import math
import random

import pytest

from bench.routing_optimizer import problem_random_small
from routing.optimizer import Candidate, Problem, plan_cost, plan_optimize, plan_violations
from routing.policies import LocationInfo, plan_shopify_default, plan_single_dc

INF = math.inf


def loc(key, kind="warehouse", km=100.0, primary=False, country="US"):
    return LocationInfo(key=key, kind=kind, distance_km=km, is_primary_dc=primary, country=country)


def setup(quantities, rows, **options):
    """rows: (LocationInfo, fixed, unit costs, available) → (problem, info)."""
    problem = Problem(
        quantities=tuple(quantities),
        candidates=tuple(
            Candidate(key=i.key, fixed_cost=f, unit_costs=tuple(u), available=tuple(a)) for i, f, u, a in rows
        ),
        **options,
    )
    return problem, {i.key: i for i, *_ in rows}


def check(problem, plan):
    assert plan_violations(problem=problem, plan=plan) == []
    assert plan.cost == pytest.approx(plan_cost(problem=problem, allocations=plan.allocations))
    assert not plan.optimal
    return plan


def single_dc(problem, info):
    return check(problem, plan_single_dc(problem=problem, info=info))


def shopify(problem, info, country="US"):
    return check(problem, plan_shopify_default(problem=problem, info=info, destination_country=country))


def test_single_dc_prefers_the_primary_dc_even_when_another_is_nearer_and_cheaper():
    problem, info = setup(
        (1, 2),
        [
            (loc(10, km=50), 5.0, (1.0, 1.0), (5, 5)),
            (loc(11, km=1500, primary=True), 15.0, (2.0, 2.0), (5, 5)),
        ],
    )
    assert single_dc(problem, info).allocations == [[(1, 1)], [(1, 2)]]


def test_single_dc_then_the_nearest_dc_with_everything():
    problem, info = setup(
        (1, 2),
        [
            (loc(10, km=900), 9.0, (1.0, 1.0), (5, 5)),
            (loc(11, km=1500, primary=True), 15.0, (2.0, 2.0), (5, 1)),  # primary short on line 1
            (loc(12, km=40), 6.0, (1.0, 1.0), (5, 1)),  # nearest, short too
            (loc(13, km=400), 7.0, (1.0, 1.0), (5, 5)),
            (loc(14, kind="store", km=5), 5.0, (1.0, 1.0), (5, 5)),  # stores never ship for single_dc
        ],
    )
    assert single_dc(problem, info).allocations == [[(3, 1)], [(3, 2)]]


def test_single_dc_splits_greedily_nearest_first_and_never_uses_stores():
    problem, info = setup(
        (2, 1),
        [
            (loc(10, km=900, primary=True), 9.0, (1.0, 1.0), (2, 0)),
            (loc(11, km=40), 6.0, (1.0, 1.0), (1, 0)),
            (loc(12, km=400), 7.0, (1.0, 1.0), (0, 0)),
            (loc(13, kind="store", km=5), 5.0, (1.0, 1.0), (5, 5)),
        ],
    )
    plan = single_dc(problem, info)
    assert plan.allocations == [[(1, 1), (0, 1)], []]
    assert plan.unplaced == (0, 1)
    assert plan.shipments == 2


def test_single_dc_respects_restrictions_cap_and_ship_complete():
    rows = [
        (loc(10, km=100, primary=True), 9.0, (INF, 1.0), (5, 5)),  # may not ship line 0 (e.g. hazmat)
        (loc(11, km=300), 6.0, (1.0, 1.0), (5, 0)),
    ]
    problem, info = setup((1, 1), rows)
    assert single_dc(problem, info).allocations == [[(1, 1)], [(0, 1)]]
    problem, info = setup((1, 1), rows, max_shipments=1)
    assert single_dc(problem, info).allocations == [[], [(0, 1)]]
    problem, info = setup((1, 1), rows, max_shipments=1, ship_complete=True)
    assert single_dc(problem, info).unplaced == (1, 1)


def test_single_dc_names_a_candidate_without_info():
    problem, _ = setup((1,), [(loc(10), 1.0, (1.0,), (1,))])
    with pytest.raises(ValueError, match="key 10"):
        plan_single_dc(problem=problem, info={})


def test_shopify_one_location_in_country_then_closest():
    problem, info = setup(
        (1, 1),
        [
            (loc(10, kind="store", km=20, country="CA"), 5.0, (1.0, 1.0), (5, 5)),  # closest but abroad
            (loc(11, kind="warehouse", km=800), 5.0, (1.0, 1.0), (5, 5)),
            (loc(12, kind="store", km=300), 50.0, (9.0, 9.0), (5, 5)),  # closest in country, dear
            (loc(13, kind="store", km=10), 5.0, (1.0, 1.0), (5, 0)),  # closer still but short
        ],
    )
    assert shopify(problem, info).allocations == [[(2, 1)], [(2, 1)]]
    assert shopify(problem, info, country="CA").allocations == [[(0, 1)], [(0, 1)]]


def test_shopify_fewest_packages_before_distance():
    problem, info = setup(
        (1, 1),
        [
            (loc(10, kind="store", km=5), 5.0, (1.0, INF), (1, 0)),
            (loc(11, kind="store", km=6), 5.0, (INF, 1.0), (0, 1)),
            (loc(12, kind="warehouse", km=2500), 13.0, (1.0, 1.0), (5, 5)),
        ],
    )
    assert shopify(problem, info).allocations == [[(2, 1)], [(2, 1)]]


def test_shopify_best_pair_then_greedy_cover():
    rows = [
        (loc(10, km=5), 5.0, (1.0, 1.0, 1.0), (1, 0, 0)),
        (loc(11, km=50), 5.0, (1.0, 1.0, 1.0), (0, 1, 1)),
        (loc(12, km=10), 5.0, (1.0, 1.0, 1.0), (0, 1, 1)),
        (loc(13, km=900), 5.0, (1.0, 1.0, 1.0), (1, 1, 0)),
    ]
    problem, info = setup((1, 1, 1), rows)
    plan = shopify(problem, info)
    assert plan.allocations == [[(0, 1)], [(2, 1)], [(2, 1)]]  # the closest pair that covers
    problem, info = setup((1, 1, 1, 1), [(i, f, u + (1.0,), a + (a[0],)) for i, f, u, a in rows])
    plan = shopify(problem, info)
    assert plan.unplaced == (0, 0, 0, 0)
    assert plan.shipments == 2  # 10 (lines 0, 3) + 12 (lines 1, 2)
    problem, info = setup((1, 1, 1), rows, max_shipments=1)
    assert shopify(problem, info).placed == 2


def test_shopify_three_packages_by_greedy_cover():
    problem, info = setup(
        (1, 1, 1),
        [
            (loc(10, km=5), 5.0, (1.0, 1.0, 1.0), (1, 0, 0)),
            (loc(11, km=6), 5.0, (1.0, 1.0, 1.0), (0, 1, 0)),
            (loc(12, km=7), 5.0, (1.0, 1.0, 1.0), (0, 0, 1)),
        ],
    )
    plan = shopify(problem, info)
    assert plan.unplaced == (0, 0, 0) and plan.shipments == 3


def test_the_optimizer_never_does_worse_than_either_policy():
    rng = random.Random(3)
    for _ in range(200):
        problem = problem_random_small(rng=rng, max_candidates=10)
        info = {
            c.key: loc(
                c.key,
                kind=rng.choice(("warehouse", "store", "3pl")),
                km=rng.uniform(1, 3000),
                primary=i == 0,
                country=rng.choice(("US", "US", "CA")),
            )
            for i, c in enumerate(problem.candidates)
        }
        ours = plan_optimize(problem=problem)
        for plan in (single_dc(problem, info), shopify(problem, info)):
            assert ours.placed >= plan.placed
            if ours.placed == plan.placed:
                assert ours.cost <= plan.cost + 1e-9
