"""Why ours sits above the hindsight bound of `bench peak` (`bench peak --gap`), measured by re-solving.

**Staged plans.** The bound's own model (bench.peak_bound), solved as time passes with foresight limited to the
orders placed in the next `h` hours: every `step` the MILP is solved over the orders placed in [t, t + h), on
the stock and capacity the decisions committed so far leave, and the decisions of the orders placed in
[t, t + step) are committed for good (a stage that finds no solution in its time falls back to greedy: each of
its orders solved alone, in arrival order). With the whole stream in view it is the bound's MILP itself. A
staged plan keeps everything else the bound assumes (no pick failures, the same stock relaxation, declining a
unit at the unplaced charge), so its distance to the bound is what the foresight it lacks costs: an estimate of
how close a policy that knew the next `h` hours exactly could get, not a proof (a policy that hedges against
demand it cannot see yet may do better than a plan that ignores it).

**Gap decomposition** (ours − bound, in $ and in points of the bound), each part a re-solve with one piece of
hindsight removed:

* `pick_failures`: ours replayed with every store's failure rate at 0, against ours: failures are drawn per
  unit and known only when the unit is picked; the bound knows them all and simply avoids them.
* `declined`: the bound's LP re-solved with every order line required to place at least the units ours placed,
  against the LP: the bound may decline a unit at the $50 charge when sending it costs more; routing sends
  whatever stock can serve.
* `integrality`: the full-foresight MILP's plan (HiGHS incumbent within its time) against the bound (its
  optimum or dual bound): what whole shipments and packages cost over fractions, with the MILP's open gap.
* `foresight`: the one-hour staged plan against the full-foresight plan: what knowing the rest of the week is
  worth beyond the next hour.
* `mechanics`: ours without pick failures as the simulation charges it, against the same shipments priced by
  the bound's model (`plan_priced_by_the_bound`): what the relaxed model does not see (prices on the stock of
  the moment rather than the opening one, capacity pushing work to later days, dates past three days late).
* `decisions`: what remains, ours' shipments priced by the bound's model against the one-hour plan's with its
  declines taken back: per-order decisions as orders arrive against one joint plan per hour.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime, timedelta

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from bench.peak_bound import MILP_LIMITS, BoundModel, bound_model_build, bound_solve
from bench.peak_world import PeakWorld

STAGES = ((1, 1), (6, 1), (24, 6))  # (foresight hours, commit step hours) of the staged plans
STAGE_LIMIT_S = 5.0  # HiGHS time per stage
GAP_SCALES = ("small",)  # where the staged plans and the decomposition run (medium: the LP bound only)


def _columns_by_order(bm: BoundModel) -> dict[int, np.ndarray]:
    m = bm.model
    owner = [m.opts[i].order for i, _ in m.x] + [m.opts[i].order for i, _ in m.y]
    by: dict[int, list[int]] = {}
    for col, oid in enumerate(owner):
        by.setdefault(oid, []).append(col)
    return {oid: np.array(cols, dtype=np.int64) for oid, cols in by.items()}


class _Stager:
    """One staged plan: committed values of every column, the rows' use by what is committed."""

    def __init__(self, bm: BoundModel, time_limit_s: float) -> None:
        self.bm, self.limit = bm, time_limit_s
        self.a = bm.a.tocsc()
        self.v = np.zeros(bm.n)
        self.used = np.zeros(len(bm.row_lo))
        self.fallbacks = 0
        self.stages = 0
        self.timed_out = 0

    def solve(self, cols: np.ndarray):
        """The MILP over `cols` given what is committed; its values on `cols`, or None when it found none."""
        if len(cols) == 0:
            return np.zeros(0)
        sub = self.a[:, cols]
        rows = np.unique(sub.indices)
        lo = self.bm.row_lo[rows] - self.used[rows]
        hi = self.bm.row_hi[rows] - self.used[rows]
        res = milp(
            self.bm.cost[cols],
            integrality=np.ones(len(cols)),
            constraints=LinearConstraint(sub.tocsr()[rows], lo, hi),
            bounds=Bounds(np.zeros(len(cols)), self.bm.ub[cols]),
            options={"time_limit": self.limit, "mip_rel_gap": 1e-4},
        )
        self.stages += 1
        self.timed_out += res.status == 1
        return None if res.x is None else np.round(res.x)

    def commit(self, cols: np.ndarray, values: np.ndarray) -> None:
        self.v[cols] = values
        self.used += self.a[:, cols] @ values


def staged_plan(
    *, pw: PeakWorld, bm: BoundModel, foresight: timedelta | None, step: timedelta | None, time_limit_s: float
) -> dict:
    """The bound's model solved in stages with `foresight` (None: the whole stream, in one stage)."""
    t0 = time.perf_counter()
    cols = _columns_by_order(bm)
    orders = [o for o in pw.orders if o.id in cols]
    st = _Stager(bm, time_limit_s)
    i = 0
    while i < len(orders):
        t = orders[i].placed_at
        commit = _placed_before(orders, i, None if step is None else t + step)
        window = _placed_before(orders, i, None if foresight is None else t + foresight)
        wcols = np.concatenate([cols[o.id] for o in window])
        values = st.solve(wcols)
        n_commit = sum(len(cols[o.id]) for o in commit)
        if values is None:
            st.fallbacks += 1
            for o in commit:  # greedy: each order alone, in arrival order
                one = st.solve(cols[o.id])
                st.commit(cols[o.id], one if one is not None else np.zeros(len(cols[o.id])))
        else:
            st.commit(wcols[:n_commit], values[:n_commit])
        i += len(commit)
    return _plan_report(bm, st.v) | {
        "foresight_hours": None if foresight is None else foresight.total_seconds() / 3600,
        "commit_every_hours": None if step is None else step.total_seconds() / 3600,
        "stages": st.stages,
        "stages_stopped_on_time_limit": st.timed_out,
        "stages_fallen_back_to_greedy": st.fallbacks,
        "seconds": round(time.perf_counter() - t0, 1),
    }


def _placed_before(orders: list, start: int, until: datetime | None) -> list:
    end = start
    while end < len(orders) and (until is None or orders[end].placed_at < until):
        end += 1
    return orders[start:end]


def _plan_report(bm: BoundModel, v: np.ndarray) -> dict:
    m, n_x = bm.model, bm.model.n_x
    late = sum(m.opts[i].late[k] * v[n_x + j] for j, (i, k) in enumerate(m.y))
    units = sum(ln.quantity for o in m.views.values() for ln in o.lines)
    return {
        "cost": round(float(bm.cost @ v + bm.constant), 2),
        "late_penalties": round(float(late), 2),
        "unplaced_units": round(units - float(v[:n_x].sum()), 1),
        "shipments_per_order": round(float(v[n_x:].sum()) / max(1, len(m.views)), 4),
    }


def staged_plans(*, pw: PeakWorld, bm: BoundModel, bound_cost: float, log) -> dict:
    """Staged plans knowing the next 1, 6 and 24 hours, and the whole stream; each with its gap to the bound."""
    out = {}
    for hours, every in STAGES:
        plan = staged_plan(
            pw=pw, bm=bm, foresight=timedelta(hours=hours), step=timedelta(hours=every), time_limit_s=STAGE_LIMIT_S
        )
        out[f"next_{hours}h"] = plan | {"gap_to_bound_pct": _pct(plan["cost"] - bound_cost, bound_cost)}
        log(f"staged plan, next {hours} h: {out[f'next_{hours}h']}")
    full = staged_plan(pw=pw, bm=bm, foresight=None, step=None, time_limit_s=MILP_LIMITS[pw.scale][1])
    out["whole_stream"] = full | {"gap_to_bound_pct": _pct(full["cost"] - bound_cost, bound_cost)}
    log(f"staged plan, whole stream: {out['whole_stream']}")
    return out


def _pct(part: float, base: float) -> float:
    return round(100.0 * part / max(1e-9, base), 2)


def _sim_ours(pw: PeakWorld):
    from bench.peak import POLICIES, _report, _Sim

    base, reopt, risk, lookahead = POLICIES["ours"]
    sim = _Sim(pw, policy=base, reopt=reopt, risk=risk, lookahead=lookahead)
    sim.run()
    return sim, _report(sim, pw.static.split_penalty)["cost_with_penalties"]


def declined_part(*, bm: BoundModel, sim) -> dict:
    """The LP re-solved with each order line placing at least what ours placed, against the LP as built."""
    lp = bound_solve(bm=bm, integral=False, time_limit_s=600.0)
    lo = bm.row_lo.copy()
    for rec in sim.recs.values():
        index = {ln.id: k for k, ln in enumerate(rec.view.lines)}
        placed: dict[int, int] = {}
        for s in rec.shipments:
            for lid, q in s.lines:
                placed[index[lid]] = placed.get(index[lid], 0) + q
        for line, q in placed.items():
            row = bm.model.line_rows.get((rec.view.id, line))
            if row is not None:
                lo[row] = min(float(q), bm.row_hi[row])
    forced = bound_solve(bm=bm, integral=False, time_limit_s=600.0, row_lo=lo)
    if lp.status != 0 or forced.status != 0:
        return {"cost": None, "reason": f"HiGHS status {lp.status} / {forced.status}: {forced.message}"}
    return {
        "cost": round(forced.fun - lp.fun, 2),
        "lp_relaxation_cost": round(lp.fun + bm.constant, 2),
        "lp_placing_what_ours_placed": round(forced.fun + bm.constant, 2),
    }


def plan_priced_by_the_bound(*, pw: PeakWorld, bm: BoundModel, sim) -> float:
    """A simulated policy's final shipments priced as the bound's model prices them: each shipment as its
    location's option for the order (fixed cost on the business day it ships, capped at 3 days after the
    option's earliest, plus its units), the split penalty, the unplaced charge; a shipment from a location that
    was no option at the opening stock keeps the simulation's price."""
    from bench.peak import UNPLACED_PENALTY, business_days_late
    from bench.peak_bound import DELAYS, _business_days

    m, days = bm.model, _business_days(pw)
    by_key = {(o.order, o.key): o for o in m.opts}
    total = 0.0
    for rec in sim.recs.values():
        ships = [s for s in rec.shipments if s.lines]
        index = {ln.id: k for k, ln in enumerate(rec.view.lines)}
        total += pw.static.split_penalty * max(0, len(ships) - 1) + UNPLACED_PENALTY * sum(rec.unplaced.values())
        for s in ships:
            opt = by_key.get((rec.view.id, s.location_id))
            if opt is None:
                late = business_days_late(promise=rec.promise, delivered=s.delivery_date)
                total += s.shipping + s.handling + pw.static.late_penalty_per_day * late
                continue
            k = min(DELAYS[-1], max(0, sum(1 for d in days if d < s.ship_date) - opt.day))
            total += opt.fixed[k] + sum(q * opt.unit[index[lid]] for lid, q in s.lines)
    return total


def gap_decomposition(*, pw: PeakWorld, bm: BoundModel, bound_cost: float, staged: dict, log) -> dict:
    """ours − bound split into parts, each measured by a re-solve (the module docstring); they sum to the gap."""
    sim, ours = _sim_ours(pw)
    sure, ours_sure = _sim_ours(replace(pw, fail_rate=dict.fromkeys(pw.fail_rate, 0.0)))
    priced = plan_priced_by_the_bound(pw=pw, bm=bm, sim=sure)
    declined = declined_part(bm=bm, sim=sim)
    parts = {
        "pick_failures": round(ours - ours_sure, 2),
        "mechanics": round(ours_sure - priced, 2),
        "declined": declined["cost"] or 0.0,
        "integrality": round(staged["whole_stream"]["cost"] - bound_cost, 2),
        "foresight": round(staged["next_1h"]["cost"] - staged["whole_stream"]["cost"], 2),
    }
    total = ours - bound_cost
    parts["decisions"] = round(total - sum(parts.values()), 2)
    out = {
        "ours_cost": round(ours, 2),
        "ours_without_pick_failures": round(ours_sure, 2),
        "ours_without_pick_failures_priced_by_the_bound": round(priced, 2),
        "bound_cost": round(bound_cost, 2),
        "gap": round(total, 2),
        "gap_pct": _pct(total, bound_cost),
        "parts": parts,
        "parts_pct_points": {k: _pct(v, bound_cost) for k, v in parts.items()},
        "declined": declined,
    }
    log(f"gap decomposition: {out}")
    return out


def peak_gap_report(*, pw: PeakWorld, bound: dict, log) -> dict:
    """`bench peak --gap`: the staged plans and the gap decomposition, where the scale allows them."""
    if bound.get("cost") is None or pw.scale not in GAP_SCALES:
        reason = f"staged MILPs run on {', '.join(GAP_SCALES)} only (each stage a MILP; bound: {bound.get('method')})"
        return {"staged_plans": None, "gap_decomposition": None, "gap_reason": reason}
    bm = bound_model_build(pw=pw)
    staged = staged_plans(pw=pw, bm=bm, bound_cost=bound["cost"], log=log)
    return {
        "staged_plans": staged,
        "gap_decomposition": gap_decomposition(pw=pw, bm=bm, bound_cost=bound["cost"], staged=staged, log=log),
    }
