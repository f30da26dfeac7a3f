"""Store tools on a phone in Debian's Chromium: camera scanning degrades to the text field when there is no
camera (headless), the stock lookup and counts fit 360–430 px with comfortable tap targets, and the
customer's "I'm here" page puts the order first in the clerk's queue with a badge. Every test fails on a
JavaScript error or a console error."""

import pytest

from bench.factories import make_fo, make_order, put_stock
from common import roles
from conftest import browser_login, make_user
from fulfillment.services import pickup_checkin_url
from fulfillment.tests.browser.test_store_phone import SCREENS, assert_phone_screen
from inventory.models import CycleCount, Location, StockLevel

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def errors(page):
    """JavaScript errors and console errors of the page (a blocked camera is not an error of ours)."""
    found: list[str] = []
    page.on("pageerror", lambda exc: found.append(f"pageerror: {exc}"))
    # The browser's own favicon request (the site has none) is not a page error.
    ours = lambda url: not url.endswith("/favicon.ico")  # noqa: E731
    page.on(
        "console",
        lambda m: (
            found.append(f"console: {m.text} {m.location}")
            if m.type == "error" and ours(m.location.get("url", ""))
            else None
        ),
    )
    page.on(
        "response", lambda r: found.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 and ours(r.url) else None
    )
    yield found
    assert not found, found


@pytest.fixture
def shop(web, store, store_b, product, product_b):
    Location.objects.create(code="STORE-0009", name="Boston store", kind="store", postal_code="02108", can_pickup=True)
    for loc in (store, store_b):
        put_stock(product, loc, 6)
        put_stock(product_b, loc, 3)
    make_user("clerk", roles.STORE_STAFF, stores=[store])
    order = make_order(channel=web, lines=[(product, 2), (product_b, 1)], method="pickup", pickup_location=store)
    return make_fo(order=order, location=store, method="pickup")


def test_pick_with_camera_unavailable_falls_back_to_the_text_field(page, errors, shop):
    page.set_viewport_size({"width": 390, "height": 844})
    browser_login(page, "clerk")
    page.goto(f"/fulfillment/store/orders/{shop.pk}/")
    page.wait_for_selector("#work")
    page.wait_for_function("() => document.querySelector('[data-camera]').dataset.cameraReady === '1'")
    assert_phone_screen(page)
    start = page.locator("[data-camera-start]")
    if start.is_visible():
        # Headless Chromium has no camera: starting says so in words and leaves the page as it was.
        start.click()
        page.wait_for_function(
            "() => /type the code instead/.test(document.querySelector('[data-camera-status]').textContent)"
        )
        assert start.is_visible() and not page.locator("[data-camera-stop]").is_visible()
    else:
        assert "type the code" in page.locator("[data-camera-status]").inner_text()
    assert_phone_screen(page)
    page.screenshot(path=str(SCREENS / "store-pick-camera-fallback-phone.png"), full_page=True)
    # The fallback field posts the code exactly as a camera scan would.
    page.fill("#scan-form input[name=code]", "SKU-A")
    page.press("#scan-form input[name=code]", "Enter")
    page.wait_for_selector(".line-row[data-sku=SKU-A] >> text=picked 1")
    page.fill("#scan-form input[name=code]", "NOPE-1")
    page.press("#scan-form input[name=code]", "Enter")
    page.wait_for_selector("text=NOPE-1: not in this order.")
    assert_phone_screen(page)


@pytest.mark.parametrize("width,height", [(390, 844), (360, 780), (430, 932)])
def test_stock_lookup_and_shelf_count_fit_a_phone(page, errors, shop, store, product, product_b, width, height):
    page.set_viewport_size({"width": width, "height": height})
    browser_login(page, "clerk")
    page.goto("/fulfillment/store/stock/")
    assert_phone_screen(page)
    page.fill("#stock-form input[name=q]", "SKU-A")
    page.press("#stock-form input[name=q]", "Enter")
    page.wait_for_selector("#stock-card")
    text = assert_phone_screen(page)
    assert "this store" in text and "Brooklyn store" in text and "km" in text
    if width == 390:
        page.screenshot(path=str(SCREENS / "store-stock-lookup-phone.png"), full_page=True)

    page.click("#count-link")
    page.wait_for_selector("#count-start")
    assert_phone_screen(page)
    page.fill("#count-start input[name=shelf]", "B2")
    page.fill("#count-start textarea[name=skus]", "SKU-A\nSKU-B")
    page.click("#count-start button[type=submit]")
    page.wait_for_selector("#count-sheet")
    text = assert_phone_screen(page)
    assert "SKU-A" in text and "6" not in page.locator("#count-sheet").inner_text()  # a blind count
    page.fill("input[name='count-SKU-A']", "5")
    page.fill("input[name='count-SKU-B']", "3")
    page.click("#count-sheet button[type=submit]")
    page.wait_for_selector("#count-review")
    text = assert_phone_screen(page)
    assert "Sets on hand of SKU-A at STORE-0001 from 6 to 5." in text
    if width == 390:
        page.screenshot(path=str(SCREENS / "store-count-review-phone.png"), full_page=True)
    page.click("#count-review button[type=submit]")
    page.wait_for_selector("#count-done")
    assert_phone_screen(page)
    assert StockLevel.objects.get(product=product, location=store).on_hand == 5
    assert CycleCount.objects.filter(location=store).count() == 2


def test_customer_checkin_on_a_phone_puts_the_order_first_for_the_clerk(
    page, errors, browser, live_server, shop, web, store, product
):
    make_fo(
        order=make_order(
            channel=web,
            lines=[(product, 1)],
            method="pickup",
            pickup_location=store,
            name="Zed Urgent",
            email="zed@example.com",
            priority=900,
        ),
        location=store,
        method="pickup",
    )
    path = pickup_checkin_url(fo=shop).split("/fulfillment/", 1)[1]
    customer = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844})
    phone = customer.new_page()
    try:
        phone.goto(f"/fulfillment/{path}")
        phone.wait_for_selector("#checkin")
        m = phone.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
        assert m[0] <= m[1]
        button = phone.locator("#checkin button[type=submit]").bounding_box()
        assert button["height"] >= 44
        phone.fill("input[name=note]", "Bay 3, blue Golf")
        phone.click("#checkin button[type=submit]")
        phone.wait_for_selector("text=we know you are here")
        phone.screenshot(path=str(SCREENS / "customer-checkin-phone.png"), full_page=True)
        assert phone.goto("/fulfillment/here/not-a-token/").status == 404
    finally:
        customer.close()

    page.set_viewport_size({"width": 390, "height": 844})
    browser_login(page, "clerk")
    page.goto("/fulfillment/store/")
    page.wait_for_selector(".fo-card.here")
    text = assert_phone_screen(page)
    assert text.index("Ann Smith") < text.index("Zed Urgent") and "Customer is here" in text
    assert "Bay 3, blue Golf" in page.locator(".fo-card.here").inner_text()
    page.screenshot(path=str(SCREENS / "store-queue-customer-here-phone.png"), full_page=True)
