"""A simulation driven end to end through a real django-q2 cluster (ORM broker, `manage.py qcluster`)."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import Success

from conftest import wait_for
from routing.editor import services as editor
from routing.editor.models import Simulation
from routing.editor.simulation import simulation_create
from routing.tests.editor_helpers import live_snapshot, published_version
from routing.tests.helpers import make_order, stock

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]


def test_simulation_runs_on_the_cluster(qcluster, monkeypatch, web, dc, dc_west, product, merch_user):
    # The test settings run tasks inline; here the task must really go through the broker to the cluster.
    monkeypatch.setattr(Conf, "SYNC", False)
    stock(product, dc, 10)
    stock(product, dc_west, 10)
    v1 = published_version()
    draft = editor.ruleset_draft_create(rule_set=v1.rule_set, actor=merch_user)
    editor.rule_add(
        version=draft, name="West only", conditions={}, action={"type": "restrict", "locations": ["DC-WEST"]}
    )
    for _ in range(3):
        make_order(channel=web, lines=[(product, 1)], postal_code="10001", placed_at=timezone.now())
    before = live_snapshot()
    day = timezone.localdate()
    sim = simulation_create(draft=draft, actor=merch_user, date_from=day - timedelta(days=1), date_to=day)
    assert Simulation.objects.get(pk=sim.pk).status == Simulation.Status.QUEUED  # queued, not run inline

    def finished():
        s = Simulation.objects.get(pk=sim.pk)
        return s if s.status in (Simulation.Status.DONE, Simulation.Status.FAILED) else None

    done = wait_for(finished, timeout=120, what="the cluster to run the simulation")
    assert done.status == Simulation.Status.DONE, done.error
    assert done.progress_done == done.progress_total == 3
    assert done.results["published"]["load"] == {"DC-EAST": 3}
    assert done.results["draft"]["load"] == {"DC-WEST": 3}
    assert done.results["changed_count"] == 3
    # The cluster's monitor records the task's success just after the task itself marks the simulation done.
    successes = Success.objects.filter(func="routing.editor.tasks.simulate")
    wait_for(successes.exists, timeout=30, what="the cluster to record the task's success")
    assert successes.count() == 1
    assert live_snapshot() == before
