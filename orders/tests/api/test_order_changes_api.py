"""The order-change endpoints: ETag / If-Match, 400 naming the field, 409 naming the conflict, 412 when stale;
Hypothesis bodies never get a 500 and a refusal writes nothing."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fulfillment.services import fulfillment_order_release_now
from inventory.models import StockLevel
from inventory.selectors import stock_ledger_mismatches
from orders.models import Order
from routing.services import order_route
from routing.tests.helpers import MONDAY_9AM, make_order, stock

pytestmark = pytest.mark.django_db
LA = {"line1": "1 Main St", "city": "Los Angeles", "postal_code": "90001", "region": "CA", "country": "US"}


@pytest.fixture
def routed(web, dc, dc_west, product, product_b):
    stock(product, dc, 20)
    stock(product, dc_west, 20)
    stock(product_b, dc, 20)
    order = make_order(channel=web, lines=[(product, 3), (product_b, 2)])
    order_route(order_id=order.pk, now=MONDAY_9AM)
    return Order.objects.get(pk=order.pk)


def url(order, tail=""):
    return f"/api/v1/orders/{order.pk}/{tail}"


def test_get_gives_the_version_as_etag_and_a_stale_if_match_gets_412(api, routed):
    r = api.get(url(routed))
    etag = r.headers["ETag"]
    assert etag == f'"{routed.version}"' and r.json()["version"] == routed.version
    ok = api.post(
        url(routed, "cancel"),
        {"reason": "one less", "lines": [{"line_number": 1, "quantity": 1}]},
        format="json",
        HTTP_IF_MATCH=etag,
    )
    assert ok.status_code == 200, ok.json()
    assert ok.headers["ETag"] != etag and ok.json()["lines"][0]["quantity_cancelled"] == 1
    assert "cancelled 1 unit" in ok.json()["change"]["message"]
    stale = api.post(
        url(routed, "cancel"),
        {"reason": "again", "lines": [{"line_number": 1, "quantity": 1}]},
        format="json",
        HTTP_IF_MATCH=etag,
    )
    assert stale.status_code == 412 and stale.headers["ETag"] == ok.headers["ETag"]
    assert Order.objects.get(pk=routed.pk).lines.get(line_number=1).quantity_cancelled == 1
    # Weak form and "*" are accepted; garbage is a 400 naming the header.
    weak = "W/" + ok.headers["ETag"]
    assert api.patch(url(routed), {"shipping_address": LA}, format="json", HTTP_IF_MATCH=weak).status_code == 200
    bad = api.post(url(routed, "cancel"), {"reason": "x"}, format="json", HTTP_IF_MATCH="v7")
    assert bad.status_code == 400 and "If-Match" in bad.json()


def test_without_if_match_the_change_applies_to_the_current_version(api, routed):
    r = api.post(url(routed, "lines/"), {"sku": "SKU-B", "quantity": 1, "unit_price": "4.50"}, format="json")
    assert r.status_code == 200 and r.json()["lines"][2]["sku"] == "SKU-B"
    r = api.patch(url(routed, "lines/3/"), {"quantity": 2}, format="json")
    assert r.status_code == 200 and r.json()["lines"][2]["quantity"] == 2
    r = api.delete(url(routed, "lines/3/"), {"reason": "changed mind"}, format="json")
    assert r.status_code == 200 and r.json()["lines"][2]["quantity_cancelled"] == 2
    assert stock_ledger_mismatches() == []


def test_bad_bodies_name_the_field(api, routed):
    v = routed.version
    cases = [
        (url(routed, "cancel"), {"reason": "x", "lines": [{"line_number": 1, "quantity": 0}]}, "lines"),
        (url(routed, "cancel"), {"reason": "x", "lines": [{"line_number": 9, "quantity": 1}]}, "lines"),
        (url(routed, "cancel"), {"reason": "x", "lines": [{"line_number": 1, "quantity": 1}] * 2}, "lines"),
        (url(routed, "cancel"), {"reason": "x", "oops": 1}, "oops"),
        (url(routed, "lines/"), {"sku": "NOPE", "quantity": 1, "unit_price": "1"}, "sku"),
        (url(routed, "lines/"), {"sku": "SKU-A", "quantity": -1, "unit_price": "1"}, "quantity"),
    ]
    for path, body, field in cases:
        r = api.post(path, body, format="json")
        assert r.status_code == 400 and field in r.json(), (body, r.json())
    for body, field in [
        ({}, "shipping_address"),
        ({"shipping_address": {**LA, "postal_code": "00000"}}, "shipping_address"),
        ({"fulfillment_method": "teleport"}, "fulfillment_method"),
        ({"pickup_location": "NOWHERE"}, "pickup_location"),
    ]:
        r = api.patch(url(routed), body, format="json")
        assert r.status_code == 400 and field in r.json(), (body, r.json())
    r = api.patch(url(routed, "lines/9/"), {"quantity": 1}, format="json")
    assert r.status_code == 400 and "line_number" in r.json()
    assert Order.objects.get(pk=routed.pk).version == v


def test_cancel_of_released_work_is_202_with_the_request_and_completes_on_confirm(api, ops_api, routed):
    fo = routed.fulfillment_orders.get()
    fulfillment_order_release_now(fo_id=fo.pk)
    r = api.post(url(routed, "cancel"), {"reason": "x", "lines": [{"line_number": 2, "quantity": 1}]}, format="json")
    assert r.status_code == 202, r.json()
    (req,) = r.json()["change"]["cancel_requests"]
    assert req["fulfillment_order"] == fo.pk and req["status"] == "requested" and req["lines"][0]["quantity"] == 1
    assert Order.objects.get(pk=routed.pk).lines.get(line_number=2).quantity_cancelled == 0
    # The location confirms through the events API; then the units are cancelled.
    r = ops_api.post(
        f"/api/v1/fulfillment-orders/{fo.pk}/events/",
        {"event_id": "cx-1", "type": "cancel_confirmed", "cancel_request": req["id"]},
        format="json",
    )
    assert r.status_code == 200, r.json()
    assert Order.objects.get(pk=routed.pk).lines.get(line_number=2).quantity_cancelled == 1
    # An address the location cannot serve: the address changes, the location is asked to stop the rest (202).
    r = api.patch(url(routed), {"shipping_address": LA, "reason": "moved"}, format="json")
    assert r.status_code == 202, r.json()
    (req,) = r.json()["change"]["cancel_requests"]
    assert req["fulfillment_order"] == fo.pk and req["kind"] == "reroute" and req["status"] == "requested"
    assert r.json()["shipping_address"] == LA and r.headers["ETag"] == f'"{Order.objects.get(pk=routed.pk).version}"'


def test_pickup_store_through_patch(api, routed, store, product, product_b):
    stock(product, store, 5)
    stock(product_b, store, 5)
    r = api.patch(url(routed), {"pickup_location": store.code, "reason": "collects"}, format="json")
    assert r.status_code == 200, r.json()
    assert r.json()["fulfillment_method"] == "pickup" and r.json()["pickup_location"] == store.code
    assert StockLevel.objects.get(product=product, location=store).reserved == 3


lines_in = st.lists(
    st.fixed_dictionaries(
        {"line_number": st.one_of(st.integers(-2, 4), st.text(max_size=3)), "quantity": st.integers(-1, 5)}
    ),
    max_size=3,
)
anything = st.one_of(st.none(), st.integers(), st.text(max_size=10), st.lists(st.integers(), max_size=2))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.one_of(
        st.fixed_dictionaries({"reason": st.text(max_size=20)}, optional={"lines": st.one_of(lines_in, anything)}),
        st.dictionaries(st.text(max_size=8), anything, max_size=3),
    ),
    if_match=st.one_of(st.none(), st.text(max_size=6), st.integers(0, 50).map(lambda n: f'"{n}"')),
)
def test_cancel_fuzz_never_500s_and_a_refusal_writes_nothing(api, routed, body, if_match):
    before = Order.objects.get(pk=routed.pk).version
    headers = {} if if_match is None else {"HTTP_IF_MATCH": if_match}
    r = api.post(url(routed, "cancel"), body, format="json", **headers)
    assert r.status_code in (200, 202, 400, 409, 412), (r.status_code, body)
    after = Order.objects.get(pk=routed.pk).version
    if r.status_code == 200:
        assert after >= before
    else:
        assert after == before and r.json()
    assert stock_ledger_mismatches() == []


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.dictionaries(
        st.sampled_from(["shipping_address", "fulfillment_method", "pickup_location", "reason", "x"]),
        st.one_of(
            anything,
            st.just(LA),
            st.dictionaries(st.text(max_size=6), st.one_of(st.text(max_size=8), st.integers()), max_size=3),
            st.sampled_from(["ship", "pickup", "STORE-0001", "DC-EAST"]),
        ),
        max_size=3,
    )
)
def test_patch_fuzz_never_500s_and_a_refusal_writes_nothing(api, routed, store, body):
    before = Order.objects.get(pk=routed.pk)
    r = api.patch(url(routed), body, format="json")
    assert r.status_code in (200, 202, 400, 409), (r.status_code, body)
    after = Order.objects.get(pk=routed.pk)
    if r.status_code not in (200, 202):
        assert (after.version, after.shipping_address) == (before.version, before.shipping_address)
    assert stock_ledger_mismatches() == []


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    sku=st.one_of(st.sampled_from(["SKU-A", "SKU-B", ""]), st.text(max_size=70), st.integers()),
    quantity=st.one_of(st.integers(-1, 3), st.text(max_size=3), st.none()),
    unit_price=st.one_of(st.sampled_from(["1.00", "-1", "1e99", "abc"]), st.decimals(allow_nan=True, places=3)),
)
def test_line_add_fuzz_never_500s(api, routed, sku, quantity, unit_price):
    before = Order.objects.get(pk=routed.pk).version
    body = {"sku": sku, "quantity": quantity, "unit_price": str(unit_price)}
    r = api.post(url(routed, "lines/"), body, format="json")
    assert r.status_code in (200, 202, 400, 409), (r.status_code, body)
    if r.status_code != 200:
        assert Order.objects.get(pk=routed.pk).version == before
    assert stock_ledger_mismatches() == []


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    address=st.one_of(
        st.just(LA),
        st.fixed_dictionaries(
            {
                "line1": st.text(max_size=12),
                "city": st.text(max_size=8),
                "postal_code": st.sampled_from(["90001", "10001", "00000", "x", ""]),
                "region": st.sampled_from(["CA", "NY", "ZZ"]),
                "country": st.sampled_from(["US", "GB", "", "U"]),
            }
        ),
        anything,
    )
)
def test_address_patch_on_released_work_never_500s_and_asks_at_most_once(api, routed, address):
    fo = routed.fulfillment_orders.get()
    if fo.released_at is None:
        fulfillment_order_release_now(fo_id=fo.pk)
    before = Order.objects.get(pk=routed.pk)
    r = api.patch(url(routed), {"shipping_address": address}, format="json")
    assert r.status_code in (200, 202, 400, 409), (r.status_code, address)
    after = Order.objects.get(pk=routed.pk)
    if r.status_code in (400, 409):
        assert (after.version, after.shipping_address) == (before.version, before.shipping_address)
    else:
        assert after.shipping_address == address
    if r.status_code == 202:
        assert all(req["kind"] == "reroute" for req in r.json()["change"]["cancel_requests"])
    # The same units are never asked twice: one reroute request at most, whatever was sent.
    assert fo.cancel_requests.filter(kind="reroute", status="requested").count() <= 1
    assert stock_ledger_mismatches() == []
