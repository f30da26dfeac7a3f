"""Why ours sits above the hindsight bound (`bench peak --gap`): on a tiny peak world the bound is below every
policy, the staged plan with the whole stream in view is the bound's MILP, staged plans with less foresight cost
no less, and the gap decomposition's parts add up to the gap; the medium scale builds; a bound too large to
solve is null with its reason."""

from dataclasses import replace

import pytest

from bench import peak_bound
from bench.peak import peak_run
from bench.peak_bound import bound_model_build, hindsight_bound
from bench.peak_gap import staged_plan
from bench.peak_world import DAY_FACTORS, peak_world

TINY_ORDERS = 160  # the first hours of day 1: the MILP solves to optimality in seconds


@pytest.fixture(scope="module")
def tiny():
    pw = peak_world(scale="small")
    return replace(pw, orders=pw.orders[:TINY_ORDERS])


@pytest.fixture(scope="module")
def report(tiny):
    return peak_run(pw=tiny, log=lambda *_: None, gap=True)


def test_the_bound_is_below_every_policy_and_reports_the_milp_dual_bound(report):
    bound = report["bound"]
    assert bound["method"] == "milp"  # solved to optimality on the tiny world
    assert bound["lp_relaxation_cost"] - 1e-6 <= bound["cost"]
    assert bound["milp_dual_bound"] == pytest.approx(bound["cost"], rel=1e-3)
    for name, r in report["policies"].items():
        assert bound["cost"] <= r["cost_with_penalties"] + 1e-6, name


def test_the_staged_plan_with_the_whole_stream_in_view_is_the_bound(report):
    staged, cost = report["staged_plans"], report["bound"]["cost"]
    assert staged["whole_stream"]["cost"] == pytest.approx(cost, rel=1e-3)
    for name, plan in staged.items():
        assert plan["cost"] >= cost - 1e-6, name
        assert plan["gap_to_bound_pct"] >= -1e-6, name
        assert plan["stages"] >= 1
    assert staged["next_1h"]["stages"] > staged["next_24h"]["stages"] >= staged["whole_stream"]["stages"] == 1


def test_the_gap_decomposition_parts_add_up_to_ours_minus_the_bound(report):
    gap = report["gap_decomposition"]
    assert gap["ours_cost"] == pytest.approx(report["policies"]["ours"]["cost_with_penalties"], abs=0.01)
    assert gap["gap"] == pytest.approx(gap["ours_cost"] - report["bound"]["cost"], abs=0.02)
    assert sum(gap["parts"].values()) == pytest.approx(gap["gap"], abs=0.05)
    parts = gap["parts"]
    assert parts["pick_failures"] == pytest.approx(gap["ours_cost"] - gap["ours_without_pick_failures"], abs=0.02)
    assert parts["declined"] >= -1e-6  # requiring placements only constrains the LP
    assert parts["integrality"] >= -0.01  # no integer plan beats the bound
    assert set(parts) == {"pick_failures", "mechanics", "declined", "integrality", "foresight", "decisions"}
    staged = report["staged_plans"]
    assert parts["foresight"] == pytest.approx(staged["next_1h"]["cost"] - staged["whole_stream"]["cost"], abs=0.02)
    points = gap["parts_pct_points"]
    assert sum(points.values()) == pytest.approx(gap["gap_pct"], abs=0.05)


def test_a_stage_without_a_solution_falls_back_to_greedy_orders_one_at_a_time(tiny, monkeypatch):
    from bench import peak_gap

    bm = bound_model_build(pw=tiny)
    best = staged_plan(pw=tiny, bm=bm, foresight=None, step=None, time_limit_s=5.0)
    assert best["stages_fallen_back_to_greedy"] == 0
    real = peak_gap._Stager.solve

    def the_joint_stage_fails(self, cols):
        if len(cols) == bm.n:  # the whole stream's stage finds nothing in its time
            self.stages += 1
            return None
        return real(self, cols)

    monkeypatch.setattr(peak_gap._Stager, "solve", the_joint_stage_fails)
    plan = staged_plan(pw=tiny, bm=bm, foresight=None, step=None, time_limit_s=5.0)
    assert plan["stages_fallen_back_to_greedy"] == 1
    assert plan["unplaced_units"] < sum(ln.quantity for o in tiny.orders for ln in o.lines)  # orders were placed
    assert plan["stages"] == 1 + len(peak_gap._columns_by_order(bm))  # the failed stage, then one per order
    assert plan["cost"] >= best["cost"] - 1e-6  # greedy, order by order, is no better than the joint plan


def test_a_bound_too_large_for_the_lp_is_null_with_its_reason(tiny, monkeypatch):
    monkeypatch.setattr(peak_bound, "LP_MAX_VARIABLES", 10)
    bound = hindsight_bound(pw=tiny, log=lambda *_: None)
    assert bound["cost"] is None and bound["method"] is None
    assert "variables" in bound["reason"] and bound["variables"] > 10
    out = peak_run(pw=tiny, log=lambda *_: None, policies=("single_dc",), gap=True)
    assert out["policies"]["single_dc"]["gap_to_bound_pct"] is None
    assert out["staged_plans"] is None and out["gap_reason"]


def test_the_medium_scale_builds_between_small_and_large():
    pw = peak_world(scale="medium")
    kinds = [loc.kind for loc in pw.static.locations.values()]
    assert kinds.count("warehouse") == 4 and kinds.count("store") == 60
    assert len(pw.orders) == sum(round(600 * f) for f in DAY_FACTORS)
    stores = [loc for loc in pw.static.locations.values() if loc.kind == "store"]
    per_day = [0] * len(DAY_FACTORS)
    for o in pw.orders:
        per_day[min(len(per_day) - 1, pw.day_index(o.placed_at))] += 1
    assert sum(s.daily_capacity for s in stores) < per_day[1]  # store capacity binds on a peak day
    assert peak_bound.MILP_LIMITS["medium"][0] == 0  # the LP relaxation only


def test_the_bound_keeps_every_candidate_at_every_scale_and_declines_the_large_world(tiny, monkeypatch):
    # Fewer candidates per order restrict the model: it would no longer be a bound.
    assert all(k is None for k in peak_bound.TOP_K.values())
    monkeypatch.setattr(peak_bound, "LP_MAX_ORDERS", len(tiny.orders) - 1)
    bound = hindsight_bound(pw=tiny, log=lambda *_: None)
    assert bound["cost"] is None and "orders" in bound["reason"]


def test_the_bound_sees_the_pick_draws_of_the_simulation_and_places_nothing_through_a_doomed_pick(tiny):
    from bench.peak import _Rec, _Sim
    from routing.core import Shipment

    sim = _Sim(tiny, policy="ours", reopt=False, risk=False)
    store = max(tiny.fail_rate, key=tiny.fail_rate.get)
    failed_units = 0
    for view in tiny.orders:
        rec = _Rec(view=view, promise=None)
        for ln in view.lines:
            s = Shipment(store, "ship", "standard", [(ln.id, ln.quantity)], tiny.days[0], tiny.days[1], True, 0, 0, 0)
            failed = sim.pick(rec, s).get(ln.id, 0)
            assert failed == peak_bound.pick_failed_units(
                pw=tiny, store=store, order=view.id, line=ln.id, units=ln.quantity
            )
            failed_units += failed
    assert failed_units > 0
    bm = bound_model_build(pw=tiny)
    doomed = peak_bound.picks_that_always_fail(pw=tiny, model=bm.model)
    assert doomed and all(bm.ub[j] == 0.0 for j in doomed)
