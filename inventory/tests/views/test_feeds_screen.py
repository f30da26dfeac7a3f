"""The WMS feeds screen: last runs, lag and failures per feed, run now / pause / resume through the feed
services, for Inventory managers and Operations only, and never a URL, folder or secret."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from common import roles
from conftest import make_user
from inventory.models import FeedRun, WmsFeed

pytestmark = pytest.mark.django_db


@pytest.fixture
def feeds(tmp_path, settings, monkeypatch):
    settings.DOM_FEED_ROOT = str(tmp_path)
    monkeypatch.setenv("DOM_FEED_MEMPHIS_TOKEN", "s3cr3t-token-value")
    (tmp_path / "inbox").mkdir()
    pull = WmsFeed.objects.create(
        name="memphis",
        format=WmsFeed.Format.CSV_SNAPSHOT,
        transport=WmsFeed.Transport.DIRECTORY,
        directory=str(tmp_path / "inbox"),
        secret_env="DOM_FEED_MEMPHIS_TOKEN",
        every_minutes=15,
    )
    push = WmsFeed.objects.create(
        name="reno-push",
        format=WmsFeed.Format.JSON_EVENTS,
        transport=WmsFeed.Transport.HTTP_PUSH,
        secret_env="DOM_FEED_MEMPHIS_TOKEN",
    )
    now = timezone.now()
    FeedRun.objects.create(
        feed=pull, status="succeeded", started_at=now - timedelta(minutes=50), finished_at=now - timedelta(minutes=49)
    )
    FeedRun.objects.create(feed=pull, status="failed", started_at=now - timedelta(minutes=20), message="WMS timed out")
    FeedRun.objects.create(feed=pull, status="failed", started_at=now - timedelta(days=3), message="old failure")
    return pull, push


def client_for(*role_names) -> Client:
    c = Client()
    c.force_login(make_user("u-" + "-".join(role_names), *role_names))
    return c


@pytest.mark.parametrize("role", [roles.STORE_STAFF, roles.MERCHANDISER])
def test_other_roles_are_refused(feeds, role):
    c = client_for(role)
    assert c.get(reverse("inventory:feeds")).status_code == 403
    assert c.post(reverse("inventory:feed-action", args=[feeds[0].pk]), {"action": "pause"}).status_code == 403
    assert WmsFeed.objects.get(pk=feeds[0].pk).is_active


@pytest.mark.parametrize("role", [roles.INVENTORY_MANAGER, roles.OPERATIONS])
def test_feeds_screen_shows_runs_lag_failures_and_no_secret(feeds, role):
    body = client_for(role).get(reverse("inventory:feeds")).content.decode()
    assert 'id="feed-memphis"' in body and 'id="feed-reno-push"' in body
    memphis = body.split('id="feed-memphis"')[1].split("</section>")[0]
    assert "WMS timed out" in memphis and "1 failure in 24 h" in memphis  # the 3-day-old one is not counted
    assert "49 min ago" in memphis and "Late" in memphis  # 49 min > twice its 15-minute schedule
    assert 'value="run"' in memphis and 'value="pause"' in memphis
    push = body.split('id="feed-reno-push"')[1].split("</section>")[0]
    assert 'value="run"' not in push and "never" in push  # pushes cannot be pulled now
    for secret in ("DOM_FEED_MEMPHIS_TOKEN", "s3cr3t-token-value", "/inbox"):
        assert secret not in body


def test_run_now_pause_and_resume_use_the_feed_services(feeds, monkeypatch, django_capture_on_commit_callbacks):
    queued = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda name, *args, **kw: queued.append((name, args)))
    pull, push = feeds
    c = client_for(roles.INVENTORY_MANAGER)
    url = reverse("inventory:feed-action", args=[pull.pk])
    with django_capture_on_commit_callbacks(execute=True):
        resp = c.post(url, {"action": "run"}, follow=True)
    assert queued == [("inventory.tasks.wms_feed_run", (pull.pk,))]
    assert "a run is queued" in resp.content.decode()
    c.post(url, {"action": "pause"})
    pull.refresh_from_db()
    assert not pull.is_active
    body = c.get(reverse("inventory:feeds")).content.decode().split('id="feed-memphis"')[1].split("</section>")[0]
    assert "Paused" in body and 'value="resume"' in body and 'value="run"' not in body
    resp = c.post(url, {"action": "run"}, follow=True)  # paused: refused, nothing queued
    assert "cannot run now" in resp.content.decode() and len(queued) == 1
    c.post(url, {"action": "resume"})
    pull.refresh_from_db()
    assert pull.is_active
    assert c.post(url, {"action": "delete"}).status_code == 400
    assert c.get(url).status_code == 405
