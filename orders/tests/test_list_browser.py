"""Operations at desktop width: search the orders list by SKU, save the filter, and release holds of ticked
orders in bulk; order numbers stay on one line."""

import os

import pytest
from playwright.sync_api import expect

from common import roles
from conftest import browser_login, make_user, nav_click
from inventory.models import Product
from orders.inputs import CustomerIn, LineIn
from orders.models import OrderHold
from orders.tests.services.test_order_lifecycle import ingest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_operations_saves_a_filter_and_releases_holds_in_bulk(page, web, settings):
    settings.DOM = {**settings.DOM, "ROUTE_ORDER_TASK": ""}
    Product.objects.create(sku="SKU-A", name="Widget")
    Product.objects.create(sku="SKU-B", name="Gadget")
    held = [
        ingest(
            web,
            external_id=f"W-{i}",
            payment_status="pending",
            customer=CustomerIn(email=f"c{i}@example.com"),
            lines=[LineIn(sku="SKU-B", quantity=1)],
        )
        for i in range(2)
    ]
    ingest(web, external_id="W-9", customer=CustomerIn(email="other@example.com"))
    make_user("opsuser", roles.OPERATIONS)
    page.set_viewport_size({"width": 1280, "height": 900})
    browser_login(page, "opsuser")
    nav_click(page, "Orders")
    page.wait_for_url("**/orders/")
    page.wait_for_load_state("load")
    page.fill("#id_q", "SKU-B")
    expect(page.locator("#results tr[data-order]")).to_have_count(2)
    cell = page.locator("#results td.order-number").first
    assert cell.evaluate("el => getComputedStyle(el).whiteSpace") == "nowrap"
    page.goto("/orders/?q=SKU-B")
    page.fill("#filter-name", "Gadget orders")
    page.click("#filter-save-form button[type=submit]")
    page.wait_for_selector("#saved-filters >> text=Gadget orders")
    for o in held:
        page.check(f"tr[data-order='{o.number}'] input[name=order]")
    page.select_option("#bulk-action", "release")
    page.click("#bulk-apply")
    page.wait_for_selector("text=Holds released:")
    assert not OrderHold.objects.filter(order__in=held, released_at__isnull=True).exists()
    if os.environ.get("SCREENSHOT_DIR"):
        page.screenshot(path=os.path.join(os.environ["SCREENSHOT_DIR"], "orders-list.png"), full_page=True)
