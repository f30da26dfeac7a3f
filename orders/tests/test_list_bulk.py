"""The orders list for Operations: saved filters per user, bulk actions (release holds, cancel, re-route,
export CSV) through the order and routing services, and order numbers that do not wrap."""

import csv
import io

import pytest
from django.test import Client

from common import roles
from conftest import make_user
from inventory.tests.helpers import put_stock
from orders.models import Order, OrderHold, SavedOrderFilter
from orders.services import order_hold_place
from orders.tests.services.test_order_lifecycle import ingest

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


@pytest.fixture
def ops(ops_user) -> Client:
    return client_for(ops_user)


@pytest.fixture
def orders(web, catalogue):
    from orders.inputs import CustomerIn

    a = ingest(web, external_id="W-1", customer=CustomerIn(email="ann@example.com"))
    b = ingest(web, external_id="W-2", customer=CustomerIn(email="bob@example.com"))
    return a, b


def test_saved_filters_are_per_user_and_keep_only_filter_fields(ops, ops_user, orders):
    resp = ops.post(
        "/orders/filters/save/", {"name": "Bob's", "q": "bob@example", "status": "validated", "page": "4", "x": "1"}
    )
    saved = SavedOrderFilter.objects.get(user=ops_user)
    assert saved.query == "q=bob%40example&status=validated"
    assert resp.status_code == 302 and resp["Location"] == "/orders/?" + saved.query
    page = ops.get("/orders/").content.decode()
    assert f'href="/orders/?{saved.query.replace("&", "&amp;")}">Bob&#x27;s</a>' in page
    assert [o.external_id for o in ops.get("/orders/?" + saved.query).context["page"]] == ["W-2"]
    other = client_for(make_user("ops2", roles.OPERATIONS))
    assert "Bob&#x27;s" not in other.get("/orders/").content.decode()
    other.post(f"/orders/filters/{saved.pk}/delete/")
    assert SavedOrderFilter.objects.filter(pk=saved.pk).exists()  # not theirs
    assert "Name the filter" in ops.post("/orders/filters/save/", {"name": " "}, follow=True).content.decode()
    ops.post(f"/orders/filters/{saved.pk}/delete/")
    assert not SavedOrderFilter.objects.exists()


def test_bulk_release_holds(ops, orders):
    a, b = orders
    order_hold_place(order=a, kind=OrderHold.Kind.MANUAL, reason="check address")
    resp = ops.post("/orders/bulk/", {"action": "release", "order": [a.pk, b.pk]}, follow=True)
    body = resp.content.decode()
    assert f"Holds released: {a.number}." in body and f"{b.number} not changed: no active hold." in body
    assert not OrderHold.objects.filter(order=a, released_at__isnull=True).exists()


def test_bulk_cancel_needs_a_reason_and_cancels(ops, orders):
    a, b = orders
    body = ops.post("/orders/bulk/", {"action": "cancel", "order": [a.pk, b.pk]}, follow=True).content.decode()
    assert "Say why the orders are cancelled." in body
    assert Order.objects.filter(status="cancelled").count() == 0
    ops.post("/orders/bulk/", {"action": "cancel", "order": [a.pk, b.pk], "reason": "duplicate"})
    assert set(Order.objects.filter(pk__in=[a.pk, b.pk]).values_list("status", flat=True)) == {"cancelled"}


def test_bulk_reroute_routes_through_the_routing_service(ops, orders, catalogue, dc):
    a, b = orders
    put_stock(catalogue[0], dc, 10)
    body = ops.post("/orders/bulk/", {"action": "reroute", "order": [a.pk]}, follow=True).content.decode()
    assert f"Re-routed: {a.number}." in body
    a.refresh_from_db()
    assert a.status == "routed" and a.routing_decisions.exists()
    body = ops.post("/orders/bulk/", {"action": "reroute", "order": [a.pk]}, follow=True).content.decode()
    assert f"{a.number} not changed: it is routed with nothing left to place." in body


def test_bulk_export_csv(ops, orders):
    a, b = orders
    resp = ops.post("/orders/bulk/", {"action": "export", "order": [a.pk, b.pk]})
    assert resp["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(resp.content.decode())))
    assert rows[0][:3] == ["order", "external_id", "channel"]
    assert sorted(r[1] for r in rows[1:]) == ["W-1", "W-2"] and "ann@example.com" in resp.content.decode()


def test_bulk_refuses_bad_input_and_other_roles(ops, orders):
    a, _ = orders
    assert ops.post("/orders/bulk/", {"action": "delete", "order": [a.pk]}).status_code == 400
    assert ops.post("/orders/bulk/", {"action": "cancel", "order": ["x"]}).status_code == 400
    assert "Tick at least one order" in ops.post("/orders/bulk/", {"action": "release"}, follow=True).content.decode()
    for role in (roles.MERCHANDISER, roles.STORE_STAFF, roles.INVENTORY_MANAGER):
        c = client_for(make_user(f"u-{role}", role))
        assert c.post("/orders/bulk/", {"action": "export", "order": [a.pk]}).status_code == 403
        assert c.post("/orders/filters/save/", {"name": "x"}).status_code == 403


def test_order_numbers_do_not_wrap(ops, orders):
    page = ops.get("/orders/").content.decode()
    assert f'<td class="nowrap order-number"><a href="/orders/{orders[0].pk}/">{orders[0].number}</a>' in page
    assert 'name="order" value="' in page and 'form="bulk-form"' in page
