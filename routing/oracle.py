"""The exact MILP oracle for one order's plan: `scipy.optimize.milp` (HiGHS) on the optimizer's Problem.

Independent of the branch and bound in routing/optimizer.py, so tests and the benchmark can check that the
optimizer's plans are optimal. Same lexicographic objective, solved in two stages when a shipment cap makes the
first one non-trivial: (1) the most units that can be placed, (2) the least cost placing that many.

Variables, over the (candidate, line) pairs that can supply anything:
  x[c,l] ≥ 0 integer, units of line l from c (line_split=False: x = qty · w, w binary, one w per line at most)
  y[c] binary, c ships; z binary, the plan is non-empty (the split penalty is refunded once).
Cost = Σ (fixed[c] + penalty) · y[c] − penalty · z + Σ unit[c,l] · x[c,l].
"""

from __future__ import annotations

import math
import time

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_array

from routing.optimizer import Plan, Problem, plan_cost, plan_empty, problem_check


def plan_oracle(*, problem: Problem, time_limit_s: float = 10.0) -> Plan:  # noqa: C901
    """The lexicographically best plan (most units placed, then least cost) by mixed-integer programming.

    `optimal` is False when HiGHS stopped on the time limit; `nodes` is the number of MILP solves (1 or 2)."""
    problem_check(problem=problem)
    q = problem.quantities
    n_lines = len(q)
    pen = float(problem.split_penalty)
    split = problem.line_split
    cap = problem.max_shipments
    cands = problem.candidates

    # Pairs (c, l) that can supply; per pair the upper bound on units (a unit count, or qty for whole lines).
    pairs: list[tuple[int, int]] = []
    ub: list[int] = []
    for c, cand in enumerate(cands):
        if not math.isfinite(cand.fixed_cost):
            continue
        for line in range(n_lines):
            qty, a, u = q[line], cand.available[line], cand.unit_costs[line]
            if qty <= 0 or a <= 0 or not math.isfinite(u):
                continue
            if split:
                pairs.append((c, line))
                ub.append(min(a, qty))
            elif a >= qty:
                pairs.append((c, line))
                ub.append(1)  # w[c,l]: the whole line from c
    if not pairs or cap == 0:
        return plan_empty(problem=problem)
    locs = sorted({c for c, _ in pairs})
    col_of = {c: j for j, c in enumerate(locs)}
    n_x, n_y = len(pairs), len(locs)
    y0, z = n_x, n_x + n_y
    n_var = z + 1
    units_per = np.array([1.0 if split else float(q[line]) for _, line in pairs])  # units per unit of x/w

    # Objective pieces.
    cost = np.zeros(n_var)
    for j, (c, line) in enumerate(pairs):
        cost[j] = cands[c].unit_costs[line] * units_per[j]
    for k, c in enumerate(locs):
        cost[y0 + k] = cands[c].fixed_cost + pen
    cost[z] = -pen
    placed = np.zeros(n_var)
    placed[:n_x] = units_per

    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    lo: list[float] = []
    hi: list[float] = []

    def add_row(entries: list[tuple[int, float]], low: float, high: float) -> None:
        r = len(lo)
        for col, v in entries:
            rows.append(r)
            cols.append(col)
            vals.append(v)
        lo.append(low)
        hi.append(high)

    # Per line: at most the quantity (ship_complete: exactly; w/o split: at most one whole-line source).
    for line in range(n_lines):
        entries = [(j, units_per[j]) for j, (_, ln) in enumerate(pairs) if ln == line]
        if problem.ship_complete:
            if not entries and q[line] > 0:
                return plan_empty(problem=problem)
            if entries:
                add_row(entries, q[line], q[line])
        elif entries:
            add_row(entries, 0, q[line])
    # x[c,l] ≤ ub · y[c]: only a shipping location supplies.
    pairs_of: dict[int, list[int]] = {c: [] for c in locs}
    for j, (c, _) in enumerate(pairs):
        add_row([(j, 1.0), (y0 + col_of[c], -float(ub[j]))], -np.inf, 0)
        pairs_of[c].append(j)
    # y[c] ≤ Σ_l x[c,l] and z ≥ y[c] are needed only when they could bind: when shipping from c would pay
    # for itself (fixed + penalty < 0), or when an empty plan would be charged (penalty < 0). With ordinary
    # costs the minimisation never opens an unused location, and z ≤ Σ y below settles the refund.
    for k, c in enumerate(locs):
        if cost[y0 + k] < 0:
            add_row([(y0 + k, 1.0)] + [(j, -1.0) for j in pairs_of[c]], -np.inf, 0)
        if pen < 0:
            add_row([(z, 1.0), (y0 + k, -1.0)], 0, np.inf)
    add_row([(z, 1.0)] + [(y0 + k, -1.0) for k in range(n_y)], -np.inf, 0)  # z ≤ Σ y
    if cap is not None:
        add_row([(y0 + k, 1.0) for k in range(n_y)], 0, cap)

    base_rows = len(lo)
    lower = np.zeros(n_var)
    upper = np.array([float(b) for b in ub] + [1.0] * (n_y + 1))
    integrality = np.ones(n_var)
    bounds = Bounds(lower, upper)
    t0 = time.perf_counter()
    solves = 0

    def solve(c_vec: np.ndarray, extra: tuple[np.ndarray, float] | None):
        nonlocal solves
        solves += 1
        r, cc, v, lo_, hi_ = list(rows), list(cols), list(vals), list(lo), list(hi)
        if extra is not None:
            vec, at_least = extra
            for col in np.nonzero(vec)[0]:
                r.append(base_rows)
                cc.append(int(col))
                v.append(float(vec[col]))
            lo_.append(at_least)
            hi_.append(np.inf)
        a = coo_array((v, (r, cc)), shape=(len(lo_), n_var)).tocsr()
        left = max(0.1, time_limit_s - (time.perf_counter() - t0))
        return milp(
            c_vec,
            constraints=LinearConstraint(a, np.array(lo_), np.array(hi_)),
            integrality=integrality,
            bounds=bounds,
            options={"time_limit": left, "mip_rel_gap": 0.0},
        )

    # Stage 1 (only with a shipment cap; without one every available unit can be placed).
    if cap is not None and not problem.ship_complete:
        res = solve(-placed, None)
        if res.x is None:
            return plan_empty(problem=problem, optimal=False, nodes=solves)
        most = round(-res.fun)
    else:  # every unit the candidates hold can be placed (ship_complete: the line rows demand all of them)
        most = sum(
            min(q[line], int(sum(ub[j] * units_per[j] for j, (_, ln) in enumerate(pairs) if ln == line)))
            for line in range(n_lines)
        )
    if most == 0:
        return plan_empty(problem=problem, nodes=solves)
    res = solve(cost, (placed, most - 0.5))
    if res.x is None:  # ship_complete infeasible (e.g. the shipment cap), or the time limit with no solution
        return plan_empty(problem=problem, optimal=res.status == 2, nodes=solves)  # 2: proven infeasible
    allocations: list[list[tuple[int, int]]] = [[] for _ in range(n_lines)]
    for j, (c, line) in enumerate(pairs):
        v = round(res.x[j])
        if v > 0:
            allocations[line].append((c, int(v * units_per[j])))
    used = {c for allocs in allocations for c, _ in allocs}
    got = [sum(u for _, u in allocs) for allocs in allocations]
    return Plan(
        allocations=allocations,
        unplaced=tuple(q[line] - got[line] for line in range(n_lines)),
        cost=plan_cost(problem=problem, allocations=allocations),
        shipments=len(used),
        optimal=res.status == 0,
        nodes=solves,
    )
