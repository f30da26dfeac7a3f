"""Batch re-optimisation: re-solve routed, unreleased orders together (pure: no Django, no database).

Routing decides each order alone, in arrival order, on the stock the earlier orders left: an order can take
the last unit a later multi-line order needed to ship in one package, and that order then splits. Re-solving
the orders of a window jointly, before any of them is released, removes such extra shipments (Xu, Allgor &
Graves). Here each order's own problem is built by `routing.core.order_decide` on the window's shared state
(every window order's units and capacity given back), restricted to its cheapest candidates and those of its
current plan, and one MILP (`scipy.optimize.milp`, HiGHS) chooses every order's plan at once under the shared
stock per product × location and the capacity per location × ship day, placing at least as many units per
order as its current plan. The new plans are then replayed through `order_decide` (so each comes with its full
explanation) and kept only when they save at least `margin` dollars per re-planned order.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_array

from routing.core import Decision, NetworkState, NetworkStatic, OrderView, order_decide
from routing.optimizer import Plan, Problem, plan_cost, plan_optimize


@dataclass(slots=True)
class Routed:
    """One routed order as re-optimisation sees it: the units still to route (its view) and where its current
    plan sends them: {location id: {order line id: units}}, each location's ship day, the plan's cost."""

    order: OrderView
    allocations: dict[int, dict[int, int]]
    ship_days: dict[int, date]
    cost: float

    @property
    def shipments(self) -> int:
        return len(self.allocations)

    @property
    def units(self) -> int:
        return sum(sum(v.values()) for v in self.allocations.values())


@dataclass(slots=True)
class JointResult:
    decisions: dict[int, Decision] = field(default_factory=dict)  # order id → new decision (re-planned only)
    orders: int = 0
    old_cost: float = 0.0  # of the re-planned orders, before
    new_cost: float = 0.0  # of the re-planned orders, after
    old_shipments: int = 0  # of every order of the window
    new_shipments: int = 0
    split_orders: int = 0  # orders of the window whose current plan has more than one shipment
    split_avoidable: int = 0  # …of which one location alone could send every unit (on the window's stock)
    solver: str = "none"  # milp / milp_time_limit / none
    kept_reason: str = ""  # why nothing changed, when nothing did


def routed_from_decision(*, order: OrderView, decision: Decision) -> Routed:
    """A Routed from a core Decision (in-memory replays)."""
    alloc: dict[int, dict[int, int]] = {}
    days: dict[int, date] = {}
    for s in decision.shipments:
        at = alloc.setdefault(s.location_id, {})
        for lid, q in s.lines:
            at[lid] = at.get(lid, 0) + q
        days[s.location_id] = s.ship_date
    return Routed(order=order, allocations=alloc, ship_days=days, cost=decision.cost)


def state_give_back(*, state: NetworkState, routed: Routed) -> None:
    """Return a routed order's units and capacity to `state` (the inverse of NetworkState.apply)."""
    products = {ln.id: ln.product_id for ln in routed.order.lines}
    for loc_id, lines in routed.allocations.items():
        key = (loc_id, routed.ship_days[loc_id])
        state.capacity_used[key] = state.capacity_used.get(key, 0) - 1
        for lid, q in lines.items():
            pid = products[lid]
            at = state.stock.setdefault(pid, {})
            at[loc_id] = at.get(loc_id, 0) + q


def _working_state(state: NetworkState, window: list[Routed]) -> NetworkState:
    pids = {ln.product_id for r in window for ln in r.order.lines}
    work = NetworkState(
        stock={pid: dict(state.stock.get(pid, {})) for pid in pids},
        capacity_used=dict(state.capacity_used),
        capacity_limit=state.capacity_limit,
        lookahead=state.lookahead,  # the same bid prices as the orders were routed with
    )
    for r in window:
        state_give_back(state=work, routed=r)
    return work


@dataclass(slots=True)
class _Option:
    """One order's joint-problem piece: its problem (restricted candidates), their ship days, its current plan."""

    routed: Routed
    problem: Problem
    days: list[date]
    old_alloc: list[list[tuple[int, int]]] | None  # the current plan on this problem's candidates (if it maps)


def _restrict(problem: Problem, infos, keep_keys: set[int], top_k: int) -> tuple[Problem, list[date]]:
    """The `top_k` candidates of cheapest whole-order cost estimate, each line's two cheapest sources, and the
    current plan's locations."""
    q = problem.quantities
    cands = problem.candidates

    def estimate(i: int) -> float:
        c = cands[i]
        return c.fixed_cost + sum(qq * u for qq, u, a in zip(q, c.unit_costs, c.available, strict=True) if a > 0)

    order = sorted(range(len(cands)), key=estimate)
    keep = set(order[:top_k]) | {i for i, c in enumerate(cands) if c.key in keep_keys}
    for line in range(len(q)):
        src = [i for i in order if cands[i].available[line] > 0 and math.isfinite(cands[i].unit_costs[line])]
        keep.update(src[:2])
    idx = sorted(keep)
    sub = Problem(
        quantities=q,
        candidates=tuple(cands[i] for i in idx),
        split_penalty=problem.split_penalty,
        max_shipments=problem.max_shipments,
        ship_complete=problem.ship_complete,
        line_split=problem.line_split,
    )
    return sub, [infos[i].ship_date for i in idx]


def _map_plan(problem: Problem, routed: Routed, lines: list[int]) -> list[list[tuple[int, int]]] | None:
    """The routed plan as allocations over `problem`'s candidates, or None when a location or unit is missing."""
    at = {c.key: i for i, c in enumerate(problem.candidates)}
    alloc: list[list[tuple[int, int]]] = [[] for _ in lines]
    pos = {lid: k for k, lid in enumerate(lines)}
    for loc_id, units in routed.allocations.items():
        i = at.get(loc_id)
        if i is None:
            return None
        for lid, q in units.items():
            k = pos.get(lid)
            if k is None or problem.candidates[i].available[k] < q:
                return None
            alloc[k].append((i, q))
    return alloc


def _options(
    *, window: list[Routed], static: NetworkStatic, work: NetworkState, top_k: int, result: JointResult
) -> list[_Option]:
    out = []
    for r in window:
        d = order_decide(order=r.order, static=static, state=work, prune=False)
        if d.problem is None:
            continue
        if r.shipments > 1:
            result.split_orders += 1
            q = d.problem.quantities
            result.split_avoidable += any(
                all(a >= qq for a, qq in zip(c.available, q, strict=True)) for c in d.problem.candidates
            )
        problem, days = _restrict(d.problem, d.candidates, set(r.allocations), top_k)
        lines = [ln.id for ln in r.order.lines]
        out.append(_Option(routed=r, problem=problem, days=days, old_alloc=_map_plan(problem, r, lines)))
    return out


class _Joint:
    """The joint MILP: x[o,c,l] units, y[o,c] ships; shared stock and capacity; per order at least its units."""

    def __init__(self, options: list[_Option], work: NetworkState, static: NetworkStatic) -> None:
        self.options = options
        self.x: list[tuple[int, int, int]] = []  # (option, candidate, line)
        self.ub: list[float] = []
        self.y: list[tuple[int, int]] = []
        self.cost: list[float] = []
        self.rows, self.cols, self.vals, self.lo, self.hi = [], [], [], [], []
        self._variables()
        self._constraints(work, static)

    def _variables(self) -> None:
        for o, opt in enumerate(self.options):
            p = opt.problem
            for c, cand in enumerate(p.candidates):
                for line, qty in enumerate(p.quantities):
                    a, u = cand.available[line], cand.unit_costs[line]
                    if qty > 0 and a > 0 and math.isfinite(u):
                        self.x.append((o, c, line))
                        self.ub.append(float(min(a, qty)))
                        self.cost.append(u)
        self.n_x = len(self.x)
        for o, opt in enumerate(self.options):
            for c, cand in enumerate(opt.problem.candidates):
                self.y.append((o, c))
                self.cost.append(cand.fixed_cost + opt.problem.split_penalty)
                self.ub.append(1.0)
        self.y_at = {key: self.n_x + k for k, key in enumerate(self.y)}

    def _row(self, entries: list[tuple[int, float]], lo: float, hi: float) -> None:
        r = len(self.lo)
        for col, v in entries:
            self.rows.append(r)
            self.cols.append(col)
            self.vals.append(v)
        self.lo.append(lo)
        self.hi.append(hi)

    def _constraints(self, work: NetworkState, static: NetworkStatic) -> None:
        per_line: dict[tuple[int, int], list[int]] = defaultdict(list)
        per_order: dict[int, list[int]] = defaultdict(list)
        stock: dict[tuple[int, int], list[int]] = defaultdict(list)
        for j, (o, c, line) in enumerate(self.x):
            opt = self.options[o]
            per_line[(o, line)].append(j)
            per_order[o].append(j)
            key = opt.problem.candidates[c].key
            stock[(opt.routed.order.lines[line].product_id, key)].append(j)
            self._row([(j, 1.0), (self.y_at[(o, c)], -self.ub[j])], -np.inf, 0.0)
        for (o, line), js in per_line.items():
            self._row([(j, 1.0) for j in js], 0.0, float(self.options[o].problem.quantities[line]))
        for o, opt in enumerate(self.options):
            need = opt.routed.units
            if need and per_order[o]:
                self._row([(j, 1.0) for j in per_order[o]], float(need), np.inf)
            cap = opt.problem.max_shipments
            if cap is not None:
                ys = [self.y_at[(o, c)] for c in range(len(opt.problem.candidates))]
                self._row([(k, 1.0) for k in ys], 0.0, float(cap))
        for (pid, loc), js in stock.items():
            self._row([(j, 1.0) for j in js], 0.0, float(max(0, work.stock.get(pid, {}).get(loc, 0))))
        slots: dict[tuple[int, date], list[int]] = defaultdict(list)
        for o, c in self.y:
            opt = self.options[o]
            slots[(opt.problem.candidates[c].key, opt.days[c])].append(self.y_at[(o, c)])
        for (loc_id, day), ys in slots.items():
            left = work.capacity_left(static.locations[loc_id], day)
            self._row([(k, 1.0) for k in ys], 0.0, float(max(0, left)))

    def solve(self, time_limit_s: float):
        n = self.n_x + len(self.y)
        a = coo_array((self.vals, (self.rows, self.cols)), shape=(len(self.lo), n)).tocsr()
        return milp(
            np.array(self.cost),
            constraints=LinearConstraint(a, np.array(self.lo), np.array(self.hi)),
            integrality=np.ones(n),
            bounds=Bounds(np.zeros(n), np.array(self.ub)),
            options={"time_limit": time_limit_s, "mip_rel_gap": 1e-4},
        )

    def allocations(self, res) -> list[list[list[tuple[int, int]]]]:
        out = [[[] for _ in opt.problem.quantities] for opt in self.options]
        for j, (o, c, line) in enumerate(self.x):
            v = int(round(res.x[j]))
            if v > 0:
                out[o][line].append((c, v))
        return out


def _same(a: list[list[tuple[int, int]]], b: list[list[tuple[int, int]]] | None) -> bool:
    return b is not None and [sorted(x) for x in a] == [sorted(x) for x in b]


def _forced(problem_ref: Problem, alloc: list[list[tuple[int, int]]]):
    """An `optimize` for order_decide that returns the joint plan mapped onto the problem it is given (by
    location), or that problem's own optimum when the plan does not fit it."""
    return _forcer([[(problem_ref.candidates[c].key, q) for c, q in line] for line in alloc])


def _forcer(want: list[list[tuple[int, int]]]):
    """`optimize` sending per line [(location id, units)]; the problem's own optimum when that does not fit."""

    def optimize(*, problem: Problem) -> Plan:
        at = {cand.key: i for i, cand in enumerate(problem.candidates)}
        mapped = []
        for line, units in enumerate(want):
            row = []
            for key, q in units:
                i = at.get(key)
                if i is None or problem.candidates[i].available[line] < q:
                    return plan_optimize(problem=problem)
                row.append((i, q))
            mapped.append(row)
        got = [sum(q for _, q in row) for row in mapped]
        used = {i for row in mapped for i, _ in row}
        return Plan(
            allocations=mapped,
            unplaced=tuple(q - g for q, g in zip(problem.quantities, got, strict=True)),
            cost=plan_cost(problem=problem, allocations=mapped),
            shipments=len(used),
            optimal=True,
            nodes=0,
        )

    return optimize


def plan_forcer(*, decision: Decision, line_ids: list[int]):
    """An `optimize` for order_decide that sends each line (`line_ids`: the order view's line order) where
    `decision` sent it (re-deciding an order with a plan chosen jointly; its own optimum when that plan no
    longer fits the problem)."""
    at = {lid: k for k, lid in enumerate(line_ids)}
    want: list[list[tuple[int, int]]] = [[] for _ in line_ids]
    for s in decision.shipments:
        for lid, q in s.lines:
            if lid in at:
                want[at[lid]].append((s.location_id, q))
    return _forcer(want)


def plans_resolve_joint(
    *,
    window: list[Routed],
    static: NetworkStatic,
    state: NetworkState,
    margin: float = 0.0,
    top_k: int = 8,
    time_limit_s: float = 5.0,
) -> JointResult:
    """Re-solve the window's orders jointly on `state` (which holds their current plans); returns the new
    decisions of the orders whose plan changes, when the change saves at least `margin` per changed order.
    `state` is not modified: the caller swaps the plans (in memory: give back the old, apply the new)."""
    result = JointResult(orders=len(window), old_shipments=sum(r.shipments for r in window))
    result.new_shipments = result.old_shipments
    if len(window) < 2:
        result.kept_reason = "fewer than two orders"
        return result
    work = _working_state(state, window)
    options = _options(window=window, static=static, work=work, top_k=top_k, result=result)
    joint = _Joint(options, work, static)
    res = joint.solve(time_limit_s)
    if res.x is None:
        result.kept_reason = f"no joint solution ({res.message})"
        return result
    result.solver = "milp" if res.status == 0 else "milp_time_limit"
    new_alloc = joint.allocations(res)
    changed = [k for k, opt in enumerate(options) if not _same(new_alloc[k], opt.old_alloc)]
    if not changed:
        result.kept_reason = "the current plans are jointly optimal"
        return result
    return _replay(
        result=result, options=options, new_alloc=new_alloc, changed=changed, static=static, work=work, margin=margin
    )


def _replay(
    *,
    result: JointResult,
    options: list[_Option],
    new_alloc: list,
    changed: list[int],
    static: NetworkStatic,
    work: NetworkState,
    margin: float,
) -> JointResult:
    """Decide the changed orders again with their joint plans (unchanged orders keep theirs) and keep the new
    plans when they save at least `margin` per changed order on the same prices."""
    moving = set(changed)
    for k, opt in enumerate(options):
        if k not in moving:  # unchanged plans hold their units again
            _take(work, opt.routed)
    old_cost = sum(
        plan_cost(problem=options[k].problem, allocations=options[k].old_alloc)
        if options[k].old_alloc is not None
        else options[k].routed.cost
        for k in changed
    )
    decisions: dict[int, Decision] = {}
    for k in changed:
        opt = options[k]
        d = order_decide(
            order=opt.routed.order,
            static=static,
            state=work,
            optimize=_forced(opt.problem, new_alloc[k]),
            prune=False,  # the joint plan may use a location the order alone would prune
        )
        work.apply(d)
        decisions[opt.routed.order.id] = d
    new_cost = sum(d.cost for d in decisions.values())
    placed_ok = all(
        sum(q for s in decisions[options[k].routed.order.id].shipments for _, q in s.lines) >= options[k].routed.units
        for k in changed
    )
    if not placed_ok or old_cost - new_cost < max(margin * len(changed), 1e-6):
        result.kept_reason = f"saves ${old_cost - new_cost:.2f} on {len(changed)} order(s): below the margin"
        return result
    result.decisions = decisions
    result.old_cost, result.new_cost = old_cost, new_cost
    result.new_shipments = (
        result.old_shipments
        - sum(options[k].routed.shipments for k in changed)
        + sum(len(d.shipments) for d in decisions.values())
    )
    return result


def _take(state: NetworkState, routed: Routed) -> None:
    products = {ln.id: ln.product_id for ln in routed.order.lines}
    for loc_id, lines in routed.allocations.items():
        key = (loc_id, routed.ship_days[loc_id])
        state.capacity_used[key] = state.capacity_used.get(key, 0) + 1
        for lid, q in lines.items():
            at = state.stock.setdefault(products[lid], {})
            at[loc_id] = at.get(loc_id, 0) - q
