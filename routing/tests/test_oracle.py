"""plan_oracle (scipy.optimize.milp / HiGHS): checked against brute-force enumeration and hand cases."""

import math
import random

import pytest

from bench.routing_optimizer import problem_random_small
from routing.optimizer import Candidate, Problem, plan_cost, plan_violations
from routing.oracle import plan_oracle
from routing.tests.test_optimizer import brute_force

INF = math.inf


def cand(key, fixed, units, avail):
    return Candidate(key=key, fixed_cost=fixed, unit_costs=tuple(units), available=tuple(avail))


def oracle(quantities, candidates, **options):
    problem = Problem(quantities=tuple(quantities), candidates=tuple(candidates), **options)
    plan = plan_oracle(problem=problem)
    assert plan.optimal
    assert plan_violations(problem=problem, plan=plan) == []
    assert plan.cost == pytest.approx(plan_cost(problem=problem, allocations=plan.allocations))
    return plan


def test_oracle_matches_brute_force_on_random_small_networks():
    rng = random.Random(11)
    for _ in range(200):
        problem = problem_random_small(rng=rng, max_candidates=6)
        plan = plan_oracle(problem=problem)
        assert plan.optimal
        assert plan_violations(problem=problem, plan=plan) == [], problem
        placed, cost = brute_force(problem)
        assert plan.placed == placed, problem
        assert plan.cost == pytest.approx(cost, abs=1e-6), problem


def test_nothing_available():
    plan = oracle((1, 2), [cand(1, 5.0, (INF, 1.0), (3, 0))])
    assert plan.unplaced == (1, 2) and plan.shipments == 0
    assert oracle((1,), []).unplaced == (1,)


def test_split_when_cheaper():
    plan = oracle(
        (1, 1), [cand(1, 20.0, (1.0, 1.0), (9, 9)), cand(2, 6.0, (1.0, INF), (1, 0)), cand(3, 6.0, (INF, 1.0), (0, 1))]
    )
    assert plan.cost == pytest.approx(16.0)
    assert plan.shipments == 2


def test_ship_complete_infeasible_places_nothing():
    candidates = [cand(1, 5.0, (1.0, INF), (1, 0)), cand(2, 5.0, (INF, 1.0), (0, 1))]
    assert oracle((2, 1), candidates, ship_complete=True).unplaced == (2, 1)
    assert oracle((1, 1), candidates, ship_complete=True, max_shipments=1).unplaced == (1, 1)
    assert oracle((1, 1), candidates, ship_complete=True).unplaced == (0, 0)


def test_max_shipments_one_places_most_then_cheapest():
    candidates = [
        cand(1, 3.0, (1.0, INF, 1.0), (1, 0, 1)),
        cand(2, 9.0, (1.0, 1.0, INF), (1, 1, 0)),
        cand(3, 1.0, (INF, 1.0, INF), (0, 1, 0)),
    ]
    plan = oracle((1, 1, 1), candidates, max_shipments=1)
    assert plan.allocations == [[(0, 1)], [], [(0, 1)]]
    assert oracle((1, 1, 1), candidates, max_shipments=0).unplaced == (1, 1, 1)


def test_no_line_split():
    candidates = [cand(1, 1.0, (1.0,), (2,)), cand(2, 1.0, (1.0,), (2,)), cand(3, 30.0, (1.0,), (3,))]
    assert oracle((3,), candidates).shipments == 2
    assert oracle((3,), candidates, line_split=False).allocations == [[(2, 3)]]
    assert oracle((3,), candidates[:2], line_split=False).unplaced == (3,)


def test_negative_fixed_cost_is_a_bonus_the_oracle_takes():
    # The optimizer refuses fixed + penalty < 0; the oracle models it: A(1) + B(1) = 10 + 1 − 8 + 3 = 6 < 12.
    plan = oracle((2,), [cand(1, 10.0, (1.0,), (2,)), cand(2, -8.0, (3.0,), (1,))], split_penalty=0.0)
    assert plan.cost == pytest.approx(6.0)
    assert sorted(plan.allocations[0]) == [(0, 1), (1, 1)]
