"""Operations in a real browser (desktop width): from the orders list to the customer's page, change the tier
and the preferred store, and see the change and who made it."""

from pathlib import Path

import pytest

from bench.factories import make_order
from common import roles
from conftest import browser_login, make_user
from orders.models import Customer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SCREENS = Path(__file__).resolve().parents[2] / "docs" / "screens"


def test_operations_edits_a_customer_from_the_orders_list(page, web, store, product):
    order = make_order(channel=web, lines=[(product, 1)])
    make_user("opsuser", roles.OPERATIONS)
    page.set_viewport_size({"width": 1280, "height": 900})
    browser_login(page, "opsuser")
    page.goto("/orders/")
    page.click(f"tr[data-order='{order.number}'] >> text=ann@example.com")
    page.wait_for_selector("#customer-orders")
    assert order.number in page.locator("#customer-orders").inner_text()
    page.select_option("#customer-form select[name=tier]", "gold")
    page.select_option("#customer-form select[name=preferred_store]", store.code)
    page.click("#customer-form button[type=submit]")
    page.wait_for_selector("text=Tier Standard → Gold.")
    assert page.locator("#customer-tier").inner_text() == "Gold"
    assert page.locator("#preferred-store").inner_text() == "Manhattan store"
    assert "(opsuser)" in page.locator("#customer-changes").inner_text()
    m = page.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
    assert m[0] <= m[1]
    text = page.locator("main").inner_text()
    assert "loyalty_tier" not in text and "preferred_store" not in text  # words, not field names
    page.screenshot(path=str(SCREENS / "operations-customer.png"), full_page=True)
    customer = Customer.objects.get(email="ann@example.com")
    assert customer.loyalty_tier == "gold" and customer.preferred_store == store
    # From the order page too.
    page.goto(f"/orders/{order.pk}/")
    page.click("#customer-link")
    page.wait_for_url(f"**/orders/customers/{customer.pk}/")
