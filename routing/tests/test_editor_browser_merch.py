"""Browser tests (Playwright + Debian's Chromium, desktop width) of the merchandiser points of issue 22:
a new rule form is quiet until the user acts, warnings are acknowledged one by one before publishing,
the simulation runs on the last seven days without typing a date, and "test one order" finds an order."""

import os

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from conftest import browser_login, nav_click
from inventory.models import LocationGroup
from routing.editor import services as editor
from routing.editor.models import Simulation
from routing.models import RuleSetVersion
from routing.tests.editor_helpers import published_version
from routing.tests.helpers import make_order, stock

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = os.environ.get("SCREENSHOT_DIR", "")


def settle(page) -> None:
    expect(page.locator(".htmx-request, .htmx-swapping, .htmx-settling")).to_have_count(0)


def shot(page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, name), full_page=True)


@pytest.fixture
def desk(page):
    page.set_viewport_size({"width": 1280, "height": 900})
    return page


@pytest.fixture
def draft(db, web, merch_user):
    v1 = published_version()
    return editor.ruleset_draft_create(rule_set=v1.rule_set, actor=merch_user)


def test_new_rule_form_is_quiet_until_checked_and_speaks_plainly(desk, live_server, draft):
    page = desk
    browser_login(page, "merch")
    nav_click(page, "Routing rules")
    page.goto(f"/routing/rules/versions/{draft.pk}/")
    page.click("#add-rule")
    expect(page.locator("#rule-checks .errors li")).to_have_count(0)
    page.select_option("#action_type", "restrict")  # a structural change re-renders the form
    page.wait_for_selector("#a_groups")
    settle(page)
    page.select_option("#r0_field", "order.total")
    page.wait_for_selector("input#r0_value[type=number]")
    settle(page)
    expect(page.locator("#rule-checks .errors li")).to_have_count(0)
    assert "Valid." not in page.inner_text("#rule-form")
    # A wrong value is reported as soon as it is entered, with the row's number.
    page.click("#check-rule")
    settle(page)
    checks = page.inner_text("#rule-checks")
    assert "Give the rule a name" in checks and "Choose at least one location, group or kind." in checks
    assert "('locations'" not in checks and "›" not in checks and "'locations'" not in checks
    shot(page, "merchandiser-rule-form.png")


def test_publish_needs_each_warning_ticked(desk, live_server, draft, merch_user):
    page = desk
    LocationGroup.objects.create(code="popup", name="Pop-up stores")
    editor.rule_add(
        version=draft, name="Pop-ups", conditions={}, action={"type": "restrict", "groups": ["popup"]}, actor=merch_user
    )
    browser_login(page, "merch")
    page.goto(f"/routing/rules/versions/{draft.pk}/publish/")
    boxes = page.locator("#publish-warnings input[name=ack]")
    assert boxes.count() >= 1
    page.click("#confirm-publish")
    assert "/publish/" in page.url
    draft.refresh_from_db()
    assert draft.status == "draft"
    for box in boxes.all():
        box.check()
    page.click("#confirm-publish")
    page.wait_for_url(f"**/routing/rules/versions/{draft.pk}/")
    draft.refresh_from_db()
    assert draft.status == "published"


def test_simulation_defaults_to_the_last_seven_days(desk, live_server, draft, web, dc, product):
    page = desk
    stock(product, dc, 5)
    make_order(channel=web, lines=[(product, 1)], placed_at=timezone.now() - timezone.timedelta(days=2))
    browser_login(page, "merch")
    page.goto(f"/routing/rules/versions/{draft.pk}/simulate/")
    today = timezone.localdate()
    assert page.input_value("#date_to") == today.isoformat()
    assert page.input_value("#date_from") == (today - timezone.timedelta(days=6)).isoformat()
    page.fill("#date_from", "")
    page.fill("#date_to", "")
    page.click("#run-simulation")
    page.wait_for_selector("#changed-heading")
    sim = Simulation.objects.get()
    assert sim.params["date_from"] == (today - timezone.timedelta(days=6)).isoformat()
    page.wait_for_selector("body[data-charts-ready='1']", state="attached")
    assert page.locator("#chart-metrics canvas").count() == 4  # one chart, one scale, per metric
    expect(page.locator("#no-change-reasons")).to_be_visible()
    shot(page, "merchandiser-simulation.png")


def test_test_one_order_finds_a_recent_order(desk, live_server, draft, web, dc, product):
    page = desk
    stock(product, dc, 5)
    texas = make_order(channel=web, lines=[(product, 1)], placed_at=timezone.now())
    texas.shipping_address = {**texas.shipping_address, "region": "TX"}
    texas.save()
    other = make_order(channel=web, lines=[(product, 1)], placed_at=timezone.now())
    browser_login(page, "merch")
    page.goto(f"/routing/rules/versions/{draft.pk}/test/")
    expect(page.locator("#order-picks tbody tr")).to_have_count(2)
    page.fill("#order-q", "Texas")
    expect(page.locator("#order-picks tbody tr")).to_have_count(1)
    assert other.number not in page.inner_text("#order-picks")
    page.click(f"#order-picks a[data-order='{texas.number}']")
    page.wait_for_selector("#test-results .routing-decision")
    assert page.locator("#test-results .routing-decision").count() == 2
    assert RuleSetVersion.objects.filter(pk=draft.pk, status="draft").exists()
