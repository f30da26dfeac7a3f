"""A cancellation asked of a store, on the clerk's phone (390×844): the prompt is on the order screen with
comfortable tap targets; confirming takes the units off the work, "Already packed" leaves them to ship."""

import pytest

from common import roles
from conftest import browser_login, make_user
from fulfillment.models import CancelRequest, FulfillmentOrder
from fulfillment.services import fulfillment_line_pick
from fulfillment.tests.browser.test_store_phone import assert_phone_screen
from orders.services import order_units_cancel
from routing.services import order_route
from routing.tests.helpers import MONDAY_9AM, make_order, stock

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def asked(web, store, product, ops_user):
    clerk = make_user("clerk", roles.STORE_STAFF, stores=[store])
    stock(product, store, 5)
    order = make_order(channel=web, lines=[(product, 3)])
    order_route(order_id=order.pk, now=MONDAY_9AM)
    fo = FulfillmentOrder.objects.get(order=order)
    fulfillment_line_pick(line_id=fo.lines.get().pk, actor=clerk)
    order_units_cancel(order=order, lines={1: 1}, reason="Customer wants two", actor=ops_user)
    return fo


@pytest.mark.parametrize("answer", ["Confirm cancel", "Already packed"])
def test_the_store_answers_a_cancel_request_on_a_phone(page, asked, answer):
    page.set_viewport_size({"width": 390, "height": 844})
    browser_login(page, "clerk")
    page.goto("/fulfillment/store/?tab=ship_picking")
    card = page.locator(f".fo-card[data-fo='{asked.pk}']")
    assert "Cancel requested" in card.inner_text()
    assert_phone_screen(page)
    card.click()
    prompt = page.locator(".cancel-request")
    prompt.wait_for()
    assert "Cancel requested: 1 × SKU-A (line 1)" in prompt.inner_text()
    assert "Customer wants two" in prompt.inner_text()
    assert_phone_screen(page)
    prompt.locator("button", has_text=answer).click()
    page.wait_for_selector(".feedback.ok")
    assert page.locator(".cancel-request").count() == 0
    req = CancelRequest.objects.get(fulfillment_order=asked)
    if answer == "Confirm cancel":
        assert req.status == "confirmed" and asked.lines.get().quantity == 2
        assert "back in stock" in page.locator(".feedback.ok").inner_text()
    else:
        assert req.status == "refused" and asked.lines.get().quantity == 3
        assert "The units will ship" in page.locator(".feedback.ok").inner_text()
