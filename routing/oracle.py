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


def _supply_pairs(problem: Problem) -> tuple[list[tuple[int, int]], list[int]]:
    """Pairs (c, l) that can supply; per pair the upper bound on units (a unit count, or 1 for a whole line)."""
    q = problem.quantities
    pairs: list[tuple[int, int]] = []
    ub: list[int] = []
    for c, cand in enumerate(problem.candidates):
        if not math.isfinite(cand.fixed_cost):
            continue
        for line in range(len(q)):
            qty, a, u = q[line], cand.available[line], cand.unit_costs[line]
            if qty <= 0 or a <= 0 or not math.isfinite(u):
                continue
            if problem.line_split:
                pairs.append((c, line))
                ub.append(min(a, qty))
            elif a >= qty:
                pairs.append((c, line))
                ub.append(1)  # w[c,l]: the whole line from c
    return pairs, ub


class _Model:
    """The MILP's variables (x per pair, y per location, z), objective pieces and constraint rows."""

    def __init__(self, *, problem: Problem, pairs: list[tuple[int, int]], ub: list[int]) -> None:
        q = problem.quantities
        self.problem, self.pairs, self.ub = problem, pairs, ub
        self.locs = sorted({c for c, _ in pairs})
        n_x, self.n_y = len(pairs), len(self.locs)
        self.y0, self.z = n_x, n_x + self.n_y
        self.n_var = self.z + 1
        split = problem.line_split
        self.units_per = np.array([1.0 if split else float(q[line]) for _, line in pairs])  # units per x/w
        pen = float(problem.split_penalty)
        cands = problem.candidates
        self.cost = np.zeros(self.n_var)
        for j, (c, line) in enumerate(pairs):
            self.cost[j] = cands[c].unit_costs[line] * self.units_per[j]
        for k, c in enumerate(self.locs):
            self.cost[self.y0 + k] = cands[c].fixed_cost + pen
        self.cost[self.z] = -pen
        self.placed = np.zeros(self.n_var)
        self.placed[:n_x] = self.units_per
        self.rows: list[int] = []
        self.cols: list[int] = []
        self.vals: list[float] = []
        self.lo: list[float] = []
        self.hi: list[float] = []

    def add_row(self, entries: list[tuple[int, float]], low: float, high: float) -> None:
        r = len(self.lo)
        for col, v in entries:
            self.rows.append(r)
            self.cols.append(col)
            self.vals.append(v)
        self.lo.append(low)
        self.hi.append(high)

    def line_rows(self) -> bool:
        """Per line: at most the quantity (ship_complete: exactly; w/o split: at most one whole-line source).
        False when ship_complete cannot be met (a wanted line no candidate can supply)."""
        q, problem = self.problem.quantities, self.problem
        for line in range(len(q)):
            entries = [(j, self.units_per[j]) for j, (_, ln) in enumerate(self.pairs) if ln == line]
            if problem.ship_complete:
                if not entries and q[line] > 0:
                    return False
                if entries:
                    self.add_row(entries, q[line], q[line])
            elif entries:
                self.add_row(entries, 0, q[line])
        return True

    def location_rows(self) -> None:
        y0, z, pen = self.y0, self.z, float(self.problem.split_penalty)
        col_of = {c: j for j, c in enumerate(self.locs)}
        # x[c,l] ≤ ub · y[c]: only a shipping location supplies.
        pairs_of: dict[int, list[int]] = {c: [] for c in self.locs}
        for j, (c, _) in enumerate(self.pairs):
            self.add_row([(j, 1.0), (y0 + col_of[c], -float(self.ub[j]))], -np.inf, 0)
            pairs_of[c].append(j)
        # y[c] ≤ Σ_l x[c,l] and z ≥ y[c] are needed only when they could bind: when shipping from c would pay
        # for itself (fixed + penalty < 0), or when an empty plan would be charged (penalty < 0). With ordinary
        # costs the minimisation never opens an unused location, and z ≤ Σ y below settles the refund.
        for k, c in enumerate(self.locs):
            if self.cost[y0 + k] < 0:
                self.add_row([(y0 + k, 1.0)] + [(j, -1.0) for j in pairs_of[c]], -np.inf, 0)
            if pen < 0:
                self.add_row([(z, 1.0), (y0 + k, -1.0)], 0, np.inf)
        self.add_row([(z, 1.0)] + [(y0 + k, -1.0) for k in range(self.n_y)], -np.inf, 0)  # z ≤ Σ y
        cap = self.problem.max_shipments
        if cap is not None:
            self.add_row([(y0 + k, 1.0) for k in range(self.n_y)], 0, cap)

    def most_placeable(self) -> int:
        """Every unit the candidates hold can be placed (no shipment cap, or ship_complete)."""
        q = self.problem.quantities
        return sum(
            min(
                q[line],
                int(sum(self.ub[j] * self.units_per[j] for j, (_, ln) in enumerate(self.pairs) if ln == line)),
            )
            for line in range(len(q))
        )


class _Solver:
    def __init__(self, *, model: _Model, time_limit_s: float) -> None:
        self.model = model
        self.base_rows = len(model.lo)
        self.bounds = Bounds(np.zeros(model.n_var), np.array([float(b) for b in model.ub] + [1.0] * (model.n_y + 1)))
        self.integrality = np.ones(model.n_var)
        self.time_limit_s = time_limit_s
        self.t0 = time.perf_counter()
        self.solves = 0

    def solve(self, c_vec: np.ndarray, extra: tuple[np.ndarray, float] | None):
        m = self.model
        self.solves += 1
        r, cc, v, lo_, hi_ = list(m.rows), list(m.cols), list(m.vals), list(m.lo), list(m.hi)
        if extra is not None:
            vec, at_least = extra
            for col in np.nonzero(vec)[0]:
                r.append(self.base_rows)
                cc.append(int(col))
                v.append(float(vec[col]))
            lo_.append(at_least)
            hi_.append(np.inf)
        a = coo_array((v, (r, cc)), shape=(len(lo_), m.n_var)).tocsr()
        left = max(0.1, self.time_limit_s - (time.perf_counter() - self.t0))
        return milp(
            c_vec,
            constraints=LinearConstraint(a, np.array(lo_), np.array(hi_)),
            integrality=self.integrality,
            bounds=self.bounds,
            options={"time_limit": left, "mip_rel_gap": 0.0},
        )


def _plan_from_solution(*, problem: Problem, model: _Model, res, solves: int) -> Plan:
    q = problem.quantities
    allocations: list[list[tuple[int, int]]] = [[] for _ in range(len(q))]
    for j, (c, line) in enumerate(model.pairs):
        v = round(res.x[j])
        if v > 0:
            allocations[line].append((c, int(v * model.units_per[j])))
    used = {c for allocs in allocations for c, _ in allocs}
    got = [sum(u for _, u in allocs) for allocs in allocations]
    return Plan(
        allocations=allocations,
        unplaced=tuple(q[line] - got[line] for line in range(len(q))),
        cost=plan_cost(problem=problem, allocations=allocations),
        shipments=len(used),
        optimal=res.status == 0,
        nodes=solves,
    )


def plan_oracle(*, problem: Problem, time_limit_s: float = 10.0) -> Plan:
    """The lexicographically best plan (most units placed, then least cost) by mixed-integer programming.

    `optimal` is False when HiGHS stopped on the time limit; `nodes` is the number of MILP solves (1 or 2)."""
    problem_check(problem=problem)
    cap = problem.max_shipments
    pairs, ub = _supply_pairs(problem)
    if not pairs or cap == 0:
        return plan_empty(problem=problem)
    model = _Model(problem=problem, pairs=pairs, ub=ub)
    if not model.line_rows():
        return plan_empty(problem=problem)
    model.location_rows()
    solver = _Solver(model=model, time_limit_s=time_limit_s)
    # Stage 1 (only with a shipment cap; without one every available unit can be placed).
    if cap is not None and not problem.ship_complete:
        res = solver.solve(-model.placed, None)
        if res.x is None:
            return plan_empty(problem=problem, optimal=False, nodes=solver.solves)
        most = round(-res.fun)
    else:  # every unit the candidates hold can be placed (ship_complete: the line rows demand all of them)
        most = model.most_placeable()
    if most == 0:
        return plan_empty(problem=problem, nodes=solver.solves)
    res = solver.solve(model.cost, (model.placed, most - 0.5))
    if res.x is None:  # ship_complete infeasible (e.g. the shipment cap), or the time limit with no solution
        return plan_empty(problem=problem, optimal=res.status == 2, nodes=solver.solves)  # 2: proven infeasible
    return _plan_from_solution(problem=problem, model=model, res=res, solves=solver.solves)
