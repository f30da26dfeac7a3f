"""Browser test (Playwright + Debian's Chromium, desktop width): Operations reach the backorders screen from
the navigation, see what each backorder waits for, and regroup it by inbound and by expected date."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from conftest import browser_login, nav_click
from inventory.inbound import InboundIn, InboundLineIn, inbound_create
from inventory.services import inbound_allocations_replan
from orders.models import Order
from routing.tests.helpers import make_order

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_operations_see_what_backorders_wait_for(page, live_server, ops_user, web, dc, product):
    due = timezone.localdate() + timedelta(days=6)
    inbound_create(
        data=InboundIn(number="PO-77", supplier="Acme", location_code="DC-EAST", lines=[InboundLineIn("SKU-A", 3, due)])
    )
    dated = make_order(channel=web, lines=[(product, 3)], status=Order.Status.BACKORDERED)
    waiting = make_order(channel=web, lines=[(product, 4)], status=Order.Status.BACKORDERED)
    inbound_allocations_replan(product_ids={product.pk})
    page.set_viewport_size({"width": 1280, "height": 900})
    browser_login(page, ops_user.username)
    nav_click(page, "Backorders")
    page.wait_for_url("**/inventory/backorders/")
    expect(page.locator("h2").first).to_have_text("SKU-A")
    page.select_option("select[name=by]", "inbound")
    page.wait_for_url("**by=inbound**")
    expect(page.locator("h2")).to_have_text(["PO-77", "No inbound supply"])
    expect(page.locator("table").first).to_contain_text(dated.number)
    expect(page.locator("table").nth(1)).to_contain_text(waiting.number)
    page.select_option("select[name=by]", "date")
    page.wait_for_url("**by=date**")
    expect(page.locator("h2")).to_have_text([due.isoformat(), "No date"])
