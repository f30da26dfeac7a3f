"""Exact cost-optimal sourcing plan for one order (pure Python, no Django, no database).

The problem (docs: ARCHITECTURE.md "Notes on the optimizer"): choose the set S of locations that ship and how
many units of each line each of them sends. Cost = Σ over used locations of their fixed cost (package base +
handling per order + adjustments) + Σ over units of their unit cost (per kg × weight + handling per unit) +
split penalty × (|S| − 1). The objective is lexicographic: first place as many units as possible (within
max_shipments, ship_complete and line_split), then minimise cost.

Given S, the best assignment is independent per line: fill it from the cheapest per-unit location in S first
(a fractional knapsack with unit items), which also places the most units S can place. So the search is over S
only, a small facility-location problem with coverage, solved by branch and bound:

* Single-location plans are evaluated first; most orders end there.
* A node fixes some locations in (I) and some out; the rest (U) are undecided. Its bound on placed units is,
  per line, what I ∪ U can supply (with a shipment cap: I plus the k largest suppliers in U). Its lower bound
  on cost, valid for every plan that uses all of I, places the node's maximum and uses only I ∪ U, is
  Σ fixed(I) + a per-line fractional fill where a unit from u ∈ U also carries its share of u's fixed cost:
  fixed / (lines u can serve × units u can send for this line).
* Branch on the uncovered line with the fewest undecided candidates, on its cheapest (amortised) candidate:
  include first, then exclude. With every line covered, branch on a location that would still make a unit
  cheaper; if there is none, the node's own plan is the best of its subtree.

line_split=False is modelled by capping each location's availability for a line at 0 or the full quantity, so
the same fill takes the whole line from one location. ship_complete starts the search with the target "all
units" and an infinite incumbent cost, so every partial subtree is pruned by its placement bound.
"""

from __future__ import annotations

import math
from bisect import insort
from dataclasses import dataclass

INF = math.inf
_TOL = 1e-9  # cost ties closer than this are ties (costs are dollars, so far below a cent)


@dataclass(frozen=True, slots=True)
class Candidate:
    key: int  # caller's id for the location (e.g. Location.pk)
    fixed_cost: float  # one shipment from here: package base + handling per order (+ rule adjustments)
    unit_costs: tuple[float, ...]  # per order line: cost of one unit from here; math.inf = not from here
    available: tuple[int, ...]  # per order line: units that can be taken here


@dataclass(frozen=True, slots=True)
class Problem:
    quantities: tuple[int, ...]  # units wanted per line
    candidates: tuple[Candidate, ...]
    split_penalty: float = 2.0  # added per shipment beyond the first
    max_shipments: int | None = None
    ship_complete: bool = False  # all units placed, or none
    line_split: bool = True  # False: each line's units all come from one location (or the line is unplaced)


@dataclass(slots=True)
class Plan:
    allocations: list[list[tuple[int, int]]]  # per line: [(candidate index, units)], units > 0
    unplaced: tuple[int, ...]  # per line: units not placed (to backorder)
    cost: float  # Σ fixed of used + Σ unit costs + split_penalty × (used − 1)
    shipments: int  # number of distinct candidates used
    optimal: bool  # proven optimal (False only when node_limit was hit)
    nodes: int

    @property
    def placed(self) -> int:
        return sum(units for line in self.allocations for _, units in line)

    @property
    def used(self) -> list[int]:
        """Candidate indices that ship, in first-use order."""
        return list(dict.fromkeys(i for line in self.allocations for i, _ in line))


def problem_check(*, problem: Problem) -> None:
    """Raise ValueError naming the candidate or line when the problem's shapes or numbers are malformed."""
    n_lines = len(problem.quantities)
    for line, qty in enumerate(problem.quantities):
        if qty < 0:
            raise ValueError(f"line {line}: quantity must be ≥ 0, got {qty}")
    if problem.max_shipments is not None and problem.max_shipments < 0:
        raise ValueError(f"max_shipments must be ≥ 0 or None, got {problem.max_shipments}")
    for i, cand in enumerate(problem.candidates):
        if len(cand.unit_costs) != n_lines or len(cand.available) != n_lines:
            raise ValueError(
                f"candidate {i} (key {cand.key}): expected {n_lines} unit costs and availabilities, "
                f"got {len(cand.unit_costs)} and {len(cand.available)}"
            )


def plan_cost(*, problem: Problem, allocations: list[list[tuple[int, int]]]) -> float:
    """Cost of an allocation: Σ fixed of used candidates + Σ unit costs × units + split penalty × (used − 1).

    Units from a candidate whose unit cost for that line is math.inf make the cost math.inf."""
    if len(allocations) != len(problem.quantities):
        raise ValueError(f"expected allocations for {len(problem.quantities)} lines, got {len(allocations)}")
    cands = problem.candidates
    used: dict[int, None] = {}
    cost = 0.0
    for line, allocs in enumerate(allocations):
        for i, units in allocs:
            if units <= 0:
                continue
            cost += cands[i].unit_costs[line] * units
            used[i] = None
    if used:
        cost += sum(cands[i].fixed_cost for i in used) + problem.split_penalty * (len(used) - 1)
    return cost


def plan_violations(*, problem: Problem, plan: Plan) -> list[str]:
    """What is wrong with `plan` for `problem` (empty when it is feasible): over-availability, forbidden
    lines, more units than wanted, shipment cap, ship-complete and line-split breaches, wrong unplaced."""
    out: list[str] = []
    cands = problem.candidates
    used: set[int] = set()
    placed_total = 0
    for line, allocs in enumerate(plan.allocations):
        qty = problem.quantities[line]
        got = 0
        for i, units in allocs:
            if units <= 0:
                out.append(f"line {line}: non-positive units {units} from candidate {i}")
                continue
            if not math.isfinite(cands[i].unit_costs[line]):
                out.append(f"line {line}: candidate {i} may not supply it")
            if units > cands[i].available[line]:
                out.append(f"line {line}: {units} units from candidate {i}, which has {cands[i].available[line]}")
            used.add(i)
            got += units
        if got > qty:
            out.append(f"line {line}: {got} units placed, {qty} wanted")
        if not problem.line_split and len(allocs) > 1:
            out.append(f"line {line}: split across {len(allocs)} locations")
        if not problem.line_split and allocs and got != qty:
            out.append(f"line {line}: only {got} of {qty} units placed without line split")
        if plan.unplaced[line] != qty - got:
            out.append(f"line {line}: unplaced {plan.unplaced[line]}, expected {qty - got}")
        placed_total += got
    if problem.max_shipments is not None and len(used) > problem.max_shipments:
        out.append(f"{len(used)} shipments, at most {problem.max_shipments} allowed")
    if problem.ship_complete and 0 < placed_total < sum(problem.quantities):
        out.append("ship complete: partly placed")
    if plan.shipments != len(used):
        out.append(f"shipments {plan.shipments}, expected {len(used)}")
    return out


def plan_empty(*, problem: Problem, optimal: bool = True, nodes: int = 0) -> Plan:
    """The plan that places nothing (every unit backordered)."""
    return Plan(
        allocations=[[] for _ in problem.quantities],
        unplaced=tuple(problem.quantities),
        cost=0.0,
        shipments=0,
        optimal=optimal,
        nodes=nodes,
    )


def plan_from_set(*, problem: Problem, chosen: list[int], optimal: bool = True, nodes: int = 0) -> Plan:
    """The best plan that ships only from candidate indices `chosen`: each line filled from the cheapest
    per-unit candidate first (whole lines only when line_split is False)."""
    q = problem.quantities
    cands = problem.candidates
    allocations: list[list[tuple[int, int]]] = []
    unplaced = []
    for line, qty in enumerate(q):
        options = sorted(
            (cands[i].unit_costs[line], i)
            for i in chosen
            if cands[i].available[line] > 0 and cands[i].unit_costs[line] < INF
        )
        need = qty
        allocs: list[tuple[int, int]] = []
        for _, i in options:
            if need <= 0:
                break
            have = cands[i].available[line]
            if not problem.line_split:
                if have >= qty:
                    allocs.append((i, qty))
                    need = 0
                continue
            take = have if have < need else need
            allocs.append((i, take))
            need -= take
        allocations.append(allocs)
        unplaced.append(need)
    used = {i for allocs in allocations for i, _ in allocs}
    return Plan(
        allocations=allocations,
        unplaced=tuple(unplaced),
        cost=plan_cost(problem=problem, allocations=allocations),
        shipments=len(used),
        optimal=optimal,
        nodes=nodes,
    )


def _fixed_costs_check(problem: Problem) -> None:
    for i, cand in enumerate(problem.candidates):
        if cand.fixed_cost + problem.split_penalty < 0:
            raise ValueError(
                f"candidate {i} (key {cand.key}): fixed cost {cand.fixed_cost} + split penalty "
                f"{problem.split_penalty} is negative; clamp preference adjustments so it is ≥ 0"
            )


@dataclass(slots=True)
class _Useful:
    """Flat per-order arrays over the useful candidates only (index c here; orig[c] in the problem)."""

    orig: list[int]
    avail: list[list[int]]  # units c can send for each line (capped at the quantity; 0 or qty w/o split)
    ucost: list[tuple[float, ...]]
    fixed: list[float]  # fixed cost + split penalty (the penalty is refunded once for a non-empty plan)


def _useful_candidates(problem: Problem) -> _Useful:
    q = problem.quantities
    lines = range(len(q))
    pen = float(problem.split_penalty)
    split = problem.line_split
    out = _Useful([], [], [], [])
    for i, cand in enumerate(problem.candidates):
        f = cand.fixed_cost
        if not (-INF < f < INF):
            continue
        uc = cand.unit_costs
        av = cand.available
        row = [0] * len(q)
        useful = False
        for line in lines:
            qty = q[line]
            a = av[line]
            u = uc[line]
            if qty > 0 and a > 0 and -INF < u < INF:
                if split:
                    row[line] = a if a < qty else qty
                    useful = True
                elif a >= qty:
                    row[line] = qty
                    useful = True
        if useful:
            out.orig.append(i)
            out.avail.append(row)
            out.ucost.append(uc)
            out.fixed.append(f + pen)
    return out


class _Search:
    """Depth-first branch and bound over which candidates ship (include/exclude), keeping the incumbent
    (placed, cost, chosen set). The hot loops read the arrays through locals."""

    __slots__ = (
        "q", "lines", "pen", "cap", "n", "avail", "ucost", "fixed", "lines_of", "by_e_c", "by_e_e", "by_a",
        "state", "chosen", "in_ucost", "ai", "au", "cnt_u", "target", "fixed_in", "nodes", "node_limit",
        "hit_limit", "best_p", "best_c", "best_s",
    )  # fmt: skip

    def __init__(self, *, problem: Problem, useful: _Useful, supply: list[int], node_limit: int) -> None:
        q = self.q = problem.quantities
        lines = self.lines = range(len(q))
        self.pen = float(problem.split_penalty)
        self.cap = problem.max_shipments
        n = self.n = len(useful.orig)
        avail = self.avail = useful.avail
        self.ucost = useful.ucost
        self.fixed = useful.fixed
        self.lines_of = [tuple(line for line in lines if avail[c][line]) for c in range(n)]
        self._line_orders()
        self.state = bytearray(n)  # 0 undecided, 1 in, 2 out
        self.chosen: list[int] = []
        self.in_ucost: list[list[tuple[float, int]]] = [[] for _ in lines]  # per line, chosen (unit cost, c)
        self.ai = [0] * len(q)  # units the chosen set can send per line
        self.au = supply[:]  # units the undecided set can send per line
        self.cnt_u = [len(self.by_e_c[line]) for line in lines]
        self.target = [0] * len(q)  # scratch: per-line placement bound of the current node
        self.fixed_in = 0.0
        self.nodes = 0
        self.node_limit = node_limit
        self.hit_limit = False
        # Incumbent: (placed, cost, chosen set). ship_complete demands everything, so it starts at "all, ∞".
        if problem.ship_complete:
            self.best_p, self.best_c, self.best_s = sum(q), INF, None
        else:
            self.best_p, self.best_c, self.best_s = 0, 0.0, ()

    def _line_orders(self) -> None:
        """Per line, the candidates by amortised unit cost (unit cost + its share of the fixed cost) and by
        units they can send."""
        avail, fixed, ucost, lines_of = self.avail, self.fixed, self.ucost, self.lines_of
        self.by_e_c, self.by_e_e, self.by_a = [], [], []
        for line in self.lines:
            ents = []
            for c in range(self.n):
                a = avail[c][line]
                if a:
                    ents.append((ucost[c][line] + fixed[c] / (len(lines_of[c]) * a), c))
            ents.sort()
            self.by_e_c.append(tuple(c for _, c in ents))
            self.by_e_e.append(tuple(e for e, _ in ents))
            self.by_a.append(tuple(sorted((c for _, c in ents), key=lambda c, line=line: -avail[c][line])))

    def singles(self) -> None:
        """Single-location plans first."""
        avail, ucost, fixed, pen = self.avail, self.ucost, self.fixed, self.pen
        for c in range(self.n):
            row = avail[c]
            p = sum(row)
            if p < self.best_p:
                continue
            uc = ucost[c]
            cost = fixed[c] - pen
            for line in self.lines_of[c]:
                cost += uc[line] * row[line]
            if p > self.best_p or cost < self.best_c - _TOL:
                self.best_p, self.best_c, self.best_s = p, cost, (c,)

    def evaluate(self) -> None:
        """The chosen set's own plan: fill each line cheapest first; only used candidates pay their fixed cost."""
        q, avail, in_ucost = self.q, self.avail, self.in_ucost
        placed = 0
        cost = -self.pen
        used = 0
        for line in self.lines:
            need = q[line]
            for u, c in in_ucost[line]:
                if need == 0:
                    break
                a = avail[c][line]
                take = a if a < need else need
                placed += take
                cost += u * take
                need -= take
                used |= 1 << c
        if placed < self.best_p or placed == 0:
            return
        fixed = self.fixed
        for c in self.chosen:
            if used >> c & 1:
                cost += fixed[c]
        if placed > self.best_p or cost < self.best_c - _TOL:
            self.best_p, self.best_c = placed, cost
            self.best_s = tuple(c for c in self.chosen if used >> c & 1)

    def placement_bound(self, k_left: int) -> int:
        """Units the node can place at most (sets `target` per line)."""
        q, ai, au, cnt_u, by_a, state, avail, target = (
            self.q, self.ai, self.au, self.cnt_u, self.by_a, self.state, self.avail, self.target,
        )  # fmt: skip
        bound_p = 0
        for line in self.lines:
            if k_left >= cnt_u[line]:
                t = ai[line] + au[line]
            else:  # only k_left more locations: the k_left largest undecided suppliers
                t = ai[line]
                k = k_left
                for c in by_a[line]:
                    if state[c] == 0:
                        t += avail[c][line]
                        k -= 1
                        if k == 0:
                            break
            t = min(t, q[line])
            target[line] = t
            bound_p += t
        return bound_p

    def cost_bound(self) -> tuple[float, int]:
        """A lower bound on the cost of placing `target` and the candidate to branch on (-1 if none)."""
        in_ucost, avail, state, target, ai, cnt_u = (
            self.in_ucost, self.avail, self.state, self.target, self.ai, self.cnt_u,
        )  # fmt: skip
        lb = self.fixed_in - self.pen
        branch_line = -1
        branch_cnt = self.n + 1
        branch_c = -1
        any_u = -1
        for line in self.lines:
            need = target[line]
            if need == 0:
                continue
            iu = in_ucost[line]
            ni = len(iu)
            pi = 0
            ce = self.by_e_c[line]
            ee = self.by_e_e[line]
            ne = len(ce)
            pe = 0
            first_u = -1
            while need > 0:
                while pe < ne and state[ce[pe]]:
                    pe += 1
                if pi < ni and (pe >= ne or iu[pi][0] <= ee[pe]):
                    u, c = iu[pi]
                    pi += 1
                    a = avail[c][line]
                    take = a if a < need else need
                    lb += u * take
                    need -= take
                elif pe < ne:
                    c = ce[pe]
                    a = avail[c][line]
                    take = a if a < need else need
                    lb += ee[pe] * take
                    need -= take
                    if first_u < 0:
                        first_u = c
                    pe += 1
                else:  # cannot happen: the target never exceeds what I ∪ U can send
                    break
            if first_u >= 0:
                if any_u < 0:
                    any_u = first_u
                if ai[line] < target[line] and cnt_u[line] < branch_cnt:
                    branch_line, branch_cnt, branch_c = line, cnt_u[line], first_u
        return lb, (branch_c if branch_line >= 0 else any_u)

    def node(self) -> None:
        self.nodes += 1
        if self.nodes > self.node_limit:
            self.hit_limit = True
            return
        k_left = self.n if self.cap is None else self.cap - len(self.chosen)
        if k_left <= 0:
            return
        bound_p = self.placement_bound(k_left)
        if bound_p < self.best_p or bound_p == 0:
            return
        lb, c = self.cost_bound()
        if bound_p == self.best_p and lb >= self.best_c - _TOL:
            return
        if c < 0:
            return  # the chosen set already does best for this subtree (and was evaluated)
        self.branch(c)

    def branch(self, c: int) -> None:
        """Explore with c included, then with c excluded."""
        row = self.avail[c]
        lc = self.lines_of[c]
        uc = self.ucost[c]
        ai, au, cnt_u, in_ucost, state = self.ai, self.au, self.cnt_u, self.in_ucost, self.state
        state[c] = 1
        self.chosen.append(c)
        self.fixed_in += self.fixed[c]
        for line in lc:
            ai[line] += row[line]
            au[line] -= row[line]
            cnt_u[line] -= 1
            insort(in_ucost[line], (uc[line], c))
        self.evaluate()
        self.node()
        for line in lc:
            ai[line] -= row[line]
            in_ucost[line].remove((uc[line], c))
        self.chosen.pop()
        self.fixed_in -= self.fixed[c]
        if self.hit_limit:
            return
        state[c] = 2
        self.node()
        state[c] = 0
        for line in lc:
            au[line] += row[line]
            cnt_u[line] += 1


def plan_optimize(*, problem: Problem, node_limit: int = 200_000) -> Plan:
    """The lexicographically best plan: most units placed, then least cost (see the module docstring).

    Exact unless `node_limit` nodes were explored (then `optimal` is False and the best plan found is
    returned). ship_complete with anything unplaceable returns the empty plan.

    Requires fixed_cost + split_penalty ≥ 0 for every candidate (true of any real cost model: a preference
    adjustment must not make a shipment pay for itself, or "ship one unit from there" would become a bonus
    the per-line fill does not see); raises ValueError naming the candidate otherwise. Unit costs may be
    negative."""
    problem_check(problem=problem)
    _fixed_costs_check(problem)
    q = problem.quantities
    useful = _useful_candidates(problem)
    n = len(useful.orig)
    supply = [sum(useful.avail[c][line] for c in range(n)) for line in range(len(q))]
    reach = sum(min(q[line], supply[line]) for line in range(len(q)))
    if reach == 0 or problem.max_shipments == 0 or (problem.ship_complete and reach < sum(q)):
        return plan_empty(problem=problem)
    search = _Search(problem=problem, useful=useful, supply=supply, node_limit=node_limit)
    search.singles()
    search.node()
    if search.best_s is None or search.best_p == 0:
        return plan_empty(problem=problem, optimal=not search.hit_limit, nodes=search.nodes)
    return plan_from_set(
        problem=problem,
        chosen=[useful.orig[c] for c in search.best_s],
        optimal=not search.hit_limit,
        nodes=search.nodes,
    )
