"""`bench peak` on the small peak world: the report's structure, the surge and its capacity, and a hindsight
bound that no policy beats."""

import pytest

from bench.peak import POLICIES, business_days_late, peak_run
from bench.peak_world import DAY_FACTORS, peak_world


@pytest.fixture(scope="module")
def world():
    return peak_world(scale="small")


def test_the_peak_world_surges_on_days_two_and_three_and_orders_arrive_after_cut_offs(world):
    from zoneinfo import ZoneInfo

    per_day = [0] * len(DAY_FACTORS)
    for o in world.orders:
        per_day[min(len(per_day) - 1, world.day_index(o.placed_at))] += 1
    assert len(world.orders) == sum(round(300 * f) for f in DAY_FACTORS)
    assert per_day[1] > 2.5 * per_day[0] and per_day[2] > 2.5 * per_day[0]
    late_evening = sum(
        1 for o in world.orders if o.placed_at.astimezone(ZoneInfo("America/New_York")).hour >= 15
    ) / len(world.orders)
    assert late_evening > 0.4  # the diurnal peak is in the evening, after every cut-off
    assert all(0.05 <= p <= 0.15 for p in world.fail_rate.values())
    stores = [loc for loc in world.static.locations.values() if loc.kind == "store"]
    assert sum(s.daily_capacity for s in stores) < per_day[1]  # store capacity binds on a peak day


def test_business_days_late_counts_working_days_only():
    from datetime import date

    friday, monday = date(2026, 11, 27), date(2026, 11, 30)
    assert business_days_late(promise=friday, delivered=friday) == 0
    assert business_days_late(promise=friday, delivered=monday) == 1
    assert business_days_late(promise=monday, delivered=friday) == 0


def test_peak_report_has_every_policy_and_the_bound_is_below_each_of_them(world):
    out = peak_run(pw=world, log=lambda *_: None)

    assert set(out["policies"]) == set(POLICIES)
    bound = out["bound"]
    assert bound["method"] in ("milp", "milp_dual_bound", "lp")
    assert bound["cost"] > 0
    for name, r in out["policies"].items():
        for key in (
            "cost_without_penalties",
            "cost_with_penalties",
            "late_share_pct",
            "shipments_per_order",
            "placed_share_pct",
            "gap_to_bound_pct",
        ):
            assert key in r, (name, key)
        assert r["cost_with_penalties"] >= r["cost_without_penalties"] > 0
        assert bound["cost"] <= r["cost_with_penalties"] + 1e-6, name
        assert r["gap_to_bound_pct"] >= 0
        assert 0 < r["placed_share_pct"] <= 100
    assert bound["cost"] >= bound["lp_relaxation_cost"] - 1e-6
    for name in ("ours", "ours_reopt"):
        reopt = out["policies"][name]["reopt"]
        assert reopt["windows"] > 0 and reopt["orders"] > 0
        assert 0.0 <= reopt["reopt_extra_shipments_removed_pct"] <= 100.0
    assert "reopt_extra_shipments_removed_pct" in out and "ours_gap_to_bound_pct" in out
    effect = out["lookahead_effect"]
    assert (effect["without"], effect["with"]) == ("ours_no_lookahead", "ours")
    without, with_ = (out["policies"][n] for n in ("ours_no_lookahead", "ours"))
    assert effect["cost_with_penalties"] == [without["cost_with_penalties"], with_["cost_with_penalties"]]
    assert effect["late_shipments"] == [without["late_shipments"], with_["late_shipments"]]
    # The seeded small world: pricing DC stock and slots by the forecast avoids late shipments at peak.
    assert with_["late_shipments"] < without["late_shipments"]
    assert with_["cost_with_penalties"] < without["cost_with_penalties"]


def test_the_look_ahead_forecast_reads_no_future_orders_and_prices_dc_slots_ahead(world):
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from bench.peak_outlook import PeakForecast

    fc = PeakForecast(world)
    dcs = set(fc.dcs)
    used = {(0, 1, next(iter(dcs))): 12, (1, 1, next(iter(dcs))): 99}
    # Day 1's forecast is day 0's DC shipments scaled by the calendar (×3), never day 1's own.
    assert fc.daily(day=1, used=used) == {(1, next(iter(dcs))): 36.0}
    assert {lid for _, lid in fc.daily(day=0, used=used)} <= dcs  # the prior, before any history
    ny = ZoneInfo("America/New_York")
    morning = datetime.combine(world.days[1], datetime.min.time(), tzinfo=ny) + timedelta(hours=7)
    early = fc.outlook(when=morning, used=used)
    late = fc.outlook(when=morning + timedelta(hours=12), used=used)
    assert {lid for _, lid in early.demand} <= dcs and {lid for lid, _ in early.orders_ahead} <= dcs
    key = next(iter(early.orders_ahead))
    assert early.orders_ahead[key] >= late.orders_ahead.get(key, 0.0)  # less of the day left to come
    assert all(v >= 0 for v in early.demand.values())
