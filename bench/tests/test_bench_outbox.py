"""`bench outbox` with a tiny N: a real cluster delivers every event once to the local receiver, and the JSON
carries the figures and the calibration block."""

import json
from io import StringIO

import pytest
from django.core.management import call_command


@pytest.mark.cluster
@pytest.mark.django_db(transaction=True)
def test_bench_outbox_delivers_every_event_once_and_reports_rate_and_delay():
    out = StringIO()
    call_command("bench", "outbox", "--json", "--orders", "30", "--threads", "1", "--seconds", "120", stdout=out)
    result = json.loads(out.getvalue())
    assert (result["events"], result["delivered"], result["missing"], result["duplicates"]) == (30, 30, 0, 0)
    assert result["delivered_per_s"] > 0 and result["produced_per_s"] > 0
    delay = result["delay_ms"]
    assert 0 < delay["p50"] <= delay["p95"] <= delay["p99"] <= delay["max"]
    assert result["calibration"]["python_ms"] > 0
