"""Browser tests (Playwright + Debian's Chromium): a merchandiser's whole round trip through the editor,
and a store user being refused."""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from conftest import browser_login, nav_click
from inventory.models import LocationGroup
from routing.editor.models import RuleSetEvent, Simulation
from routing.models import RuleSetVersion
from routing.tests.editor_helpers import published_version
from routing.tests.helpers import make_order, stock

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def settle(page) -> None:
    """Wait until htmx has no request in flight and has swapped and settled the answer."""
    # Locator assertions, not wait_for_function: string predicates are eval'd, which the CSP forbids.
    expect(page.locator(".htmx-request, .htmx-swapping, .htmx-settling")).to_have_count(0)


def new_rule_id(draft) -> int:
    return draft.rules.get(name="Web from pop-up stores").pk


def test_merchandiser_drafts_lints_simulates_diffs_publishes_and_rolls_back(
    page, live_server, merch_user, web, dc, dc_west, product
):
    v1 = published_version()
    LocationGroup.objects.create(code="popup-stores", name="Pop-up stores (none open yet)")
    stock(product, dc, 10)
    stock(product, dc_west, 10)
    orders = [make_order(channel=web, lines=[(product, 1)], placed_at=timezone.now()) for _ in range(3)]

    browser_login(page, "merch")
    nav_click(page, "Routing rules")
    page.click("button[name=new-draft]")
    page.wait_for_url(re.compile(r"/routing/rules/versions/\d+/$"))
    draft = RuleSetVersion.objects.get(rule_set=v1.rule_set, status="draft")
    assert page.locator(".status-draft").first.inner_text() == "Draft"

    # Add a rule with the condition builder: web orders only from the (empty) pop-up group.
    page.click("#add-rule")
    page.fill("#name", "Web from pop-up stores")
    assert page.evaluate("window.domEditor.isDirty()")  # leaving now would ask first
    page.select_option("#r0_field", "destination.postal_code")  # a prefix test with a text box
    settle(page)
    assert page.get_attribute("#r0_value", "placeholder") == "a ZIP prefix, e.g. 100"
    page.select_option("#r0_field", "order.channel")
    settle(page)
    page.select_option("#r0_op", "in")
    settle(page)
    page.wait_for_selector("#r0_value input[value=web]")  # the value input became channel checkboxes
    page.check("#r0_value input[value=web]")
    page.select_option("#action_type", "restrict")
    settle(page)
    page.wait_for_selector("#a_groups input[value=popup-stores]")
    page.check("#a_groups input[value=popup-stores]")
    # Inline lint, before saving.
    page.wait_for_selector("#rule-checks .lint li[data-code=empty_group]")
    assert "Group popup-stores has no locations" in page.inner_text("#rule-checks")
    page.fill("#comment", "trial for the pop-up launch")
    page.click("#save-rule")
    page.wait_for_url(f"**/routing/rules/versions/{draft.pk}/")
    row = page.locator(".rule", has_text="Web from pop-up stores")
    assert "IF the order's channel code is one of web" in row.inner_text()
    assert "Restricts to no active location" in row.locator(".lint").inner_text()  # lint beside the rule
    assert row.locator(".badge.added").count() == 1

    # Drag the new rule to the top: the order is persisted.
    page.set_viewport_size({"width": 1280, "height": 1200})
    assert page.evaluate("!!document.querySelector('#rule-list ol').dataset.sortableBound")
    handle = page.locator(f"#rule-{new_rule_id(draft)} .drag-handle").bounding_box()
    top = page.locator(".rule-list li").first.bounding_box()
    page.mouse.move(handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
    page.mouse.down()
    page.mouse.move(top["x"] + 20, top["y"] + 5, steps=20)
    page.mouse.up()
    expect(page.locator(".rule-list li .seq").first).to_have_text("1")
    expect(page.locator(".rule-list li h3").first).to_contain_text("pop-up")
    assert [r.name for r in draft.rules.order_by("priority")][0] == "Web from pop-up stores"

    # Simulate the past orders: the draft backorders every web order.
    page.click("text=Simulate past orders")
    today = timezone.localdate().isoformat()
    page.fill("#date_from", today)
    page.fill("#date_to", today)
    page.click("#run-simulation")
    page.wait_for_selector("#changed-heading")
    assert page.inner_text("#changed-heading") == "Orders whose plan changed: 3"
    totals = page.inner_text("#totals")
    assert "Backordered orders\t0\t3" in totals
    page.wait_for_selector("body[data-charts-ready='1']", state="attached")  # Chart.js from static files drew
    page.locator(".changed-order summary").first.click()
    assert page.locator(".changed-order .routing-decision").count() >= 2
    sim = Simulation.objects.get()
    assert sim.status == "done" and sorted(sim.order_ids) == sorted(o.pk for o in orders)

    # Read the diff, then publish with a confirmation naming it.
    page.goto(f"/routing/rules/versions/{draft.pk}/")
    page.click("#view-diff")
    assert "1 added (“Web from pop-up stores”)" in page.inner_text("#diff-summary")
    page.click("text=Publish…")
    assert "Changes: 1 added (“Web from pop-up stores”)." in page.inner_text("#publish-summary")
    # The empty-group warning must be ticked before publishing: one click does not publish.
    page.click("#confirm-publish")
    assert "/publish/" in page.url
    draft.refresh_from_db()
    assert draft.status == "draft"
    for box in page.locator("#publish-warnings input[name=ack]").all():
        box.check()
    page.click("#confirm-publish")
    page.wait_for_url(f"**/routing/rules/versions/{draft.pk}/")
    assert page.locator(".status-published").first.inner_text() == "Active"
    draft.refresh_from_db()
    v1.refresh_from_db()
    assert draft.status == "published" and v1.status == "archived"

    # Roll back to v1: a new version, published.
    page.goto(f"/routing/rules/versions/{v1.pk}/")
    page.click("#rollback")
    assert "1 removed (“Web from pop-up stores”)" in page.inner_text("#rollback-summary")
    page.fill("#comment", "pop-ups not open yet")
    page.click("#confirm-rollback")
    page.wait_for_url(re.compile(r"/routing/rules/versions/\d+/$"))
    current = RuleSetVersion.objects.get(rule_set=v1.rule_set, status="published")
    assert current.number == draft.number + 1
    assert [r.name for r in current.rules.order_by("priority")] == [r.name for r in v1.rules.order_by("priority")]
    page.click("text=history")
    history = page.inner_text("#history")
    assert "pop-ups not open yet" in history and "trial for the pop-up launch" in history
    assert {"draft_created", "rule_added", "simulation_started", "published", "rolled_back"} <= set(
        RuleSetEvent.objects.filter(actor=merch_user).values_list("action", flat=True)
    )


def test_store_user_is_refused(page, live_server, store_user, web):
    published_version()
    browser_login(page, "clerk")
    assert page.locator("text=Routing rules").count() == 0  # not in the navigation
    response = page.goto("/routing/rules/")
    assert response.status == 403
