"""The hindsight bound of `bench peak`: one MILP over the whole five-day stream with perfect knowledge of the
future (every order, every pick outcome), shared stock and shared capacity (HiGHS via `scipy.optimize.milp`).

It is a relaxation of what any policy can do, so its optimum (or, when the MILP stops on its time limit, HiGHS's
proven dual bound; or the LP relaxation's optimum when the MILP is too large: `medium`) is at most every policy's
cost; where even the LP is too large (`large`) the bound is null with its reason. bench.peak_gap re-solves the
same model to say why ours is above it:

* Options: each order's locations as routing's core prices them on the opening stock without rules (policy
  mode: every location that can send anything, express beyond reach priced overnight; same-day orders also
  shipped), each on its earliest ship day or 1, 2 business days later (capacity per location × day exact) or
  3+ days later (no capacity limit, charged as 3 days later: any later day costs at least that).
* Cost: the same cost model (package + handling + split penalty), $10 per business day late, a fixed charge per
  unit never placed; no pick failures (perfect knowledge avoids them), except where no policy can avoid them: a
  store order line whose every unit's draw fails places nothing through that store (`picks_that_always_fail`).
* Stock: DCs are restocked each morning with the previous day's shipments, so a DC sends at most its opening
  stock per day: orders placed on day d or later use at most (usage days left) × opening stock. The 3PL and
  suppliers are never restocked: at most their opening stock. A store at most twice its opening stock (one
  truck), and at most its opening stock to orders placed from the truck day on.
"""

from __future__ import annotations

import math
import random
import time
from collections import defaultdict
from dataclasses import dataclass, replace

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_array

from bench.peak_world import LATE_PER_DAY, SEED, TRUCK_DAYS, PeakWorld
from routing.core import NetworkState, order_decide
from routing.costs import add_business_days

DELAYS = (0, 1, 2, 3)  # ship-day options; the last has no capacity limit
USAGE_DAYS = 8  # days a DC can send on within the run (five days, the Monday after, re-routes after that)
# (most variables for the MILP, seconds per solve); medium: the LP relaxation only
MILP_LIMITS = {"small": (200_000, 60.0), "medium": (0, 600.0), "large": (0, 600.0)}
LP_MAX_VARIABLES = 1_500_000  # beyond this the LP does not solve in its time on a 2-core machine
# Candidates kept per order (None: every one). Keeping fewer restricts the model, so it would no longer bound
# (on the medium world the LP over each order's 12 cheapest options costs more than ours).
TOP_K = {"small": None, "medium": None, "large": None}
LP_MAX_ORDERS = 20_000  # beyond this the options alone outgrow the LP (the large world's 50,000 orders)


@dataclass(slots=True)
class _Opt:
    order: int
    key: int
    fixed: tuple[float, ...]  # per delay option: package + handling + late penalty
    late: tuple[float, ...]  # per delay option: its late penalty
    unit: tuple[float, ...]  # per line
    avail: tuple[int, ...]
    day: int  # earliest ship day, business days from the first day


def _late_days(promise, delivered) -> int:
    n, d = 0, promise
    while d < delivered:
        d = add_business_days(d, 1)
        n += 1
    return n


def _order_options(pw: PeakWorld, static, state, view, top_k) -> list[_Opt]:
    from routing.costs import promise_date

    promise = promise_date(placed_at=view.placed_at, service_level=view.service_level)
    views = [view] + ([replace(view, method="ship")] if view.method == "same_day" else [])
    best: dict[int, _Opt] = {}
    for v in views:
        d = order_decide(order=v, static=static, state=state, prune=False, policy_mode=True)
        if d.problem is None:
            continue
        for cand, info in zip(d.problem.candidates, d.candidates, strict=True):
            late = tuple(LATE_PER_DAY * _late_days(promise, add_business_days(info.delivery_date, k)) for k in DELAYS)
            fixed = tuple(cand.fixed_cost + pen for pen in late)
            day = sum(1 for x in _business_days(pw) if x < info.ship_date)
            opt = _Opt(view.id, cand.key, fixed, late, cand.unit_costs, cand.available, day)
            if cand.key not in best or fixed[0] < best[cand.key].fixed[0]:
                best[cand.key] = opt
    opts = list(best.values())
    if top_k is not None and len(opts) > top_k:
        q = [ln.quantity for ln in view.lines]

        def est(o: _Opt) -> float:
            return o.fixed[0] + sum(qq * u for qq, u, a in zip(q, o.unit, o.avail, strict=True) if a > 0)

        opts.sort(key=est)
        opts = opts[:top_k]
    return opts


_BDAYS: dict = {}


def _business_days(pw: PeakWorld) -> list:
    key = id(pw)
    if key not in _BDAYS:
        days = [pw.days[0]]
        while len(days) < 20:
            days.append(add_business_days(days[-1], 1))
        _BDAYS.clear()
        _BDAYS[key] = days
    return _BDAYS[key]


class _Model:
    def __init__(self, pw: PeakWorld, opts: list[_Opt], *, usage_days: int) -> None:
        self.pw, self.opts, self.usage_days = pw, opts, usage_days
        self.views = {o.id: o for o in pw.orders}
        self.cost: list[float] = []
        self.ub: list[float] = []
        self.x: list[tuple[int, int]] = []  # (option, line)
        self.y: list[tuple[int, int]] = []  # (option, delay)
        self.rows, self.cols, self.vals, self.lo, self.hi = [], [], [], [], []
        self.constant = 0.0

    def row(self, entries, lo, hi) -> None:
        r = len(self.lo)
        for c, v in entries:
            self.rows.append(r)
            self.cols.append(c)
            self.vals.append(v)
        self.lo.append(lo)
        self.hi.append(hi)

    def variables(self, split_penalty: float, unplaced: float) -> None:
        for i, o in enumerate(self.opts):
            lines = self.views[o.order].lines
            for line, ln in enumerate(lines):
                a, u = o.avail[line], o.unit[line]
                if a > 0 and math.isfinite(u):
                    self.x.append((i, line))
                    self.ub.append(float(min(a, ln.quantity)))
                    self.cost.append(u - unplaced)
        self.n_x = len(self.x)
        for i, o in enumerate(self.opts):
            for k in range(len(DELAYS)):
                self.y.append((i, k))
                self.ub.append(1.0)
                self.cost.append(o.fixed[k] + split_penalty)
        with_opts = {o.order for o in self.opts}
        units = sum(ln.quantity for v in self.views.values() for ln in v.lines)
        self.constant = unplaced * units - split_penalty * len(with_opts)

    def constraints(self, stock: dict[int, dict[int, int]]) -> None:
        n_x = self.n_x
        y_of: dict[int, list[int]] = defaultdict(list)
        for k, (i, _) in enumerate(self.y):
            y_of[i].append(n_x + k)
        per_line = defaultdict(list)
        use = defaultdict(list)  # (product, location) → [(x column, order day)]
        for j, (i, line) in enumerate(self.x):
            o = self.opts[i]
            ln = self.views[o.order].lines[line]
            self.row([(j, 1.0)] + [(c, -self.ub[j]) for c in y_of[i]], -np.inf, 0.0)
            per_line[(o.order, line)].append(j)
            use[(ln.product_id, o.key)].append((j, self.pw.day_index(self.views[o.order].placed_at)))
        for cols in y_of.values():
            self.row([(c, 1.0) for c in cols], 0.0, 1.0)
        self.line_rows: dict[tuple[int, int], int] = {}  # (order, line) → its row: units placed ≤ quantity
        for (oid, line), js in per_line.items():
            self.line_rows[(oid, line)] = len(self.lo)
            self.row([(j, 1.0) for j in js], 0.0, float(self.views[oid].lines[line].quantity))
        self._stock_rows(use, stock)
        self._capacity_rows()

    def _stock_rows(self, use, stock) -> None:
        locs = self.pw.static.locations
        for (pid, key), cols in use.items():
            init = float(stock.get(pid, {}).get(key, 0))
            kind = locs[key].kind
            if kind == "warehouse":
                for d in range(len(self.pw.days)):
                    sub = [(j, 1.0) for j, day in cols if day >= d]
                    if sub:
                        self.row(sub, 0.0, init * (self.usage_days - d))
            elif kind == "store":
                self.row([(j, 1.0) for j, _ in cols], 0.0, init * (1 + len(TRUCK_DAYS)))
                for t in TRUCK_DAYS:
                    sub = [(j, 1.0) for j, day in cols if day >= t]
                    if sub:
                        self.row(sub, 0.0, init)
            else:
                self.row([(j, 1.0) for j, _ in cols], 0.0, init)

    def _capacity_rows(self) -> None:
        slots = defaultdict(list)
        for k, (i, delay) in enumerate(self.y):
            if delay < DELAYS[-1]:
                o = self.opts[i]
                slots[(o.key, o.day + delay)].append(self.n_x + k)
        locs = self.pw.static.locations
        for (key, _), cols in slots.items():
            cap = locs[key].daily_capacity
            if len(cols) > cap:
                self.row([(c, 1.0) for c in cols], 0.0, float(cap))


@dataclass(slots=True)
class BoundModel:
    """The bound's model as arrays, ready to be solved as built or re-solved with some bounds changed
    (bench.peak_gap): min cost·v + constant subject to row_lo ≤ a·v ≤ row_hi, 0 ≤ v ≤ ub."""

    model: _Model
    a: object  # scipy CSR matrix
    cost: np.ndarray
    row_lo: np.ndarray
    row_hi: np.ndarray
    ub: np.ndarray
    top_k: int | None
    build_s: float

    @property
    def n(self) -> int:
        return len(self.cost)

    @property
    def constant(self) -> float:
        return self.model.constant


def bound_model_build(*, pw: PeakWorld, usage_days: int = USAGE_DAYS) -> BoundModel:
    """Every order's options priced on the opening stock, and the bound's rows (the module docstring)."""
    t0 = time.perf_counter()
    static = replace(
        pw.base_static,
        late_penalty=0.0,  # lateness is charged per option below, per business day
        late_penalty_per_day=0.0,
        pick_risk={},
        _dist_cache=type(pw.base_static._dist_cache)(),
    )
    state = NetworkState(stock={pid: dict(at) for pid, at in pw.stock.items()})
    top_k = TOP_K[pw.scale]
    opts = [o for view in pw.orders for o in _order_options(pw, static, state, view, top_k)]
    model = _Model(pw, opts, usage_days=usage_days)
    model.variables(pw.static.split_penalty, _unplaced_penalty())
    doomed = picks_that_always_fail(pw=pw, model=model)
    for j in doomed:
        model.ub[j] = 0.0
    model.constraints(pw.stock)
    n = model.n_x + len(model.y)
    a = coo_array((model.vals, (model.rows, model.cols)), shape=(len(model.lo), n)).tocsr()
    return BoundModel(
        model=model,
        a=a,
        cost=np.array(model.cost),
        row_lo=np.array(model.lo),
        row_hi=np.array(model.hi),
        ub=np.array(model.ub),
        top_k=top_k,
        build_s=time.perf_counter() - t0,
    )


def bound_solve(*, bm: BoundModel, integral: bool, time_limit_s: float, row_lo: np.ndarray | None = None):
    """One HiGHS solve of the bound's model (LP relaxation or MILP), its rows' lower bounds optionally replaced."""
    n = bm.n
    kw = {
        "constraints": LinearConstraint(bm.a, bm.row_lo if row_lo is None else row_lo, bm.row_hi),
        "bounds": Bounds(np.zeros(n), bm.ub),
    }
    options = {"time_limit": time_limit_s} | ({"mip_rel_gap": 1e-4} if integral else {})
    return milp(bm.cost, integrality=np.ones(n) if integral else np.zeros(n), options=options, **kw)


def hindsight_bound(*, pw: PeakWorld, log, time_limit_s: float | None = None) -> dict:
    """The bound (see the module docstring): its cost, which solve gave it, and the model's size. The cost is
    the tightest valid figure: the MILP's optimum, else the better of HiGHS's proven MILP dual bound (reported
    as `milp_dual_bound` whenever the MILP ran) and the LP relaxation. Where even the LP does not fit
    (`LP_MAX_VARIABLES`), cost is null and `reason` says why."""
    most, limit = MILP_LIMITS[pw.scale]
    limit = time_limit_s or limit
    if len(pw.orders) > LP_MAX_ORDERS:
        reason = f"{len(pw.orders):,} orders: every order's options make an LP beyond what solves in its time here"
        return {"method": None, "cost": None, "reason": reason, "milp_dual_bound": None, "orders": len(pw.orders)}
    bm = bound_model_build(pw=pw)
    n, rows = bm.n, len(bm.row_lo)
    log(f"bound: {len(bm.model.opts)} options, {n} variables, {rows} rows, built in {bm.build_s:.1f}s")
    size = {"variables": n, "constraints": rows, "candidates_per_order": "all" if bm.top_k is None else bm.top_k}
    if n > LP_MAX_VARIABLES:
        reason = f"{n:,} variables: beyond the {LP_MAX_VARIABLES:,} the LP relaxation solves in its time here"
        return {"method": None, "cost": None, "reason": reason, "milp_dual_bound": None} | size
    t1 = time.perf_counter()
    lp = bound_solve(bm=bm, integral=False, time_limit_s=limit)
    lp_value = lp.fun + bm.constant if lp.status == 0 else None
    method, value, dual, res = "lp", lp_value, None, None
    if n <= most:
        res = bound_solve(bm=bm, integral=True, time_limit_s=limit)
        if getattr(res, "mip_dual_bound", None) is not None and np.isfinite(res.mip_dual_bound):
            dual = res.mip_dual_bound + bm.constant
        if res.status == 0:
            method, value = "milp", res.fun + bm.constant
        elif dual is not None and (lp_value is None or dual > lp_value):
            method, value = "milp_dual_bound", dual
    best = res if method == "milp" else lp  # a time-limited MILP incumbent may be far from its bound
    return {
        "method": method,
        "solution": _breakdown(bm.model, best) if getattr(best, "x", None) is not None else None,
        "cost": round(value, 2) if value is not None else None,
        "lp_relaxation_cost": round(lp_value, 2) if lp_value is not None else None,
        "milp_dual_bound": round(dual, 2) if dual is not None else None,
        "milp_incumbent_cost": round(res.fun + bm.constant, 2) if getattr(res, "x", None) is not None else None,
        "seconds": round(time.perf_counter() - t1, 1),
    } | size


def pick_failed_units(*, pw: PeakWorld, store: int, order: int, line: int, units: int) -> int:
    """How many of `units` picked at `store` for an order line fail: the simulation's seeded draws (bench.peak,
    `_Sim.pick`), the same for every policy and known to the bound."""
    rng = random.Random(hash((SEED, store, order, line)))
    p = pw.fail_rate[store]
    return sum(rng.random() < p for _ in range(units))


def picks_that_always_fail(*, pw: PeakWorld, model: _Model) -> list[int]:
    """The store × order line columns no policy can place a unit through: every draw of the line's units fails,
    and a pick of fewer units draws a prefix of the same draws, so every pick of it fails whole."""
    out = []
    for j, (i, line) in enumerate(model.x):
        o = model.opts[i]
        if o.key in pw.fail_rate:
            ln = model.views[o.order].lines[line]
            if pick_failed_units(pw=pw, store=o.key, order=o.order, line=ln.id, units=ln.quantity) == ln.quantity:
                out.append(j)
    return out


def _unplaced_penalty() -> float:
    from bench.peak import UNPLACED_PENALTY

    return UNPLACED_PENALTY


def _breakdown(model: _Model, res) -> dict:
    """What the bound's (incumbent or fractional) solution does: its late penalties, shipments, units left."""
    x, n_x = res.x, model.n_x
    late = sum(model.opts[i].late[k] * x[n_x + j] for j, (i, k) in enumerate(model.y))
    ships = float(sum(x[n_x:]))
    placed = float(sum(x[:n_x]))
    units = sum(ln.quantity for v in model.views.values() for ln in v.lines)
    return {
        "late_penalties": round(late, 2),
        "shipments_per_order": round(ships / max(1, len(model.views)), 4),
        "unplaced_units": round(units - placed, 1),
    }
