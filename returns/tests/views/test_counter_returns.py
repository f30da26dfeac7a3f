"""Store staff start an in-store return the way a counter does: the order number plus a second fact (the
customer's e-mail or the order's postal code). No order is shown without both, a wrong fact and an unknown
number get the same answer, and the receive search stays inside the clerk's store."""

import re

import pytest
from django.test import Client

from orders.models import Order
from returns.models import ReturnAuthorization
from returns.services import ReturnLineIn, rma_create

NO_MATCH = b"No order matches that order number and e-mail or postal code."


@pytest.fixture(autouse=True)
def _no_earlier_failures():
    """The failed look-up counts live in the cache: start each test without any."""
    from django.core.cache import cache

    cache.clear()


def _client(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def _start(client: Client, order: str, proof: str):
    return client.post("/returns/start/", {"order": order, "proof": proof})


def _without_per_request_tokens(content: bytes) -> bytes:
    """The page without what differs on every request anyway (the CSRF token, the CSP nonce)."""
    content = re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", content)
    content = re.sub(rb'"X-CSRFToken": "[^"]+"', b"", content)
    return re.sub(rb'nonce="[^"]+"', b"", content)


def test_the_create_page_refuses_an_order_the_clerk_did_not_find_with_a_second_fact(delivered, store_user):
    c = _client(store_user)
    r = c.get(f"/returns/new/{delivered.pk}/?store=STORE-0001")
    assert r.status_code == 404 and b"Ann Smith" not in r.content and b"SKU-A" not in r.content
    line = delivered.lines.get(sku="SKU-A")
    r = c.post(f"/returns/new/{delivered.pk}/", {f"qty-{line.pk}": "1", "store": "STORE-0001"})
    assert r.status_code == 404 and not ReturnAuthorization.objects.exists()


@pytest.mark.parametrize("proof", ["ann@example.com", "  ANN@Example.COM ", "10001", " 10001 ", "100-01"], ids=repr)
def test_order_number_and_email_or_postal_code_start_a_return_at_the_clerks_store(delivered, store_user, proof):
    c = _client(store_user)
    r = _start(c, delivered.number.lower(), proof)
    assert r.status_code == 302 and r.url == f"/returns/new/{delivered.pk}/?store=STORE-0001"
    page = c.get(r.url)
    assert page.status_code == 200 and b"Ann Smith" in page.content and b"SKU-A" in page.content
    line = delivered.lines.get(sku="SKU-A")
    r = c.post(f"/returns/new/{delivered.pk}/", {f"qty-{line.pk}": "1", "store": "STORE-0001"})
    rma = ReturnAuthorization.objects.get()
    assert r.status_code == 302 and (rma.method, rma.return_location.code, rma.source) == (
        "in_store",
        "STORE-0001",
        "store",
    )
    # The finding was for this one return: the order's page is closed again afterwards.
    assert c.get(f"/returns/new/{delivered.pk}/").status_code == 404


def test_a_billing_postal_code_with_letters_matches_whatever_the_case_and_spacing(delivered, store_user):
    Order.objects.filter(pk=delivered.pk).update(billing_address={"line1": "10 Downing St", "postal_code": "SW1A 2AA"})
    assert _start(_client(store_user), delivered.number, "sw1a2aa").status_code == 302
    assert _start(_client(store_user), delivered.number, "SW1A").status_code == 200  # part of it is not enough


def test_a_wrong_fact_and_an_unknown_order_get_the_same_neutral_answer(delivered, store_user):
    c = _client(store_user)
    answers = [
        _start(c, delivered.number, "someone.else@example.com"),  # wrong e-mail
        _start(c, delivered.number, "94105"),  # wrong postal code
        _start(c, delivered.number, ""),  # no second fact
        _start(c, "NO-SUCH-ORDER", "ann@example.com"),  # unknown order
    ]
    for r in answers:
        assert r.status_code == 200 and NO_MATCH in r.content
        assert b"Ann Smith" not in r.content and b"SKU-A" not in r.content
    assert len({_without_per_request_tokens(r.content) for r in answers}) == 1
    assert c.get(f"/returns/new/{delivered.pk}/").status_code == 404


def test_an_order_not_yet_shipped_is_not_found_either(delivered, store_user):
    Order.objects.filter(pk=delivered.pk).update(status=Order.Status.ROUTED)
    r = _start(_client(store_user), delivered.number, "ann@example.com")
    assert r.status_code == 200 and NO_MATCH in r.content


def test_the_receive_search_lists_no_orders_for_store_staff(delivered, store_user, ops_user):
    for q in (delivered.number, "ann@example.com"):
        r = _client(store_user).get("/returns/receive/", {"q": q})
        assert r.status_code == 200 and b"Ann Smith" not in r.content
        assert f"/returns/new/{delivered.pk}/".encode() not in r.content
    # Operations still find the order by number or e-mail and start its return from there.
    r = _client(ops_user).get("/returns/receive/", {"q": "ann@example.com"})
    assert f"/returns/new/{delivered.pk}/".encode() in r.content


def test_the_receive_search_stays_inside_the_clerks_store(delivered, store, store_b, store_user, store_b_user):
    at_b = rma_create(
        order=delivered, lines=[ReturnLineIn(sku="SKU-A", quantity=1)], method="in_store", store=store_b
    ).rma
    for q in (at_b.number, delivered.number, "ann@example.com"):
        card = f'data-rma="{at_b.number}"'.encode()
        r = _client(store_user).get("/returns/receive/", {"q": q, "list": "1"})
        assert card not in r.content and b"Ann Smith" not in r.content, q
        r = _client(store_b_user).get("/returns/receive/", {"q": q, "list": "1"})
        assert card in r.content and b"Ann Smith" in r.content, q


def test_guessing_the_second_fact_is_cut_off_after_the_allowed_failures(delivered, store_user, settings):
    from django.core.cache import cache

    settings.DOM = {**settings.DOM, "RETURNS_START_FAILURES_PER_15_MIN": 3}
    c = _client(store_user)
    for guess in ("10002", "10003", "10004"):
        assert _start(c, delivered.number, guess).status_code == 200
    r = _start(c, delivered.number, "10001")  # the right postal code, but only after the limit
    assert r.status_code == 429 and b"Ann Smith" not in r.content
    assert c.get(f"/returns/new/{delivered.pk}/").status_code == 404
    cache.clear()
    assert _start(c, delivered.number, "10001").status_code == 302
