"""The send job on a real django-q2 cluster: a shipment commits, its e-mail is sent by the cluster's worker
(file-based mail backend in the cluster process), once, even when the job is enqueued again."""

import pytest
from django_q.tasks import async_task

from bench.factories import make_fo, make_order, put_stock
from conftest import wait_for
from fulfillment.services import fulfillment_order_ship
from notifications.models import Message

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def mail_dir(tmp_path, monkeypatch):
    """Read by the cluster process (the qcluster fixture copies the environment)."""
    folder = tmp_path / "mails"
    folder.mkdir()
    monkeypatch.setenv("EMAIL_URL", f"filemail:///{folder}")
    return folder


def test_the_cluster_sends_the_shipped_email_once(mail_dir, qcluster, web, dc, product):
    put_stock(product, dc, 5)
    order = make_order(channel=web, lines=[(product, 1)])
    fo = make_fo(order=order, location=dc)
    fulfillment_order_ship(fo_id=fo.pk, service="ups_ground", tracking_number="1ZCLUSTER")  # commits: enqueued
    msg = wait_for(
        lambda: Message.objects.filter(order=order, status="sent").first(),
        timeout=90,
        what="the cluster to send the shipped e-mail",
    )
    assert msg.template == "shipped" and order.number in msg.subject
    for _ in range(2):  # the job again (the every-minute schedule, a duplicate enqueue): nothing new is sent
        async_task("notifications.tasks.send_due")
    wait_for(lambda: _ran_send_due(3), timeout=60, what="three send jobs on the cluster")
    files = list(mail_dir.iterdir())
    assert len(files) == 1
    body = files[0].read_text()
    assert "1ZCLUSTER" in body and "ann@example.com" in body
    assert Message.objects.filter(order=order).count() == 1


def _ran_send_due(n: int) -> bool:
    from django_q.models import Success

    return Success.objects.filter(func="notifications.tasks.send_due").count() >= n
