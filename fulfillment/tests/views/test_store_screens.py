"""Store screens: scoped to the user's stores on every screen, htmx fragments, actions re-render."""

import pytest
from django.core import mail
from django.urls import reverse

from bench.factories import make_fo, make_order
from common import roles
from conftest import make_user
from fulfillment.models import FulfillmentOrder
from fulfillment.services import (
    fulfillment_line_pick,
    fulfillment_order_pack,
    fulfillment_order_ready,
    fulfillment_order_ship,
)
from notifications.services import messages_send_due

pytestmark = pytest.mark.django_db
HX = {"HX-Request": "true"}


@pytest.fixture
def clerk(client, store_user):
    client.force_login(store_user)
    return client


@pytest.fixture
def b_pickup(web, store_b, product, stocked):
    order = make_order(
        channel=web,
        lines=[(product, 1)],
        method="pickup",
        pickup_location=store_b,
        email="bee@example.com",
        name="Bea Brooklyn",
    )
    return make_fo(order=order, location=store_b, method="pickup")


def pick_all(fo, actor):
    for ln in fo.lines.all():
        fulfillment_line_pick(line_id=ln.pk, delta=ln.quantity_open, actor=actor)


def test_queue_shows_only_my_store_with_counts_and_refreshes_as_fragment(clerk, pickup_fo, b_pickup):
    page = clerk.get(reverse("fulfillment:queue"))
    body = page.content.decode()
    assert page.status_code == 200
    assert "Ann Smith" in body and "Bea Brooklyn" not in body
    assert 'hx-trigger="every 15s"' in body
    assert 'data-tab="pickup_open"' in body and 'aria-label="Pickup: Open (1)">Open<span class="count">1</span>' in body
    frag = clerk.get(reverse("fulfillment:queue") + "?tab=pickup_open", headers=HX).content.decode()
    assert frag.lstrip().startswith('<div id="queue"') and "<html" not in frag
    assert clerk.get(reverse("fulfillment:queue") + "?store=STORE-0002").status_code == 404
    assert "Ann Smith" in clerk.get(reverse("fulfillment:queue") + "?q=ann").content.decode()
    assert "Ann Smith" not in clerk.get(reverse("fulfillment:queue") + "?q=zzz").content.decode()


def test_other_stores_order_is_404_on_every_screen_and_action(clerk, b_pickup, store_b_user):
    pick_all(b_pickup, store_b_user)
    fo = fulfillment_order_ready(fo_id=b_pickup.pk, actor=store_b_user)
    assert clerk.get(reverse("fulfillment:order", args=[fo.pk])).status_code == 404
    for action in ["scan", "pick", "short", "reject", "ready", "resend", "handover", "pack", "ship"]:
        r = clerk.post(
            reverse("fulfillment:order-action", args=[fo.pk, action]),
            {"code": fo.pickup_code, "line": fo.lines.first().pk, "quantity": 1, "reason": "damaged"},
        )
        assert r.status_code == 404, action
    fo.refresh_from_db()
    assert fo.status == "ready_for_pickup"
    # Handover search refuses, in words, an order of another store.
    r = clerk.get(reverse("fulfillment:handover") + f"?q={fo.order.number}")
    assert "is waiting at STORE-0002, not at this store" in r.content.decode()
    assert clerk.get(reverse("fulfillment:handover") + f"?q={fo.pickup_code}").content.decode().count("fo-card") == 0


def test_other_stores_shipments_and_transfers_are_not_actionable(
    clerk, web, store_b, dc, product, stocked, store_b_user
):
    fo = make_fo(order=make_order(channel=web, lines=[(product, 1)]), location=store_b)
    pick_all(fo, store_b_user)
    sh = fulfillment_order_pack(fo_id=fo.pk, weight_grams=500, actor=store_b_user)
    fulfillment_order_ship(fo_id=fo.pk, service="ups_ground", actor=store_b_user)
    r = clerk.post(reverse("fulfillment:handoff"), {"shipment": [sh.pk]})
    assert "not from STORE-0001" in r.content.decode()
    sh.refresh_from_db()
    assert sh.handed_off_at is None
    assert clerk.get(reverse("fulfillment:shipment-document", args=[sh.pk, "packing-slip"])).status_code == 404
    order = make_order(channel=web, lines=[(product, 1)], method="ship_to_store", pickup_location=store_b)
    transfer = make_fo(order=order, location=dc, method="transfer")
    fulfillment_order_ship(fo_id=transfer.pk, service="ups_ground")
    assert "on the way" not in clerk.get(reverse("fulfillment:queue")).content.decode()
    assert clerk.post(reverse("fulfillment:receive"), {"fulfillment_order": transfer.pk}).status_code == 404


def test_screens_need_the_store_staff_role(client, pickup_fo, ops_user):
    for url in [
        reverse("fulfillment:queue"),
        reverse("fulfillment:order", args=[pickup_fo.pk]),
        reverse("fulfillment:handover"),
        reverse("fulfillment:handoff"),
        reverse("fulfillment:receive"),
        reverse("fulfillment:settings"),
    ]:
        assert client.get(url).status_code == 302  # anonymous → login
    client.force_login(ops_user)
    assert client.get(reverse("fulfillment:queue")).status_code == 403
    nostore = make_user("nostore", roles.STORE_STAFF)
    client.force_login(nostore)
    assert client.get(reverse("fulfillment:queue")).status_code == 403


def test_pick_scan_short_ready_handover_through_the_screen(clerk, pickup_fo, store_user):
    url = lambda a: reverse("fulfillment:order-action", args=[pickup_fo.pk, a])  # noqa: E731
    a, b = pickup_fo.lines.order_by("pk")
    r = clerk.post(url("scan"), {"code": "SKU-A"}, headers=HX).content.decode()
    assert r.lstrip().startswith('<div id="work"') and "SKU-A: scanned (1 of 2)" in r
    assert "not in this order" in clerk.post(url("scan"), {"code": "NOPE"}, headers=HX).content.decode()
    short = {"line": a.pk, "quantity": 1, "reason": "damaged"}
    r = clerk.post(url("short"), short, headers=HX).content.decode()
    # First the effect, in words, and a confirmation; nothing is written yet.
    assert "Lowers on hand of SKU-A at STORE-0001 from 10 to 9 (written off as damaged)" in r
    a.refresh_from_db()
    assert a.quantity_short == 0
    r = clerk.post(url("short"), {**short, "confirm": "yes"}, headers=HX).content.decode()
    assert "Reported 1 × SKU-A short (Damaged)" in r and "waiting for a new location" in r
    assert "already scanned" in clerk.post(url("scan"), {"code": "SKU-A"}, headers=HX).content.decode()
    clerk.post(url("pick"), {"line": b.pk, "delta": "1"}, headers=HX)
    r = clerk.post(url("ready"), {"staging": "Shelf B2"}, headers=HX).content.decode()
    pickup_fo.refresh_from_db()
    assert pickup_fo.status == "ready_for_pickup" and "Shelf B2" in r and pickup_fo.pickup_code not in r
    assert "pickup code was emailed to ann@example.com" in r
    assert messages_send_due() == 1 and len(mail.outbox) == 1  # queued with the ready event, sent by the job
    r = clerk.post(url("handover"), {"code": "BADBAD", "collected_by_name": "Ann"}, headers=HX).content.decode()
    assert "pickup code does not match" in r
    r = clerk.post(
        url("handover"),
        {"code": pickup_fo.pickup_code, "collected_by_name": "Ann Smith", f"qty-{a.pk}": 1, f"qty-{b.pk}": 1},
        headers=HX,
    ).content.decode()
    pickup_fo.refresh_from_db()
    assert pickup_fo.status == "picked_up" and "Handed over to Ann Smith: SKU-A × 1, SKU-B × 1." in r
    assert "The order is complete" not in r


def test_handover_search_one_match_opens_it(clerk, pickup_fo, store_user):
    pick_all(pickup_fo, store_user)
    fo = fulfillment_order_ready(fo_id=pickup_fo.pk, actor=store_user)
    r = clerk.get(reverse("fulfillment:handover") + f"?q={fo.pickup_code}", headers=HX)
    assert r.headers["HX-Redirect"] == reverse("fulfillment:order", args=[fo.pk])
    r = clerk.get(reverse("fulfillment:handover") + "?q=Ann")
    assert r.status_code == 302


def test_settings_screen_pauses_and_saves(clerk, store):
    r = clerk.post(reverse("fulfillment:settings"), {"pause": "1"}, headers=HX).content.decode()
    store.refresh_from_db()
    assert store.daily_capacity == 0 and "Resume online work" in r
    clerk.post(reverse("fulfillment:settings"), {"resume": "1"}, headers=HX)
    r = clerk.post(
        reverse("fulfillment:settings"),
        {
            "walk_in_protection": "2",
            "scan_required": "on",
            "allow_partial_rejection": "on",
            "sell_online": "on",
            "pickup_hold_days": "4",
            "reminder_days_before": "1",
        },
        headers=HX,
    ).content.decode()
    store.refresh_from_db()
    assert "Settings saved" in r and store.daily_capacity == 40
    assert store.store_settings.walk_in_protection == 2 and store.store_settings.scan_required
    r = clerk.post(reverse("fulfillment:settings"), {"pickup_hold_days": "0"}, headers=HX).content.decode()
    assert "at least 1 day" in r


def test_ship_from_store_screen_pack_ship_and_hand_off(clerk, ship_fo_store, store_user):
    url = lambda a: reverse("fulfillment:order-action", args=[ship_fo_store.pk, a])  # noqa: E731
    for ln in ship_fo_store.lines.all():
        for _ in range(ln.quantity):
            clerk.post(url("pick"), {"line": ln.pk, "delta": "1"}, headers=HX)
    r = clerk.post(url("pack"), {"weight_grams": "1500", "package_type": "small box"}, headers=HX).content.decode()
    assert "Packed" in r
    r = clerk.post(url("ship"), {"service": "ups_ground", "tracking_number": ""}, headers=HX).content.decode()
    assert "no tracking number" in r
    r = clerk.get(reverse("fulfillment:handoff")).content.decode()
    assert "1 package(s) have no tracking number" in r
    sh = ship_fo_store.shipments.get()
    r = clerk.post(reverse("fulfillment:handoff"), {"shipment": [sh.pk]}, headers=HX).content.decode()
    assert "1 package(s) handed to the carrier" in r
    assert (
        clerk.get(reverse("fulfillment:shipment-document", args=[sh.pk, "packing-slip"]))["Content-Type"]
        == "application/pdf"
    )


def test_receive_screen_turns_transfer_into_pickup(clerk, web, dc, store, product, stocked):
    order = make_order(channel=web, lines=[(product, 1)], method="ship_to_store", pickup_location=store)
    transfer = make_fo(order=order, location=dc, method="transfer")
    fulfillment_order_ship(fo_id=transfer.pk, service="ups_ground", tracking_number="TR9")
    assert "TR9" in clerk.get(reverse("fulfillment:receive")).content.decode()
    r = clerk.post(reverse("fulfillment:receive"), {"fulfillment_order": transfer.pk}, headers=HX).content.decode()
    assert "is in the queue" in r
    assert FulfillmentOrder.objects.filter(order=order, method="pickup", location=store).count() == 1
