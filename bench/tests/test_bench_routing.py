"""`bench routing` end to end on the small world: every policy's figures and the floor under them."""

import json
from io import StringIO

import pytest
from django.core.management import call_command

from bench.routing import bench_routing


@pytest.mark.django_db(transaction=True)
def test_bench_routing_reports_policies_and_a_floor_no_policy_beats():
    out = bench_routing(log=lambda *_a, **_k: None, orders=80, scale="small")

    assert out["orders"] == 80
    assert out["optimal_share_pct"] == 100.0
    # Locations fully priced per order: at least one for a routed order, never more than the network holds.
    from inventory.models import Location

    assert 0 < out["priced_per_order"] <= Location.objects.count()
    for policy in ("ours", "single_dc", "shopify_default"):
        assert out[policy]["cost_total"] > 0
    # The floor is each order's optimum on the initial state without rules or promises: no policy goes below it.
    floor = out["floor_cost_total"]
    assert 0 < floor <= min(out[p]["cost_total"] for p in ("ours", "single_dc", "shopify_default")) + 1e-6
    assert out["floor_reduction_vs_single_dc_pct"] >= out["cost_reduction_vs_single_dc_pct"]
    assert out["floor_reduction_vs_shopify_default_pct"] >= out["cost_reduction_vs_shopify_default_pct"]


@pytest.mark.django_db(transaction=True)
def test_bench_routing_signs_its_decisions_independently_of_database_ids():
    first = bench_routing(log=lambda *_a, **_k: None, orders=40, scale="small", oracle=False)
    again = bench_routing(log=lambda *_a, **_k: None, orders=40, scale="small", oracle=False)  # new order ids
    assert len(first["decisions_sha256"]) == 64
    assert again["decisions_sha256"] == first["decisions_sha256"]
    fewer = bench_routing(log=lambda *_a, **_k: None, orders=39, scale="small", oracle=False)
    assert fewer["decisions_sha256"] != first["decisions_sha256"]


@pytest.mark.django_db
def test_every_bench_json_carries_the_calibration_of_its_run(monkeypatch):
    from bench.management.commands import bench as bench_command

    monkeypatch.setattr(bench_command, "benchmarks_declared", lambda: {"tiny": lambda log, **_: {"figure": 1}})
    out = StringIO()
    call_command("bench", "tiny", "--json", stdout=out)
    result = json.loads(out.getvalue())
    calibration = result["calibration"]
    assert result["figure"] == 1
    assert calibration["python_ms"] > 0 and calibration["sql_round_trips_ms"] > 0 and calibration["sql_scan_ms"] > 0
