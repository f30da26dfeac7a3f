"""Browser tests (Playwright + Debian's Chromium) of the safety-stock screen: an inventory manager decides the
forecast's proposals on a phone (nothing scrolls sideways, tap targets of 44 px, words instead of codes, each
button says what it does), approval writes the safety-stock rule and rejection writes nothing; other roles are
refused with the 403 page, a form without the CSRF token changes nothing, and an empty screen says why it is
empty. Screenshot: docs/screens/inventory-safety-stock-phone.png."""

import re

import pytest
from playwright.sync_api import expect

from common import roles
from conftest import browser_login, make_user, nav_click
from fulfillment.tests.browser.test_store_phone import SCREENS, assert_phone_screen
from inventory.models import SafetyStockProposal, SafetyStockRule
from inventory.services import forecasts_refresh, safety_stock_rule_set
from inventory.tests.test_forecasts import TODAY, history  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def proposals(history, product, dc, store):  # noqa: F811 (the imported fixture)
    """The forecast run's proposals at the DC and the store; the store already holds 1 unit back."""
    safety_stock_rule_set(product=product, location=store, quantity=1, note="set by hand")
    forecasts_refresh(today=TODAY, history_days=56, model_max=0)
    pending = SafetyStockProposal.objects.filter(status="pending")
    return pending.get(location=dc), pending.get(location=store)


@pytest.mark.parametrize("width,height", [(390, 844), (360, 780)])
def test_an_inventory_manager_decides_proposals_on_a_phone(page, proposals, inventory_user, product, width, height):
    at_dc, at_store = proposals
    page.set_viewport_size({"width": width, "height": height})
    browser_login(page, inventory_user.username)
    nav_click(page, "Safety stock")
    page.wait_for_url("**/inventory/safety-stock/")
    text = assert_phone_screen(page)
    assert "Waiting for a decision (2)" in text
    assert not re.search(r"AutoETS|SeasonalNaive|σ|WAPE", text), "model names or symbols shown to the user"
    dc_card = page.locator(f"#proposal-{at_dc.pk}")
    expect(dc_card).to_contain_text("Widget SKU-A")
    expect(dc_card).to_contain_text("Edison DC")
    expect(dc_card.locator("dd").first).to_have_text("none")
    approve = dc_card.get_by_role("button", name=f"Approve: hold back {at_dc.proposed_quantity}")
    store_card = page.locator(f"#proposal-{at_store.pk}")
    expect(store_card.locator("dd").first).to_have_text("1 unit")
    expect(store_card.get_by_role("button", name="Reject: keep 1")).to_be_visible()
    if width == 390:
        page.screenshot(path=str(SCREENS / "inventory-safety-stock-phone.png"), full_page=True)
    assert not SafetyStockRule.objects.filter(location=at_dc.location).exists()  # nothing applied by itself

    approve.click()
    expect(page.locator(".msg-success")).to_have_text(
        f"Approved: Widget (SKU-A) at Edison DC now holds back {at_dc.proposed_quantity} unit(s)."
    )
    expect(page.locator(f"#proposal-{at_dc.pk}")).to_have_count(0)
    rule = SafetyStockRule.objects.get(product=product, location=at_dc.location)
    assert rule.quantity == at_dc.proposed_quantity

    page.locator(f"#proposal-{at_store.pk}").get_by_role("button", name="Reject: keep 1").click()
    expect(page.locator(".msg-success")).to_have_text(
        "Rejected: Widget (SKU-A) at Manhattan store keeps holding back 1 unit(s)."
    )
    assert SafetyStockRule.objects.get(product=product, location=at_store.location).quantity == 1
    text = assert_phone_screen(page)
    assert "No proposal waits for a decision" in text
    decided = page.locator("#decided + table tbody tr")
    expect(decided).to_have_count(2)
    expect(decided.first).to_contain_text("Rejected")
    expect(decided.first).to_contain_text(inventory_user.username)


def test_other_roles_are_refused_and_a_forged_form_changes_nothing(page, live_server, proposals, store, product):
    at_dc, _ = proposals
    page.set_viewport_size({"width": 1280, "height": 900})
    resp = page.goto("/inventory/safety-stock/")
    assert "/login/" in page.url  # signed out: the login page, then back here
    for username, role in [("ops2", roles.OPERATIONS), ("merch2", roles.MERCHANDISER), ("clerk2", roles.STORE_STAFF)]:
        make_user(username, role, stores=[store] if role == roles.STORE_STAFF else [])
        page.context.clear_cookies()
        browser_login(page, username)
        expect(page.locator("header nav a", has_text="Safety stock")).to_have_count(0)
        resp = page.goto("/inventory/safety-stock/")
        assert resp.status == 403, username
        expect(page.locator("#forbidden .reason")).to_contain_text("Inventory manager")
        token = page.locator("header input[name=csrfmiddlewaretoken]").first.get_attribute("value")
        resp = page.request.post(
            f"/inventory/safety-stock/{at_dc.pk}/decide/",
            form={"decision": "approve", "csrfmiddlewaretoken": token},
            max_redirects=0,
        )
        assert resp.status == 403, username
    make_user("inv2", roles.INVENTORY_MANAGER)
    page.context.clear_cookies()
    browser_login(page, "inv2")
    page.goto("/inventory/safety-stock/")
    # Without the CSRF token: refused.
    resp = page.request.post(f"/inventory/safety-stock/{at_dc.pk}/decide/", form={"decision": "approve"})
    assert resp.status == 403
    token = page.locator("main input[name=csrfmiddlewaretoken]").first.get_attribute("value")
    # A decision or a note no screen sends: 400 with the screen, the field named, nothing written.
    approve = {"decision": "approve"}
    forged = ({"decision": "maybe"}, {**approve, "note": "x\x00y"}, {**approve, "note": "n" * 201})
    for form in forged:
        resp = page.request.post(
            f"/inventory/safety-stock/{at_dc.pk}/decide/", form={**form, "csrfmiddlewaretoken": token}
        )
        assert resp.status == 400, form
        body = resp.text()
        assert "Nothing changed." in body and ("decision:" in body or "note:" in body)
        assert "<h1>Safety stock proposals</h1>" in body
    # A proposal that does not exist (or no longer does): a message in words, nothing written.
    resp = page.request.post(
        "/inventory/safety-stock/999999999/decide/", form={"decision": "approve", "csrfmiddlewaretoken": token}
    )
    assert resp.ok and "This proposal no longer exists; nothing changed." in resp.text()
    assert not SafetyStockRule.objects.filter(location=at_dc.location).exists()
    assert SafetyStockProposal.objects.get(pk=at_dc.pk).status == "pending"


def test_the_empty_screen_says_why(page, live_server, inventory_user):
    page.set_viewport_size({"width": 390, "height": 844})
    browser_login(page, inventory_user.username)
    page.goto("/inventory/safety-stock/")
    text = assert_phone_screen(page)
    assert "No forecast has run yet" in text
    assert "No proposal waits for a decision" in text
    assert "No proposal has been approved or rejected yet." in text


def test_a_manager_of_one_location_filters_and_stays_there_after_deciding(page, live_server, proposals, inventory_user):
    at_dc, at_store = proposals
    page.set_viewport_size({"width": 390, "height": 844})
    browser_login(page, inventory_user.username)
    page.goto("/inventory/safety-stock/")
    page.select_option("select[name=location]", label="Manhattan store")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**location=STORE-0001**")
    expect(page.locator("article.proposal")).to_have_count(1)
    assert_phone_screen(page)
    page.locator(f"#proposal-{at_store.pk}").get_by_role("button", name="Approve: hold back").click()
    page.wait_for_url("**location=STORE-0001**")
    expect(page.locator(".msg-success")).to_contain_text("Manhattan store now holds back")
    expect(page.locator("main")).to_contain_text("No proposal waits for a decision at this location.")
    page.get_by_role("link", name="Every location").click()
    expect(page.locator(f"#proposal-{at_dc.pk}")).to_be_visible()
