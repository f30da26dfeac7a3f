"""Screens: receiving (search, htmx fragments, store scope), the receive form, creating returns, refunds."""

from django.test import Client

from common import roles
from conftest import make_user
from inventory.models import InventoryMovement, StockLevel
from returns.models import ReturnAuthorization
from returns.services import ReturnLineIn, rma_create

HX = {"HX-Request": "true"}


def _client(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def _rma(order, **kw):
    return rma_create(order=order, lines=[ReturnLineIn(sku="SKU-A", quantity=2)], **kw).rma


def test_search_finds_by_rma_order_and_email_and_opens_a_single_match(delivered, store_user):
    rma = _rma(delivered)
    c = _client(store_user)
    for q in (rma.number, delivered.number, "ann@example.com"):
        r = c.get("/returns/receive/", {"q": q}, headers=HX)
        assert r.status_code == 200 and r.headers["HX-Redirect"] == f"/returns/{rma.number}/"
    r = c.get("/returns/receive/", {"q": "nobody@example.com"}, headers=HX)
    assert b"No return matches" in r.content and b"<html" not in r.content  # only the fragment


def test_another_stores_rma_is_not_found_by_search_and_refused_in_words(delivered, store, store_b):
    clerk_b = make_user("clerk-b", roles.STORE_STAFF, stores=[store_b])
    rma = _rma(delivered)
    c = _client(clerk_b)
    # Searches stay inside the clerk's store: another store's return is not listed, nor its customer.
    for q in (rma.number, delivered.number, "ann@example.com"):
        r = c.get("/returns/receive/", {"q": q})
        assert r.status_code == 200 and b"No return matches" in r.content
        assert f'data-rma="{rma.number}"'.encode() not in r.content and b"Ann Smith" not in r.content
    r = c.get(f"/returns/{rma.number}/")
    assert r.status_code == 403 and b"handled at STORE-0001" in r.content
    r = c.post(f"/returns/{rma.number}/receive/", {}, headers=HX)
    assert r.status_code == 403
    assert ReturnAuthorization.objects.get(pk=rma.pk).status == "approved"


def test_receive_form_restocks_and_rerenders_from_the_database(delivered, product, store, store_user):
    rma = _rma(delivered)
    line = rma.lines.get()
    c = _client(store_user)
    page = c.get(f"/returns/{rma.number}/")
    assert b"Receive RMA-" in page.content and b"Return location: STORE-0001" in page.content
    r = c.post(
        f"/returns/{rma.number}/receive/",
        {f"qty-{line.pk}": "2", f"condition-{line.pk}": "damaged", f"disposition-{line.pk}": "restock"},
        headers=HX,
    )
    assert b"damaged units cannot be restocked" in r.content and b"<html" not in r.content
    r = c.post(
        f"/returns/{rma.number}/receive/",
        {f"qty-{line.pk}": "2", f"condition-{line.pk}": "new", f"disposition-{line.pk}": "restock"},
        headers=HX,
    )
    assert b"2 unit(s) back on sale here" in r.content and b"Inspected" in r.content
    assert StockLevel.objects.get(product=product, location=store).on_hand == 2
    assert InventoryMovement.objects.filter(reason="return", location=store).count() == 1


def test_operations_create_from_the_order_page_and_refund(delivered, ops_user, store):
    c = _client(ops_user)
    assert b"Create return" in c.get(f"/orders/{delivered.pk}/").content
    line = delivered.lines.get(sku="SKU-A")
    r = c.post(
        f"/returns/new/{delivered.pk}/", {f"qty-{line.pk}": "9", f"reason-{line.pk}": "size_fit", "method": "mail"}
    )
    assert b"9 requested but only 3 can be returned" in r.content
    r = c.post(
        f"/returns/new/{delivered.pk}/", {f"qty-{line.pk}": "1", f"reason-{line.pk}": "size_fit", "method": "mail"}
    )
    rma = ReturnAuthorization.objects.get()
    assert r.status_code == 302 and r.url == f"/returns/{rma.number}/"
    assert rma.return_location == store and rma.source == "back-office"
    assert rma.number.encode() in c.get(f"/orders/{delivered.pk}/").content
    rl = rma.lines.get()
    c.post(
        f"/returns/{rma.number}/receive/",
        {f"qty-{rl.pk}": "1", f"condition-{rl.pk}": "opened", f"disposition-{rl.pk}": "refurbish"},
    )
    r = c.post(f"/returns/{rma.number}/refund/", {"reference": "PAY-1"}, headers=HX)
    assert b"Refund of 10.00 USD recorded" in r.content
    assert ReturnAuthorization.objects.get().status == "closed"
    assert b"Refunds pending" in c.get("/").content


def test_roles(delivered, merch_user, store_user):
    assert _client(merch_user).get("/returns/receive/").status_code == 403
    rma = _rma(delivered)
    assert _client(store_user).post(f"/returns/{rma.number}/refund/").status_code == 403
    assert _client(store_user).get("/returns/").status_code == 200
