"""The whole BOPIS path and ship-from-store packing, in Debian's Chromium through Playwright."""

import re

import pytest
from django.core import mail
from django_q.conf import Conf
from django_q.models import OrmQ

from bench.factories import level, make_fo, make_order, put_stock
from common import roles
from conftest import browser_login, make_user
from fulfillment.models import FulfillmentOrder
from inventory.models import Reservation
from notifications.services import messages_send_due

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world(web, store, store_b, product, product_b):
    for loc in (store, store_b):
        put_stock(product, loc, 10)
        put_stock(product_b, loc, 10)
    make_user("clerk", roles.STORE_STAFF, stores=[store])
    mine = make_fo(
        order=make_order(channel=web, lines=[(product, 2), (product_b, 1)], method="pickup", pickup_location=store),
        location=store,
        method="pickup",
    )
    theirs = make_fo(
        order=make_order(
            channel=web,
            lines=[(product, 1)],
            method="pickup",
            pickup_location=store_b,
            email="bea@example.com",
            name="Bea Brooklyn",
        ),
        location=store_b,
        method="pickup",
    )
    return mine, theirs


def test_bopis_pick_with_one_line_short_ready_and_handover(page, world, store, product, product_b, monkeypatch):
    # Queue tasks in the ORM broker instead of running them inline, to see the re-route request.
    monkeypatch.setattr(Conf, "SYNC", False)
    mine, theirs = world
    browser_login(page, "clerk")
    page.goto("/fulfillment/store/")
    page.wait_for_selector(".fo-card")
    assert page.locator(".fo-card", has_text="Ann Smith").count() == 1
    assert page.locator(".fo-card", has_text="Bea Brooklyn").count() == 0
    assert page.locator("[data-tab=pickup_open] .count").inner_text() == "1"

    page.click(".fo-card >> text=Ann Smith")
    page.wait_for_selector("#work")
    # Scan one unit of SKU-A, try a code that is not in the order, then report the other unit short.
    page.fill("input[name=code]", "SKU-A")
    page.press("input[name=code]", "Enter")
    page.wait_for_selector("text=SKU-A: scanned (1 of 2)")
    page.fill("input[name=code]", "SKU-NOPE")
    page.press("input[name=code]", "Enter")
    page.wait_for_selector(".feedback.not_in_order")
    row_a = page.locator(".line-row[data-sku=SKU-A]")
    row_a.locator("summary").click()
    row_a.locator("input[name=reason][value=damaged]").check()
    row_a.locator("input[name=quantity]").fill("1")
    row_a.locator("button", has_text="Report short").click()
    page.wait_for_selector("#confirm-short >> text=Lowers on hand of SKU-A at STORE-0001 from 10 to 9")
    page.click("text=Confirm: report short")
    page.wait_for_selector("text=waiting for a new location")
    assert level(product, store) == (9, 1)  # 1 released, and the damaged unit written off
    [reroute] = [q.task for q in OrmQ.objects.all() if q.task["func"] == "routing.tasks.reroute_order"]
    assert reroute["args"][0] == mine.order_id and reroute["args"][2] == [store.pk]
    # Tap + for SKU-B.
    page.locator(".line-row[data-sku=SKU-B] button[aria-label='Pick SKU-B']").click()
    page.wait_for_selector(".line-row[data-sku=SKU-B] >> text=picked 1")
    # Mark ready: the confirmation names the customer and the email.
    seen = []
    page.once("dialog", lambda d: (seen.append(d.message), d.accept()))
    page.fill("input[name=staging]", "Shelf B2")
    page.click("button:has-text('Ready for pickup')")
    page.wait_for_selector("#fo-status:has-text('Ready for pickup')")
    assert "Ann Smith" in seen[0] and "ann@example.com" in seen[0]
    assert messages_send_due() == 1 and len(mail.outbox) == 1  # the e-mail job (queued by the ready event)
    code = re.search(r"Pickup code: (\w+)", mail.outbox[0].body).group(1)

    # Handover: find by order number, a wrong code is refused, the right one completes it.
    page.click("nav.subnav >> text=Hand over")
    page.fill("input[name=q]", mine.order.number)
    page.press("input[name=q]", "Enter")
    page.wait_for_selector("#handover-form")
    page.fill("#handover-form input[name=code]", "WRONG9")
    page.click("#handover-form button[type=submit]")
    page.wait_for_selector("text=pickup code does not match")
    page.fill("#handover-form input[name=code]", code)
    page.fill("#handover-form input[name=collected_id_type]", "driving licence")
    page.click("#handover-form button[type=submit]")
    page.wait_for_selector("#fo-status:has-text('Picked up')")
    mine.refresh_from_db()
    assert mine.status == FulfillmentOrder.Status.PICKED_UP and mine.collected_by_name == "Ann Smith"
    assert level(product, store) == (8, 0) and level(product_b, store) == (9, 0)
    assert Reservation.objects.get(pk=mine.reservation_id).status == "consumed"
    # The other store's order was never touched, and cannot be opened.
    page.goto(f"/fulfillment/store/orders/{theirs.pk}/")
    assert page.locator("#work").count() == 0
    theirs.refresh_from_db()
    assert theirs.status == "created"


def test_ship_from_store_packing_and_hand_off(page, web, store, product, product_b):
    put_stock(product, store, 5)
    put_stock(product_b, store, 5)
    make_user("clerk", roles.STORE_STAFF, stores=[store])
    fo = make_fo(order=make_order(channel=web, lines=[(product, 1), (product_b, 2)]), location=store)
    browser_login(page, "clerk")
    page.goto("/fulfillment/store/?tab=ship_open")
    page.click(".fo-card >> text=Ann Smith")
    page.locator("button[aria-label='Pick SKU-A']").click()
    page.wait_for_selector(".line-row[data-sku=SKU-A] >> text=picked 1")
    for n in (1, 2):
        page.locator("button[aria-label='Pick SKU-B']").click()
        page.wait_for_selector(f".line-row[data-sku=SKU-B] >> text=picked {n}")
    page.select_option("select[name=package_type]", "small box")
    page.fill("input[name=weight_grams]", "2300")
    page.fill("input[name=length_cm]", "30")
    page.click("button:has-text('Pack')")
    page.wait_for_selector("#fo-status:has-text('Packed')")
    page.select_option("select[name=service]", "ups_ground")
    page.fill("input[name=tracking_number]", "1ZSTORE1")
    page.click("button:has-text('Create shipment')")
    page.wait_for_selector("text=Shipped with tracking 1ZSTORE1")
    assert level(product, store) == (4, 0) and level(product_b, store) == (3, 0)
    page.click("a.button:has-text('Carrier hand-off')")
    page.wait_for_selector("text=1ZSTORE1")
    page.click("button:has-text('Carrier collected')")
    page.wait_for_selector("text=1 package(s) handed to the carrier")
    sh = fo.shipments.get()
    assert sh.weight_grams == 2300 and sh.package_type == "small box" and sh.handed_off_at is not None
