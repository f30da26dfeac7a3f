"""Operations change an order on its page: cancel units, change the address, add a line; a stale page is
refused; everyone but Operations is turned away."""

import pytest
from django.test import Client
from playwright.sync_api import expect

from common import roles
from conftest import browser_login, make_user
from inventory.models import StockLevel
from orders.models import Order
from routing.services import order_route
from routing.tests.helpers import MONDAY_9AM, make_order, stock


def routed_order(web, dc, product):
    stock(product, dc, 10)
    order = make_order(channel=web, lines=[(product, 3)])
    order_route(order_id=order.pk, now=MONDAY_9AM)
    return Order.objects.get(pk=order.pk)


@pytest.mark.django_db
def test_an_address_change_on_released_work_says_the_location_was_asked(web, dc, product, ops_user):
    from fulfillment.services import fulfillment_order_release_now

    order = routed_order(web, dc, product)
    fulfillment_order_release_now(fo_id=order.fulfillment_orders.get().pk)
    order.refresh_from_db()
    c = Client()
    c.force_login(ops_user)
    data = {"action": "address", "version": order.version, "reason": "moved", "line1": "1 Main St"}
    data |= {"city": "Los Angeles", "postal_code": "90001", "region": "CA", "country": "US"}
    r = c.post(f"/orders/{order.pk}/change/", data, follow=True)
    body = r.content.decode()
    assert "asked DC-EAST to cancel 3 × SKU-A" in body and "routed again for the new address" in body
    assert Order.objects.get(pk=order.pk).shipping_address["city"] == "Los Angeles"


@pytest.mark.django_db
def test_the_change_form_applies_against_the_page_version(web, dc, product, ops_user, store_user):
    order = routed_order(web, dc, product)
    c = Client()
    c.force_login(ops_user)
    page = c.get(f"/orders/{order.pk}/").content.decode()
    assert 'id="order-changes"' in page and f'name="version" value="{order.version}"' in page
    data = {"action": "cancel_units", "version": order.version, "units-1": "1", "reason": "customer call"}
    r = c.post(f"/orders/{order.pk}/change/", data, follow=True)
    assert "ops cancelled 1 unit" in r.content.decode()
    assert StockLevel.objects.get(product=product, location=dc).reserved == 2
    # The same (now stale) page again: refused, nothing written.
    r = c.post(f"/orders/{order.pk}/change/", data, follow=True)
    assert "Someone changed this order since you opened it" in r.content.decode()
    assert Order.objects.get(pk=order.pk).lines.get().quantity_cancelled == 1
    r = c.post(f"/orders/{order.pk}/change/", {"action": "address", "postal_code": "00000"}, follow=True)
    assert "does not exist" in r.content.decode() or "no street line" in r.content.decode()
    clerk = Client()
    clerk.force_login(store_user)
    assert clerk.post(f"/orders/{order.pk}/change/", data).status_code == 403


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_operations_cancels_a_unit_and_adds_a_line_in_the_browser(page, web, dc, product, product_b):
    stock(product_b, dc, 5)
    order = routed_order(web, dc, product)
    make_user("opsuser", roles.OPERATIONS)
    browser_login(page, "opsuser")
    page.goto(f"/orders/{order.pk}/")
    changes = page.locator("#order-changes")
    changes.locator("summary", has_text="Cancel units").click()
    changes.get_by_label("Units of line 1 to cancel").fill("1")
    changes.locator("form:has(button:text('Cancel these units')) input[name=reason]").fill("Customer wants two")
    changes.get_by_role("button", name="Cancel these units").click()
    expect(page.locator("li[data-event=cancelled]")).to_have_count(1)
    expect(page.locator("li[data-event=cancelled]")).to_contain_text("Why: Customer wants two")
    page.locator("#order-changes summary", has_text="Lines").click()
    form = page.locator("#order-changes form:has(button:text('Add line'))")
    form.locator("input[name=sku]").fill("SKU-B")
    form.locator("input[name=quantity]").fill("2")
    form.locator("input[name=unit_price]").fill("4.50")
    form.get_by_role("button", name="Add line").click()
    expect(page.locator("li[data-event=changed]")).to_contain_text("added line 2: SKU-B × 2")
    assert StockLevel.objects.get(product=product_b, location=dc).reserved == 2
    assert StockLevel.objects.get(product=product, location=dc).reserved == 2
