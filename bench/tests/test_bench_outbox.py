"""`bench outbox` with a tiny N: a real cluster delivers every event once to the local receiver, and the JSON
carries the figures and the calibration block; the per-order ordering check of the bench."""

import json
from io import StringIO

import pytest
from django.core.management import call_command


@pytest.mark.cluster
@pytest.mark.django_db(transaction=True)
def test_bench_outbox_delivers_every_event_once_and_reports_rate_and_delay():
    out = StringIO()
    args = ["--json", "--orders", "30", "--threads", "2", "--seconds", "120", "--only", "concurrent"]
    call_command("bench", "outbox", *args, stdout=out)
    result = json.loads(out.getvalue())
    assert "serial" not in result
    phase = result["concurrent"]
    assert (phase["events"], phase["delivered"], phase["missing"], phase["duplicates"]) == (30, 30, 0, 0)
    assert phase["order_violations"] == 0 and phase["cluster_workers"] == 2
    assert phase["delivered_per_s"] > 0 and phase["produced_per_s"] > 0
    delay = phase["delay_ms"]
    assert 0 < delay["p50"] <= delay["p95"] <= delay["p99"] <= delay["max"]
    assert result["calibration"]["python_ms"] > 0


def test_order_violations_count_an_orders_event_that_overtook_an_earlier_one():
    from bench.outbox import _order_violations

    events = [("a1", 1), ("b1", 2), ("a2", 1), ("a3", 1), ("s", None), ("b2", 2)]
    assert _order_violations(events=events, sequence={"a1": 0, "b1": 1, "a2": 2, "a3": 3, "s": 4, "b2": 5}) == 0
    assert _order_violations(events=events, sequence={"a1": 0, "b1": 5, "a2": 3, "a3": 2, "s": 1, "b2": 4}) == 2
