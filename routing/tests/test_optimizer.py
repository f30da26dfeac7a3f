"""plan_optimize: hand-checked cases for each option, and exactness against the MILP oracle."""

import itertools
import math
import random

import pytest

from bench.routing_optimizer import problem_random_small, problems_generate
from routing.optimizer import (
    Candidate,
    Plan,
    Problem,
    plan_cost,
    plan_from_set,
    plan_optimize,
    plan_violations,
)
from routing.oracle import plan_oracle

INF = math.inf


def cand(key, fixed, units, avail):
    return Candidate(key=key, fixed_cost=fixed, unit_costs=tuple(units), available=tuple(avail))


def solve(quantities, candidates, **options) -> tuple[Problem, Plan]:
    problem = Problem(quantities=tuple(quantities), candidates=tuple(candidates), **options)
    plan = plan_optimize(problem=problem)
    assert plan_violations(problem=problem, plan=plan) == []
    assert plan.cost == pytest.approx(plan_cost(problem=problem, allocations=plan.allocations))
    return problem, plan


def test_single_location_with_everything_wins_when_cheapest():
    _, plan = solve(
        (1, 2),
        [cand(1, 10.0, (1.0, 1.0), (5, 5)), cand(2, 8.0, (1.0, INF), (5, 5)), cand(3, 8.0, (INF, 1.0), (5, 5))],
    )
    assert plan.allocations == [[(0, 1)], [(0, 2)]]
    assert plan.cost == pytest.approx(13.0)
    assert (plan.shipments, plan.unplaced, plan.optimal) == (1, (0, 0), True)


def test_splits_when_two_shipments_are_cheaper_than_one():
    # One far DC: 20 + 2×1. Two near stores: 6 + 6 + 1 + 1 + penalty 2 = 16.
    _, plan = solve(
        (1, 1),
        [cand(1, 20.0, (1.0, 1.0), (9, 9)), cand(2, 6.0, (1.0, INF), (1, 0)), cand(3, 6.0, (INF, 1.0), (0, 1))],
    )
    assert plan.allocations == [[(1, 1)], [(2, 1)]]
    assert plan.cost == pytest.approx(16.0)
    assert plan.shipments == 2


def test_adds_a_second_location_only_for_a_cheaper_line():
    # Location 0 covers everything (10 + 1 + 30 = 41); adding 1 for line 1 costs 5 + 2 + 1 = 8 and saves 29.
    _, plan = solve((1, 1), [cand(1, 10.0, (1.0, 30.0), (5, 5)), cand(2, 5.0, (INF, 1.0), (0, 5))])
    assert plan.allocations == [[(0, 1)], [(1, 1)]]
    assert plan.cost == pytest.approx(10 + 1 + 5 + 1 + 2)


def test_splits_a_line_when_no_location_has_all_units():
    _, plan = solve((3,), [cand(1, 5.0, (1.0,), (2,)), cand(2, 7.0, (1.0,), (2,)), cand(3, 9.0, (0.5,), (1,))])
    # {0, 1}: 5 + 7 + 3 + 2 = 17 beats {0, 2}: 5 + 9 + 2 + 0.5 + 2 = 18.5 and {1, 2}: 20.5.
    assert plan.allocations == [[(0, 2), (1, 1)]]
    assert plan.cost == pytest.approx(17.0)


def test_nothing_available_backorders_everything():
    _, plan = solve((2, 1), [cand(1, 5.0, (1.0, 1.0), (0, 0)), cand(2, 5.0, (INF, INF), (4, 4))])
    assert plan.allocations == [[], []]
    assert (plan.unplaced, plan.cost, plan.shipments) == ((2, 1), 0.0, 0)
    _, plan = solve((1,), [])
    assert plan.unplaced == (1,)


def test_places_what_it_can_and_backorders_the_rest():
    _, plan = solve((3, 1), [cand(1, 5.0, (1.0, 1.0), (2, 0))])
    assert plan.allocations == [[(0, 2)], []]
    assert plan.unplaced == (1, 1)


def test_more_units_beat_lower_cost():
    # A cheap location with one unit loses to an expensive one with both: placement comes first.
    _, plan = solve((2,), [cand(1, 1.0, (0.1,), (1,)), cand(2, 50.0, (5.0,), (2,))], max_shipments=1)
    assert plan.allocations == [[(1, 2)]]


def test_ship_complete_places_nothing_when_anything_is_short():
    candidates = [cand(1, 5.0, (1.0, 1.0), (1, 1)), cand(2, 5.0, (1.0, 1.0), (0, 1))]
    _, plan = solve((2, 1), candidates, ship_complete=True)
    assert plan.allocations == [[], []]
    assert plan.unplaced == (2, 1)
    _, plan = solve((2, 1), candidates, ship_complete=False)
    assert plan.unplaced == (1, 0)


def test_ship_complete_with_a_shipment_cap_that_makes_it_impossible():
    candidates = [cand(1, 5.0, (1.0, INF), (1, 0)), cand(2, 5.0, (INF, 1.0), (0, 1))]
    _, plan = solve((1, 1), candidates, ship_complete=True, max_shipments=1)
    assert plan.unplaced == (1, 1)
    _, plan = solve((1, 1), candidates, ship_complete=True, max_shipments=2)
    assert plan.unplaced == (0, 0)
    assert plan.shipments == 2


def test_max_shipments_one_picks_the_location_placing_most_then_cheapest():
    candidates = [
        cand(1, 3.0, (1.0, INF, 1.0), (1, 0, 1)),
        cand(2, 9.0, (1.0, 1.0, INF), (1, 1, 0)),
        cand(3, 12.0, (1.0, 1.0, INF), (1, 1, 0)),
        cand(4, 1.0, (INF, 1.0, INF), (0, 1, 0)),
    ]
    # Alone, 0 and 1 and 2 each place 2 units; 0 is the cheapest of them (3 + 2 = 5).
    _, plan = solve((1, 1, 1), candidates, max_shipments=1)
    assert plan.allocations == [[(0, 1)], [], [(0, 1)]]
    assert plan.cost == pytest.approx(5.0)
    # With two shipments everything is placed: 0 for lines 0 and 2, 3 for line 1 (3 + 2 + 1 + 1 + 2 = 9).
    _, free = solve((1, 1, 1), candidates, max_shipments=2)
    assert free.allocations == [[(0, 1)], [(3, 1)], [(0, 1)]]
    assert free.cost == pytest.approx(9.0)


def test_max_shipments_zero_places_nothing():
    _, plan = solve((1,), [cand(1, 1.0, (1.0,), (1,))], max_shipments=0)
    assert plan.unplaced == (1,)


def test_no_line_split_takes_whole_lines_from_one_location():
    candidates = [cand(1, 1.0, (1.0,), (2,)), cand(2, 1.0, (1.0,), (2,)), cand(3, 30.0, (1.0,), (3,))]
    _, split = solve((3,), candidates)
    assert split.shipments == 2
    _, whole = solve((3,), candidates, line_split=False)
    assert whole.allocations == [[(2, 3)]]
    # Without split and without any location holding the whole line, the line is backordered whole.
    _, none = solve((3,), candidates[:2], line_split=False)
    assert none.allocations == [[]] and none.unplaced == (3,)


def test_lines_restricted_by_inf_never_come_from_there():
    candidates = [cand(1, 0.0, (INF, 0.1), (9, 9)), cand(2, 20.0, (3.0, 3.0), (9, 9))]
    _, plan = solve((1, 1), candidates)
    assert all(i != 0 for i, _ in plan.allocations[0])


def test_zero_quantity_lines_are_ignored():
    _, plan = solve((0, 1), [cand(1, 4.0, (1.0, 1.0), (5, 5))])
    assert plan.allocations == [[], [(0, 1)]]
    assert plan.unplaced == (0, 0)


def test_ties_are_broken_deterministically_by_candidate_order():
    candidates = [cand(k, 5.0, (1.0,), (1,)) for k in range(4)]
    _, plan = solve((1,), candidates)
    assert plan.allocations == [[(0, 1)]]


def test_node_limit_returns_a_feasible_plan_marked_not_proven():
    rng = random.Random(7)
    candidates = [
        cand(k, rng.uniform(4, 8), [rng.uniform(0.5, 2.0) for _ in range(8)], [rng.choice((0, 1)) for _ in range(8)])
        for k in range(40)
    ]
    problem = Problem(quantities=(1,) * 8, candidates=tuple(candidates))
    plan = plan_optimize(problem=problem, node_limit=3)
    assert not plan.optimal
    assert plan_violations(problem=problem, plan=plan) == []
    assert plan_optimize(problem=problem).optimal


def test_malformed_problems_name_the_culprit():
    with pytest.raises(ValueError, match="candidate 0 \\(key 7\\)"):
        plan_optimize(problem=Problem(quantities=(1, 1), candidates=(cand(7, 1.0, (1.0,), (1,)),)))
    with pytest.raises(ValueError, match="line 1"):
        plan_optimize(problem=Problem(quantities=(1, -1), candidates=()))
    with pytest.raises(ValueError, match="key 3.*negative"):
        plan_optimize(problem=Problem(quantities=(1,), candidates=(cand(3, -5.0, (1.0,), (1,)),)))


def test_plan_cost_counts_fixed_once_per_location_and_penalty_per_extra_shipment():
    problem = Problem(
        quantities=(2, 1),
        candidates=(cand(1, 10.0, (1.0, 2.0), (5, 5)), cand(2, 4.0, (3.0, 3.0), (5, 5))),
        split_penalty=2.5,
    )
    assert plan_cost(problem=problem, allocations=[[(0, 1), (1, 1)], [(0, 1)]]) == pytest.approx(
        10 + 4 + 1 + 3 + 2 + 2.5
    )
    assert plan_cost(problem=problem, allocations=[[], []]) == 0.0
    with pytest.raises(ValueError, match="2 lines"):
        plan_cost(problem=problem, allocations=[[]])


def brute_force(problem: Problem) -> tuple[int, float]:
    """Every subset of candidates (within the cap), each filled cheapest first: the lexicographic best."""
    n = len(problem.candidates)
    best = (0, 0.0)
    top = n if problem.max_shipments is None else min(n, problem.max_shipments)
    for k in range(1, top + 1):
        for subset in itertools.combinations(range(n), k):
            plan = plan_from_set(problem=problem, chosen=list(subset))
            placed = plan.placed
            if problem.ship_complete and placed < sum(problem.quantities):
                continue
            if placed > best[0] or (placed == best[0] and plan.cost < best[1] - 1e-9):
                best = (placed, plan.cost)
    return best


def test_exact_against_brute_force_on_random_small_networks():
    rng = random.Random(20250602)
    for _ in range(300):
        problem = problem_random_small(rng=rng, max_candidates=7)
        plan = plan_optimize(problem=problem)
        assert plan_violations(problem=problem, plan=plan) == [], problem
        assert plan.optimal
        placed, cost = brute_force(problem)
        assert plan.placed == placed, problem
        assert plan.cost == pytest.approx(cost, abs=1e-6), problem


def test_exact_against_the_milp_oracle_on_random_networks():
    rng = random.Random(42)
    checked = 0
    for _ in range(300):
        problem = problem_random_small(rng=rng, max_lines=5, max_candidates=12)
        plan = plan_optimize(problem=problem)
        ref = plan_oracle(problem=problem)
        assert ref.optimal
        assert plan_violations(problem=problem, plan=plan) == [], problem
        assert plan.placed == ref.placed, problem
        assert abs(plan.cost - ref.cost) <= 1e-6, problem
        checked += 1
    assert checked == 300


def test_exact_against_the_milp_oracle_on_benchmark_like_orders():
    for problem in problems_generate(count=60, seed=5, max_lines=8, max_candidates=60):
        plan = plan_optimize(problem=problem)
        ref = plan_oracle(problem=problem)
        assert plan.optimal and ref.optimal
        assert plan.placed == ref.placed
        assert abs(plan.cost - ref.cost) <= 1e-6
