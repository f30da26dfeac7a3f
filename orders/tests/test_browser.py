"""An Operations user in a real browser: find an order, release its hold, cancel another order."""

import pytest
from playwright.sync_api import expect

from common import roles
from conftest import browser_login, make_user, nav_click
from inventory.models import Product, StockLevel
from inventory.tests.helpers import put_stock
from orders.inputs import CustomerIn
from orders.models import Order
from orders.tests.services.test_order_lifecycle import ingest, reserve_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_operations_finds_an_order_releases_a_hold_and_cancels_an_order(page, web, dc, settings):
    settings.DOM = {**settings.DOM, "ROUTE_ORDER_TASK": ""}
    product = Product.objects.create(sku="SKU-A", name="Widget")
    put_stock(product, dc, 3)
    held = ingest(web, external_id="W-HELD", payment_status="pending", customer=CustomerIn(email="held@example.com"))
    other = ingest(web, external_id="W-OTHER", customer=CustomerIn(email="other@example.com"))
    reserve_for(other, dc)
    make_user("opsuser", roles.OPERATIONS)

    browser_login(page, "opsuser")
    nav_click(page, "Orders")
    page.wait_for_url("**/orders/")
    page.wait_for_load_state("load")  # htmx is loaded (deferred) and bound to the search box
    page.fill("#id_q", "held@example")
    # htmx replaces the results as the user types: only the matching order stays.
    # (a locator assertion, not wait_for_function: string predicates are eval'd, which the CSP forbids)
    expect(page.locator("#results tr[data-order]")).to_have_count(1)
    page.click(f"#results >> text={held.number}")
    page.wait_for_url(f"**/orders/{held.pk}/")
    assert page.locator("#order-status").inner_text() == "On hold"

    page.fill("tr[data-hold=payment] input[name=note]", "Paid by bank transfer")
    page.click("text=Release payment hold")
    page.wait_for_selector("text=Payment hold released.")
    assert page.locator("#order-status").inner_text() == "Validated"
    assert "Paid by bank transfer" in page.locator("#holds").inner_text()
    assert Order.objects.get(pk=held.pk).status == "validated"

    page.goto(f"/orders/{other.pk}/")
    page.fill("input[name=reason]", "Customer called to cancel")
    page.click(f"text=Cancel order {other.number}")
    page.wait_for_selector("text=reserved stock is back on sale")
    assert page.locator("#order-status").inner_text() == "Cancelled"
    assert page.locator("li[data-event=cancelled]").count() == 1
    assert Order.objects.get(pk=other.pk).status == "cancelled"
    assert StockLevel.objects.get(product=product, location=dc).reserved == 0


def test_holds_queue_release_in_place(page, web, settings):
    settings.DOM = {**settings.DOM, "ROUTE_ORDER_TASK": ""}
    Product.objects.create(sku="SKU-A", name="Widget")
    held = ingest(web, external_id="W-Q", payment_status="pending")
    make_user("opsuser", roles.OPERATIONS)
    browser_login(page, "opsuser")
    nav_click(page, "Holds")
    page.wait_for_url("**/orders/holds/")
    page.wait_for_load_state("load")
    row = page.locator(f"tr[data-order='{held.number}']")
    row.locator("text=Release").click()
    page.wait_for_selector("text=Order is now validated")
    assert Order.objects.get(pk=held.pk).status == "validated"
