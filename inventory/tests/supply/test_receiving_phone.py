"""The receiving screen on a phone (390×844) in Debian's Chromium: a store clerk finds their store's delivery,
scans units in, types a count with a reason for more than ordered, and nothing scrolls sideways."""

from datetime import timedelta

import pytest
from django.utils import timezone

from common import roles
from conftest import browser_login, make_user
from inventory.inbound import InboundIn, InboundLineIn, inbound_create
from inventory.models import InboundReceipt, StockLevel
from inventory.tests.helpers import assert_ledger_matches_levels

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_clerk_receives_a_delivery_on_a_phone(page, store, store_b, product, product_b):
    when = timezone.localdate() + timedelta(days=2)
    lines = [InboundLineIn("SKU-A", 3, when), InboundLineIn("SKU-B", 2, when)]
    inbound_create(data=InboundIn(number="PO-PHONE", supplier="Acme", location_code=store.code, lines=lines))
    other = [InboundLineIn("SKU-A", 1, when)]
    inbound_create(data=InboundIn(number="PO-ELSEWHERE", supplier="Acme", location_code=store_b.code, lines=other))
    make_user("clerk", roles.STORE_STAFF, stores=[store])
    browser_login(page, "clerk")
    page.goto("/inventory/receiving/")
    assert page.locator(".fo-card", has_text="PO-PHONE").count() == 1
    assert page.locator(".fo-card", has_text="PO-ELSEWHERE").count() == 0
    page.click(".fo-card >> text=PO-PHONE")
    page.wait_for_selector("#scan-form")
    for _ in range(2):
        page.fill("#scan-form input[name=code]", "SKU-A")
        page.press("#scan-form input[name=code]", "Enter")
        page.wait_for_selector("[role=status]")
    assert page.locator("[data-sku=SKU-A] .received").inner_text() == "2"
    # Three units of SKU-B for two ordered: refused without a reason, accepted with one.
    page.fill("input[name=count-SKU-B]", "3")
    page.click("button[name=count]")
    assert "give a reason" in page.locator("[role=alert]").inner_text()
    page.fill("input[name=count-SKU-B]", "3")
    page.fill("input[name=reason-SKU-B]", "supplier sent a spare")
    page.click("button[name=count]")
    page.wait_for_selector("[role=status]")
    assert page.locator("[data-sku=SKU-B] .received").inner_text() == "3"
    assert page.locator("#status").inner_text() == "Partly received"
    width = page.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], width
    assert StockLevel.objects.get(product=product, location=store).on_hand == 2
    assert StockLevel.objects.get(product=product_b, location=store).on_hand == 3
    assert InboundReceipt.objects.get(reason="supplier sent a spare").quantity == 3
    assert_ledger_matches_levels()
