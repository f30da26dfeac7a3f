"""Store flows on a phone (390×844 and 360 px wide) in Debian's Chromium: nothing scrolls sideways, every
link and button is a comfortable tap target, the pickup code is never on a staff screen, and no raw code
is shown. At desktop width: the order page explains its routing, and a refusal is a page with the reason.
Screenshots go to docs/screens/."""

import re
from pathlib import Path

import pytest
from django.core import mail
from django_q.conf import Conf

from bench.factories import level, make_fo, make_order, put_stock
from common import roles
from conftest import browser_login, make_user
from fulfillment.tests.views.test_store_words import RAW_CODES
from notifications.services import messages_send_due

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SCREENS = Path(__file__).resolve().parents[3] / "docs" / "screens"

MEASURE = """() => {
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    const st = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && st.visibility !== 'hidden' && st.display !== 'none';
  };
  const targets = 'header a, header button, header summary, main a, main button, main summary, main select, '
    + 'main input:not([type=hidden]):not([type=checkbox]):not([type=radio]), main label.reason, nav a';
  const small = [];
  for (const el of document.querySelectorAll(targets)) {
    if (!visible(el)) continue;
    const r = el.getBoundingClientRect();
    if (r.height < 44 || r.width < 44) {
      const name = (el.innerText || el.value || el.getAttribute('aria-label') || el.tagName).trim().slice(0, 40);
      small.push(`${el.tagName} "${name}" ${Math.round(r.width)}×${Math.round(r.height)}`);
    }
  }
  const cut = [];
  const ctx = document.createElement('canvas').getContext('2d');
  for (const el of document.querySelectorAll('input[placeholder]')) {
    if (!visible(el)) continue;
    const st = getComputedStyle(el);
    ctx.font = `${st.fontWeight} ${st.fontSize} ${st.fontFamily}`;
    const room = el.clientWidth - parseFloat(st.paddingLeft) - parseFloat(st.paddingRight);
    const need = ctx.measureText(el.placeholder).width;
    if (need > room) cut.push(`"${el.placeholder}" needs ${Math.round(need)} px, has ${Math.round(room)}`);
  }
  return {
    scrollWidth: document.scrollingElement.scrollWidth,
    innerWidth: window.innerWidth,
    header: document.querySelector('header.topbar').getBoundingClientRect().height,
    small, cut, text: document.body.innerText,
  };
}"""


def assert_phone_screen(page, *, secret: str = "") -> str:
    """The phone rules of docs/design SCREENS.md on the page as it is now; returns its text."""
    page.wait_for_load_state("networkidle")
    m = page.evaluate(MEASURE)
    where = page.url
    assert m["scrollWidth"] <= m["innerWidth"], f"{where}: scrolls sideways ({m['scrollWidth']} > {m['innerWidth']})"
    assert m["header"] <= 64, f"{where}: header is {m['header']} px tall"
    assert not m["small"], f"{where}: tap targets under 44 px: {m['small']}"
    assert not m["cut"], f"{where}: placeholders cut off: {m['cut']}"
    text = m["text"]
    codes = sorted(c for c in RAW_CODES if re.search(rf"\b{c}\b", text))
    assert not codes, f"{where}: raw codes on screen: {codes}"
    assert not re.findall(r"\b[a-z]+_[a-z_]+\b", text), f"{where}: snake_case on screen"
    assert "priority" not in text.lower() and "fraud" not in text.lower(), f"{where}: scores shown to a clerk"
    if secret:
        assert secret not in text and secret not in page.content(), f"{where}: pickup code shown to staff"
    return text


@pytest.fixture
def bopis(web, store, store_b, product, product_b):
    for loc in (store, store_b):
        put_stock(product, loc, 10)
        put_stock(product_b, loc, 10)
    make_user("clerk", roles.STORE_STAFF, stores=[store])
    order = make_order(
        channel=web, lines=[(product, 2), (product_b, 1)], method="pickup", pickup_location=store, priority=972
    )
    mine = make_fo(order=order, location=store, method="pickup")
    ship = make_fo(
        order=make_order(channel=web, lines=[(product_b, 1)], name="Carl Courier", email="c@x.com"), location=store
    )
    return mine, ship


@pytest.mark.parametrize("width,height", [(390, 844), (360, 780), (430, 932)])
def test_store_pickup_flow_on_a_phone(page, bopis, store, product, monkeypatch, width, height):
    monkeypatch.setattr(Conf, "SYNC", False)  # the re-route is queued, not run: the line waits for a location
    mine, ship = bopis
    page.set_viewport_size({"width": width, "height": height})
    shots = width == 390
    browser_login(page, "clerk")
    assert_phone_screen(page)
    page.goto("/fulfillment/store/")
    page.wait_for_selector(".fo-card")
    text = assert_phone_screen(page)
    assert "Ann Smith" in text and "Pick up in store" in text and "Carl Courier" not in text
    # The menu opens below the compact bar with every destination reachable.
    page.click("details.menu > summary")
    assert page.locator(".menu-links a", has_text="Store queue").is_visible()
    assert_phone_screen(page)
    page.click("details.menu > summary")
    # Every tab of the queue (and the active one) is on screen.
    for tab in page.locator(".tabs a[role=tab]").all():
        box = tab.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= width
    if shots:
        page.screenshot(path=str(SCREENS / "store-queue-phone.png"), full_page=True)

    page.click(".fo-card >> text=Ann Smith")
    page.wait_for_selector("#work")
    assert_phone_screen(page)
    page.locator("button[aria-label='Pick SKU-B']").click()
    page.wait_for_selector(".line-row[data-sku=SKU-B] >> text=picked 1")
    page.locator("button[aria-label='Pick SKU-A']").click()
    page.wait_for_selector(".line-row[data-sku=SKU-A] >> text=picked 1")
    # A unit is still open: Ready is not offered, and the screen says why.
    assert page.locator("button", has_text="Ready for pickup").count() == 0
    assert "1 unit still to pick" in page.locator("#ready-blocked").inner_text()

    # Short pick: an explicit reason, each with its stock effect, then a confirmation that states it.
    row = page.locator(".line-row[data-sku=SKU-A]")
    row.locator("summary").click()
    assert row.locator("input[name=reason]:checked").count() == 0
    assert (
        "No stock change at STORE-0001; the unit is re-routed"
        in row.locator("label.reason", has_text="Can't find it now").inner_text()
    )
    none = row.locator("label.reason", has_text="We have none")
    assert "Sets on hand of SKU-A at STORE-0001 from 10 to 1" in none.inner_text()
    assert_phone_screen(page)
    none.click()
    row.locator("button", has_text="Report short").click()
    page.wait_for_selector("#confirm-short")
    assert "Sets on hand of SKU-A at STORE-0001 from 10 to 1" in page.locator("#confirm-short").inner_text()
    assert level(product, store) == (10, 2)  # nothing written before the confirmation
    assert_phone_screen(page)
    if shots:
        page.screenshot(path=str(SCREENS / "store-short-pick-confirm-phone.png"), full_page=True)
    page.click("text=Confirm: report short")
    page.wait_for_selector("text=Reported 1 × SKU-A short (We have none)")
    assert level(product, store) == (1, 1)
    assert (
        "1 unit reported short (We have none): waiting for a new location"
        in page.locator(".line-row[data-sku=SKU-A]").inner_text()
    )

    # Ready: the notice says the code went to the customer, never the code itself.
    page.once("dialog", lambda d: d.accept())
    page.fill("input[name=staging]", "Shelf B2")
    page.click("button:has-text('Ready for pickup')")
    page.wait_for_selector("#fo-status:has-text('Ready for pickup')")
    messages_send_due()  # the e-mail job (queued by the ready event)
    code = re.search(r"Pickup code: (\w+)", mail.outbox[-1].body).group(1)
    assert "pickup code was emailed to ann@example.com" in assert_phone_screen(page, secret=code)

    # Every store screen, with the order ready: no code, no sideways scroll, big targets.
    for url in [
        "/fulfillment/store/?tab=pickup_ready",
        "/fulfillment/store/?tab=ship_open",
        "/fulfillment/store/handover/",
        "/fulfillment/store/handoff/",
        "/fulfillment/store/receive/",
        "/fulfillment/store/settings/",
        f"/fulfillment/store/orders/{ship.pk}/",
        f"/returns/receive/?q={mine.order.number}",
    ]:
        page.goto(url)
        assert_phone_screen(page, secret=code)

    # Handover from the bottom bar: find by order number, hand over, each line said in words.
    page.goto("/fulfillment/store/")
    page.click("nav.subnav >> text=Hand over")
    page.fill("input[name=q]", mine.order.number)
    page.press("input[name=q]", "Enter")
    page.wait_for_selector("#handover-form")
    assert_phone_screen(page, secret=code)
    page.fill("#handover-form input[name=code]", code)
    page.click("#handover-form button[type=submit]")
    page.wait_for_selector("#fo-status:has-text('Picked up')")
    text = assert_phone_screen(page, secret=code)
    assert "Handed over to Ann Smith: SKU-A × 1, SKU-B × 1." in text and "The order is complete" not in text
    assert "1 unit handed over to Ann Smith" in text
    if shots:
        page.screenshot(path=str(SCREENS / "store-handover-done-phone.png"), full_page=True)


def test_order_page_explains_routing_at_desktop_width(page, web, dc, dc_west, product, ops_user):
    from routing.services import order_route
    from routing.tests.helpers import MONDAY_9AM, stock
    from routing.tests.helpers import make_order as routing_order

    stock(product, dc, 5)
    stock(product, dc_west, 5)
    order = routing_order(channel=web, lines=[(product, 2)])
    order_route(order_id=order.pk, now=MONDAY_9AM)
    page.set_viewport_size({"width": 1280, "height": 900})
    browser_login(page, "ops")
    page.goto(f"/orders/{order.pk}/")
    section = page.locator("#routing-explanation")
    section.locator("summary", has_text="Candidates").click()
    section.locator("summary", has_text="Excluded").click()
    text = section.inner_text()
    assert "Rules that fired" in text and "DC-EAST" in text and "DC-WEST" in text and "Cost" in text
    assert not re.findall(r"\b[a-z]+_[a-z_]+\b", text)
    section.screenshot(path=str(SCREENS / "order-routing-explanation.png"))
    page.click("text=Every routing decision of")
    page.wait_for_selector("h1:has-text('was routed')")
    assert page.locator("header.topbar nav.nav").get_by_role("link", name="Orders", exact=True).is_visible()


def test_403_page_has_the_layout_the_reason_and_a_way_back(page, store, store_user):
    page.set_viewport_size({"width": 1280, "height": 800})
    browser_login(page, "clerk")
    resp = page.goto("/orders/")
    assert resp.status == 403
    assert "This page needs one of the roles: Operations." in page.locator("#forbidden").inner_text()
    assert page.locator("header.topbar nav.nav a", has_text="Store queue").is_visible()
    page.screenshot(path=str(SCREENS / "forbidden-403.png"))
    page.click("#forbidden >> text=Back to your start page")
    page.wait_for_url(lambda url: not url.rstrip("/").endswith("/orders"))
    assert page.locator("#forbidden").count() == 0


@pytest.mark.parametrize("width", [360, 430])
def test_returns_screens_of_a_store_fit_a_phone(page, web, dc, store, product, product_b, width):
    from returns.tests.conftest import shipped_order

    order = shipped_order(channel=web, lines=[(product, 2), (product_b, 1)], location=dc)
    make_user("clerk", roles.STORE_STAFF, stores=[store])
    page.set_viewport_size({"width": width, "height": 800})
    browser_login(page, "clerk")
    page.goto("/returns/receive/")
    assert_phone_screen(page)
    # The counter finds the order by its number and the customer's e-mail.
    page.fill("input[name=order]", order.number)
    page.fill("input[name=proof]", "Ann@Example.com")
    page.click("text=Find the order")
    page.wait_for_selector("input[aria-label='Return SKU-A']")
    assert_phone_screen(page)
    page.goto("/fulfillment/store/?tab=ship_shipped")
    assert_phone_screen(page)
