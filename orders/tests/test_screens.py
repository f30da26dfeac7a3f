"""Operations screens: orders list (htmx filters), detail, holds queue, cancel, CSV upload; role checks."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from inventory.tests.helpers import put_stock
from orders.models import Order
from orders.tests.services.test_order_lifecycle import ingest, reserve_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def ops(ops_user) -> Client:
    c = Client()
    c.force_login(ops_user)
    return c


@pytest.fixture
def orders(web, catalogue):
    from orders.inputs import CustomerIn, LineIn

    a = ingest(web, external_id="W-1", customer=CustomerIn(email="ann@example.com"))
    b = ingest(
        web,
        external_id="W-2",
        payment_status="pending",
        customer=CustomerIn(email="bob@example.com"),
        lines=[LineIn(sku="SKU-B", quantity=1)],
    )
    return a, b


def test_list_shows_orders_and_htmx_filter_returns_only_the_fragment(ops, orders):
    a, b = orders
    page = ops.get("/orders/")
    assert page.status_code == 200 and a.number.encode() in page.content and b"<nav" in page.content
    frag = ops.get("/orders/?status=on_hold", headers={"HX-Request": "true"})
    assert frag.status_code == 200 and b"<nav" not in frag.content and b'id="results"' in frag.content
    assert b.number.encode() in frag.content and a.number.encode() not in frag.content


@pytest.mark.parametrize(
    "query, expect",
    [
        ("q=bob@example", "W-2"),
        ("q=SKU-B", "W-2"),
        ("q=W-1", "W-1"),
        ("hold=payment", "W-2"),
        ("hold=any", "W-2"),
        ("channel=web&fulfillment_method=ship&status=validated", "W-1"),
        ("placed_from=2026-03-02&placed_to=2026-03-02", "W-1 W-2"),
        ("placed_from=2026-03-03", ""),
    ],
)
def test_filters(ops, orders, query, expect):
    resp = ops.get(f"/orders/?{query}")
    shown = sorted(o.external_id for o in resp.context["page"])
    assert shown == sorted(expect.split())


def test_search_by_order_number(ops, orders):
    a, _ = orders
    assert [o.pk for o in ops.get(f"/orders/?q={a.number}").context["page"]] == [a.pk]


def test_detail_shows_lines_holds_timeline(ops, orders):
    _, b = orders
    html = ops.get(f"/orders/{b.pk}/").content.decode()
    assert "SKU-B" in html and "Payment is pending" in html and 'data-event="received"' in html
    assert "Release payment hold" in html and f"Cancel order {b.number}" in html


def test_hold_queue_release_rerenders_the_row(ops, orders):
    _, b = orders
    hold = b.holds.get()
    queue = ops.get("/orders/holds/")
    assert b.number.encode() in queue.content and b"Payment (1)" in queue.content
    resp = ops.post(f"/orders/holds/{hold.pk}/release/", {"note": "paid by wire"}, headers={"HX-Request": "true"})
    assert resp.status_code == 200 and b"<nav" not in resp.content
    assert b"Payment hold released." in resp.content and b"Order is now validated" in resp.content
    b.refresh_from_db()
    assert b.status == "validated"
    assert b.events.filter(type="hold_released", actor__username="ops").exists()
    assert b.number.encode() not in ops.get("/orders/holds/").content


def test_hold_queue_cancel_needs_a_reason_and_says_so(ops, orders):
    _, b = orders
    hold = b.holds.get()
    resp = ops.post(f"/orders/holds/{hold.pk}/cancel-order/", {"reason": ""}, headers={"HX-Request": "true"})
    assert b"Say why the order is cancelled." in resp.content
    resp = ops.post(f"/orders/holds/{hold.pk}/cancel-order/", {"reason": "fraud"}, headers={"HX-Request": "true"})
    assert b"cancelled" in resp.content
    assert Order.objects.get(pk=b.pk).status == "cancelled"


def test_unknown_item_release_error_is_shown(ops, web):
    order = ingest(web)  # SKU-A not in catalogue
    resp = ops.post(f"/orders/holds/{order.holds.get().pk}/release/", {}, headers={"HX-Request": "true"})
    assert b"still unknown" in resp.content and b'role="alert"' in resp.content


def test_cancel_button_releases_stock(ops, orders, dc, catalogue):
    a, _ = orders
    put_stock(catalogue[0], dc, 1)
    reserve_for(a, dc)
    resp = ops.post(f"/orders/{a.pk}/cancel/", {"reason": "customer request"}, headers={"HX-Request": "true"})
    assert resp.status_code == 200 and resp.headers["HX-Redirect"] == f"/orders/{a.pk}/"
    a.refresh_from_db()
    assert a.status == "cancelled"
    page = ops.get(f"/orders/{a.pk}/").content.decode()
    assert "Cancelled: customer request" in page and "reserved stock is back on sale" in page
    assert "Cancel order" not in page.split("<h2>Timeline")[1]


def test_csv_upload_screen(ops, marketplace, catalogue):
    header = "external_id,sku,quantity,ship_line1,ship_city,ship_region,ship_postal_code\n"
    bad = header + "PO-1,SKU-NOPE,1,1 Main St,Louisville,KY,40202\n"
    resp = ops.post("/orders/import/", {"channel": "mkt", "file": SimpleUploadedFile("a.csv", bad.encode())})
    assert b"Nothing was imported" in resp.content and b"SKU-NOPE" in resp.content
    good = header + "PO-1,SKU-A,1,1 Main St,Louisville,KY,40202\nPO-1,SKU-B,2,,,,\n"
    resp = ops.post("/orders/import/", {"channel": "mkt", "file": SimpleUploadedFile("a.csv", good.encode())})
    assert resp.status_code == 302 and Order.objects.get(external_id="PO-1").lines.count() == 2


@pytest.mark.parametrize("path", ["/orders/", "/orders/holds/", "/orders/import/"])
def test_other_roles_are_refused(path, store_user, merch_user, inventory_user):
    for user in (store_user, merch_user, inventory_user):
        c = Client()
        c.force_login(user)
        assert c.get(path).status_code == 403
    assert Client().get(path).status_code == 302  # to the login page


def test_other_roles_cannot_post_actions(store_user, orders):
    _, b = orders
    c = Client()
    c.force_login(store_user)
    assert c.post(f"/orders/holds/{b.holds.get().pk}/release/").status_code == 403
    assert c.post(f"/orders/{b.pk}/cancel/", {"reason": "x"}).status_code == 403
    assert Order.objects.get(pk=b.pk).status == "on_hold"


def test_nav_shows_orders_for_operations_only(ops, store_user):
    assert b'href="/orders/"' in ops.get("/").content
    c = Client()
    c.force_login(store_user)
    assert b'href="/orders/"' not in c.get("/").content
