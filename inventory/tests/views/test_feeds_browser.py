"""Browser test (Playwright + Debian's Chromium, desktop width): an Inventory manager reaches the feeds
screen from the navigation, sees a failed run and the lag, pauses and resumes a feed."""

import os
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from conftest import browser_login, nav_click
from inventory.models import FeedRun, WmsFeed

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_inventory_manager_pauses_and_resumes_a_feed(page, live_server, inventory_user, tmp_path, settings):
    settings.DOM_FEED_ROOT = str(tmp_path)
    (tmp_path / "inbox").mkdir()
    feed = WmsFeed.objects.create(
        name="memphis",
        format=WmsFeed.Format.CSV_SNAPSHOT,
        transport=WmsFeed.Transport.DIRECTORY,
        directory=str(tmp_path / "inbox"),
        every_minutes=15,
    )
    now = timezone.now()
    FeedRun.objects.create(feed=feed, status="succeeded", started_at=now - timedelta(minutes=10), finished_at=now)
    FeedRun.objects.create(feed=feed, status="failed", started_at=now - timedelta(minutes=5), message="WMS timed out")
    page.set_viewport_size({"width": 1280, "height": 900})
    browser_login(page, inventory_user.username)
    nav_click(page, "Feeds")
    page.wait_for_url("**/inventory/feeds/")
    card = page.locator("#feed-memphis")
    expect(card).to_contain_text("WMS timed out")
    expect(card.locator(".failures")).to_have_text("1 failure in 24 h")
    expect(card.locator(".lag")).to_contain_text("min ago")
    if os.environ.get("SCREENSHOT_DIR"):
        page.screenshot(path=os.path.join(os.environ["SCREENSHOT_DIR"], "inventory-feeds.png"), full_page=True)
    card.locator("button.pause").click()
    expect(page.locator("#feed-memphis .feed-state")).to_have_text("Paused")
    feed.refresh_from_db()
    assert not feed.is_active
    page.locator("#feed-memphis button.resume").click()
    expect(page.locator("#feed-memphis .feed-state")).to_have_text("Running")
    feed.refresh_from_db()
    assert feed.is_active
