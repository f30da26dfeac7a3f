"""`bench routing` end to end on the small world: every policy's figures and the floor under them."""

import pytest

from bench.routing import bench_routing


@pytest.mark.django_db(transaction=True)
def test_bench_routing_reports_policies_and_a_floor_no_policy_beats():
    out = bench_routing(log=lambda *_a, **_k: None, orders=80, scale="small")

    assert out["orders"] == 80
    assert out["optimal_share_pct"] == 100.0
    for policy in ("ours", "single_dc", "shopify_default"):
        assert out[policy]["cost_total"] > 0
    # The floor is each order's optimum on the initial state without rules or promises: no policy goes below it.
    floor = out["floor_cost_total"]
    assert 0 < floor <= min(out[p]["cost_total"] for p in ("ours", "single_dc", "shopify_default")) + 1e-6
    assert out["floor_reduction_vs_single_dc_pct"] >= out["cost_reduction_vs_single_dc_pct"]
    assert out["floor_reduction_vs_shopify_default_pct"] >= out["cost_reduction_vs_shopify_default_pct"]
