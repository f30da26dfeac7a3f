"""An online order returned in store: the clerk finds the order (its number and the customer's e-mail), starts
the return at their store, receives it with a condition and disposition per line, and the restocked unit is on
sale there at once."""

import pytest

from common import roles
from conftest import browser_login, make_user, nav_click
from inventory.models import InventoryMovement, StockLevel
from orders.models import Order
from returns.models import ReturnAuthorization
from returns.tests.conftest import shipped_order

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_in_store_return_received_and_restocked(page, web, dc, store, store_b, product, product_b):
    order = shipped_order(channel=web, lines=[(product, 2), (product_b, 1)], location=dc)
    make_user("clerk", roles.STORE_STAFF, stores=[store])
    browser_login(page, "clerk")
    nav_click(page, "Returns")
    # The counter finds the order by its number and a second fact (here the customer's e-mail).
    page.fill("input[name=order]", order.number)
    page.fill("input[name=proof]", "wrong@example.com")
    page.click("text=Find the order")
    assert "No order matches" in page.inner_text(".start-return .feedback.error")
    page.fill("input[name=order]", order.number)
    page.fill("input[name=proof]", "Ann@Example.com")
    page.click("text=Find the order")

    # Two of SKU-A come back (one of them opened), nothing of SKU-B; start the return at this store.
    page.fill("input[aria-label='Return SKU-A']", "2")
    page.select_option("select[aria-label='Reason SKU-A']", "size_fit")
    page.click("text=Create return")
    page.wait_for_selector("#rma-status")
    rma = ReturnAuthorization.objects.get()
    assert (rma.method, rma.return_location_id, rma.source) == ("in_store", store.pk, "store")
    assert "Return location: STORE-0001" in page.inner_text(".return-decision h3")

    # Receive with a mistake first: damaged units cannot be restocked; the error says so and nothing moves.
    page.select_option("select[aria-label='Condition SKU-A']", "damaged")
    page.select_option("select[aria-label='Disposition SKU-A']", "restock")
    page.click(f"text=Receive {rma.number}")
    page.wait_for_selector(".feedback.error")
    assert "damaged units cannot be restocked as sellable" in page.inner_text(".feedback.error")
    assert not InventoryMovement.objects.filter(reason="return").exists()

    page.select_option("select[aria-label='Condition SKU-A']", "opened")
    page.select_option("select[aria-label='Disposition SKU-A']", "restock")
    page.click(f"text=Receive {rma.number}")
    page.wait_for_selector(".feedback.ok")
    assert "2 unit(s) back on sale here" in page.inner_text(".feedback.ok")
    assert page.inner_text("#rma-status") == "Inspected"
    assert "20.00 USD · Pending" in page.inner_text("#refund")

    assert StockLevel.objects.get(product=product, location=store).on_hand == 2
    mv = InventoryMovement.objects.get(reason="return")
    assert (mv.location_id, mv.delta_on_hand, mv.reference) == (store.pk, 2, f"rma:{rma.number}")
    order.refresh_from_db()
    assert order.status == Order.Status.PARTIALLY_RETURNED
    assert [ln.quantity_returned for ln in order.lines.order_by("line_number")] == [2, 0]

    # Another store's clerk does not find the same return (nor its customer); opening it is refused in words.
    make_user("clerk-b", roles.STORE_STAFF, stores=[store_b])
    page.context.clear_cookies()
    browser_login(page, "clerk-b")
    page.goto(f"/returns/receive/?q={rma.number}")
    assert "No return matches" in page.inner_text("#results") and "Ann Smith" not in page.content()
    page.goto(f"/returns/{rma.number}/")
    assert "is handled at STORE-0001, not at your store" in page.content()
