"""Hostile input, one test per class (issue 15 §4 and the naive-timestamp rule of §6): every door answers a
4xx in the API's JSON error shape naming the field, and stores nothing. The property-based companion is
test_hostile_input.py."""

# ruff: noqa: F811 - the fixtures imported from orders.tests.conftest are named as parameters
from __future__ import annotations

import json

import pytest
from django.test import Client

from bench.factories import make_fo, make_order, put_stock
from common import roles
from conftest import api_for, make_user
from fulfillment.models import FulfillmentEvent, Shipment
from inventory.models import FeedRun, Location, StockLevel, WmsEvent, WmsFeed
from orders.csv_orders import CsvOrderErrors
from orders.models import Customer, Order, OrderLine
from orders.services import order_csv_import
from orders.shopify import shopify_signature
from orders.tests.conftest import ipods, order_payload, shopify_channel, shopify_order  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db

SHOPIFY_URL = "/api/v1/channels/shop/shopify/orders-create"


@pytest.fixture(autouse=True)
def no_routing_no_throttle(settings):
    settings.DOM = {**settings.DOM, "ROUTE_ORDER_TASK": ""}
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"webhook": "100000/min", "feed": "100000/min"},
    }


@pytest.fixture
def client_for(api_user):
    token = api_for(api_user)._credentials["HTTP_AUTHORIZATION"]
    return Client(raise_request_exception=False, HTTP_AUTHORIZATION=token)


def post_order(client: Client, body) -> object:
    raw = body if isinstance(body, bytes) else json.dumps(body, allow_nan=True).encode()
    return client.post("/api/v1/orders/", raw, content_type="application/json")


def deliver(body, *, raw: bytes | None = None):
    data = raw if raw is not None else json.dumps(body, allow_nan=True).encode()
    return Client(raise_request_exception=False).post(
        SHOPIFY_URL,
        data=data,
        content_type="application/json",
        HTTP_X_SHOPIFY_HMAC_SHA256=shopify_signature(secret="hush-test-secret", body=data),
        HTTP_X_SHOPIFY_WEBHOOK_ID="wh-hostile",
        HTTP_X_SHOPIFY_TOPIC="orders/create",
    )


def assert_refused(response, *fields: str, code: int = 400) -> dict:
    """A 4xx in the API's JSON error shape, naming each field; no order stored."""
    assert response.status_code == code, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert isinstance(body, dict)
    for field in fields:
        assert field in json.dumps(body), (field, body)
    assert Order.objects.count() == 0 and OrderLine.objects.count() == 0
    return body


# --- Numbers without an upper bound ----------------------------------------------------------------------
def test_a_line_whose_price_times_quantity_overflows_is_refused(client_for, product):
    r = post_order(client_for, order_payload(lines=[{"sku": "SKU-A", "quantity": 99999, "unit_price": "999999999.99"}]))
    assert_refused(r, "lines")


def test_amounts_beyond_the_money_columns_are_refused_at_every_order_door(client_for, product, shopify_channel, ipods):
    assert_refused(post_order(client_for, order_payload(total="99999999999")), "total")
    order = shopify_order()
    order["total_price"] = "1" + "0" * 30
    assert_refused(deliver(order), "total")
    order = shopify_order()
    order["line_items"][0]["quantity"] = 10**9
    assert_refused(deliver(order), "quantity")


def test_nan_and_infinity_prices_are_refused(client_for, product, shopify_channel, ipods):
    raw = json.dumps(order_payload(lines=[{"sku": "SKU-A", "quantity": 1, "unit_price": float("nan")}])).encode()
    assert_refused(post_order(client_for, raw), "NaN")
    for price in ("NaN", "Infinity", "-Infinity", "sNaN"):
        order = shopify_order()
        order["line_items"][0]["price"] = price
        assert_refused(deliver(order), "price")
    order = shopify_order()
    order["total_tax"] = float("inf")
    assert_refused(deliver(order), "Infinity")


def test_b2b_csv_refuses_numbers_beyond_the_limits(ops_user, marketplace):
    from inventory.models import Product

    Product.objects.create(sku="SKU-A", name="Widget")
    header = "external_id,placed_at,ship_line1,ship_city,ship_region,ship_postal_code,sku,quantity,unit_price\n"
    text = header + (
        "PO-1,2026-03-02,1 Main St,Louisville,KY,40202,SKU-A,99999999999999999999,5.00\n"
        "PO-2,2026-03-02,1 Main St,Louisville,KY,40202,SKU-A,1,NaN\n"
        "PO-3,2026-03-02,1 Main St,Louisville,KY,40202,SKU-A,1,1e30\n"
    )
    with pytest.raises(CsvOrderErrors) as exc:
        order_csv_import(channel=marketplace, text=text, actor=ops_user)
    assert {(e.row, e.field) for e in exc.value.errors} == {(2, "quantity"), (3, "unit_price"), (4, "unit_price")}
    assert Order.objects.count() == 0


# --- Dates far in the future or past -----------------------------------------------------------------------
def test_dates_out_of_range_are_refused(client_for, product, shopify_channel, ipods):
    for when in ("9999-12-31T23:59:59Z", "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+05:00"):
        assert_refused(post_order(client_for, order_payload(placed_at=when)), "placed_at")
        order = shopify_order()
        order["created_at"] = when
        assert_refused(deliver(order), "created_at")


# --- NUL characters anywhere ---------------------------------------------------------------------------------
def test_nul_in_a_field_the_api_ignores_is_refused_not_stored(client_for, product, shopify_channel, ipods):
    assert_refused(post_order(client_for, order_payload(note="a\x00b")), "note")
    assert_refused(post_order(client_for, order_payload(extra={"deep": ["x\x00"]})), "extra.deep.0")
    order = shopify_order()
    order["note_attributes"] = [{"name": "gift", "value": "\x00"}]
    assert_refused(deliver(order), "note_attributes.0.value")


# --- Deep nesting and oversized bodies ---------------------------------------------------------------------
def test_json_nested_thousands_deep_is_a_400(client_for, product, shopify_channel, ipods):
    deep = b'{"external_id": "x", "n": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    assert_refused(post_order(client_for, deep), "deeper than 32")
    assert_refused(deliver(None, raw=deep), "deeper than 32")
    assert_refused(
        post_order(
            client_for, order_payload(extra=[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]])
        ),
        "deeper than 32",
    )


def test_oversized_bodies_are_a_413_in_the_api_error_shape(client_for, product, shopify_channel, ipods, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 20_000
    big = order_payload(note="x" * 30_000)
    body = assert_refused(post_order(client_for, big), code=413)
    assert "20,000 bytes" in body["detail"]
    body = assert_refused(deliver(dict(shopify_order(), note="x" * 30_000)), code=413)
    assert "20,000 bytes" in body["detail"]


# --- Wrong types in a signed Shopify payload ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("shipping_lines", 5),
        ("shipping_lines", "express"),
        ("shipping_lines", {"price": "1.00"}),
        ("shipping_lines", [3]),
        ("id", {"a": 1}),
        ("id", [1]),
        ("email", {"a": 1}),
        ("customer", "bob"),
        ("shipping_address", ["1 Main St"]),
        ("currency", ["USD"]),
    ],
)
def test_wrong_types_in_a_signed_shopify_payload_are_named(shopify_channel, ipods, field, value):
    order = shopify_order()
    order[field] = value
    assert_refused(deliver(order), field)


def test_wrong_types_inside_shopify_objects_are_named(shopify_channel, ipods):
    order = shopify_order()
    order["customer"]["first_name"] = ["Bob"]
    assert_refused(deliver(order), "customer.first_name")
    order = shopify_order()
    order["line_items"][0]["sku"] = {"x": 1}
    assert_refused(deliver(order), "sku")
    order = shopify_order()
    order["shipping_address"]["city"] = {"x": 1}
    assert_refused(deliver(order), "shipping_address.city")


# --- Strings longer than their column -------------------------------------------------------------------------
def test_strings_longer_than_their_column_are_named(client_for, product, shopify_channel, ipods):
    long_email = "a" * 300 + "@example.com"
    assert_refused(post_order(client_for, order_payload(customer={"email": long_email})), "email")
    order = shopify_order()
    order["email"] = long_email
    assert_refused(deliver(order), "customer.email")
    order = shopify_order()
    order["customer"]["first_name"] = "B" * 300
    assert_refused(deliver(order), "customer.name")
    order = shopify_order()
    order["line_items"][0]["sku"] = "S" * 65
    assert_refused(deliver(order), "sku")
    assert Customer.objects.count() == 0


# --- One max-lines limit at every door ---------------------------------------------------------------------------
def test_one_lines_per_order_limit_at_every_door(client_for, product, shopify_channel, ipods, marketplace, ops_user):
    lines = [{"sku": "SKU-A", "quantity": 1, "unit_price": "1.00"}] * 501
    assert_refused(post_order(client_for, order_payload(lines=lines)), "lines")
    order = shopify_order()
    order["line_items"] = [dict(order["line_items"][0], id=i) for i in range(501)]
    assert_refused(deliver(order), "line_items", "At most 500 lines")
    header = "external_id,placed_at,ship_line1,ship_city,ship_region,ship_postal_code,sku,quantity,unit_price\n"
    text = header + "PO-1,2026-03-02,1 Main St,Louisville,KY,40202,SKU-A,1,1.00\n" + "PO-1,,,,,,SKU-A,1,1.00\n" * 500
    with pytest.raises(CsvOrderErrors) as exc:
        order_csv_import(channel=marketplace, text=text, actor=ops_user)
    assert [(e.row, e.field) for e in exc.value.errors] == [(2, "lines")]
    assert "At most 500 lines" in exc.value.errors[0].message
    assert Order.objects.count() == 0


def test_the_lines_limit_is_one_setting(client_for, product, shopify_channel, ipods, settings):
    settings.DOM = {**settings.DOM, "ORDER_MAX_LINES": 2}
    assert_refused(post_order(client_for, order_payload(lines=[{"sku": "SKU-A", "quantity": 1}] * 3)), "At most 2")
    assert_refused(deliver(shopify_order()), "At most 2 lines")  # the fixture has three line items


# --- Naive timestamps (§6) --------------------------------------------------------------------------------------
def test_a_naive_timestamp_is_refused_at_every_order_door(client_for, product, shopify_channel, ipods, marketplace):
    body = assert_refused(post_order(client_for, order_payload(placed_at="2026-03-02T10:15:00")), "placed_at")
    assert "offset" in body["placed_at"][0]
    order = shopify_order()
    order["created_at"] = "2008-01-10T11:00:00"
    body = assert_refused(deliver(order), "created_at")
    assert "offset" in body["created_at"][0]
    header = "external_id,placed_at,ship_line1,ship_city,ship_region,ship_postal_code,sku,quantity\n"
    text = header + "PO-1,2026-03-02T10:15,1 Main St,Louisville,KY,40202,SKU-A,1\n"
    with pytest.raises(CsvOrderErrors) as exc:
        order_csv_import(channel=marketplace, text=text)
    [error] = exc.value.errors
    assert (error.row, error.field) == (2, "placed_at") and "offset" in error.message
    # With an offset (or as a plain date in the CSV) the same orders are taken.
    assert post_order(client_for, order_payload(placed_at="2026-03-02T10:15:00+01:00")).status_code == 201
    text = header + "PO-1,2026-03-02T10:15+01:00,1 Main St,Louisville,KY,40202,SKU-A,1\n"
    assert len(order_csv_import(channel=marketplace, text=text).created) == 1


# --- WMS push and fulfilment events -------------------------------------------------------------------------------
@pytest.fixture
def wms_feed(dc, monkeypatch):
    monkeypatch.setenv("DOM_FEED_EDISON_SECRET", "s3cret")
    return WmsFeed.objects.create(
        name="edison",
        format=WmsFeed.Format.JSON_EVENTS,
        transport=WmsFeed.Transport.HTTP_PUSH,
        secret_env="DOM_FEED_EDISON_SECRET",
        location_map={"EDI1": "DC-EAST"},
    )


def push(raw: bytes):
    return Client(raise_request_exception=False).post(
        "/api/v1/wms/edison/events", raw, content_type="application/json", HTTP_AUTHORIZATION="Bearer s3cret"
    )


def event(**kw) -> dict:
    return {"id": "e1", "sequence": 1, "sku": "SKU-A", "location": "EDI1", "type": "adjust", "quantity": 1, **kw}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("type", []),
        ("type", {"a": 1}),
        ("quantity", 10**12),
        ("at", "9999-12-31T23:59:59-14:00"),
        ("at", "1000-01-01T00:00:00Z"),
    ],
)
def test_wms_events_of_the_wrong_type_or_out_of_range_are_rejected_by_field(wms_feed, product, field, value):
    r = push(json.dumps({"events": [event(**{field: value})]}).encode())
    assert r.status_code == 400, r.content[:300]
    assert r.json()["rejected"][0]["column"] == field
    assert WmsEvent.objects.count() == 0 and StockLevel.objects.count() == 0
    assert list(FeedRun.objects.values_list("status", flat=True)) == ["rejected"]


def test_wms_bodies_deep_or_with_nan_are_a_400_in_the_error_shape(wms_feed, product):
    for raw in (b'{"events": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", b'{"events": [{"quantity": NaN}]}'):
        r = push(raw)
        assert r.status_code == 400 and "events" in r.json(), r.content[:300]
    assert WmsEvent.objects.count() == 0 and FeedRun.objects.count() == 0


@pytest.fixture
def tpl_fo(web, product):
    tpl = Location.objects.create(code="3PL-1", name="3PL", kind="3pl", postal_code="38118")
    user = make_user("3pl-bot", roles.API_CLIENT)
    tpl.staff.add(user)
    put_stock(product, tpl, 10)
    return api_for(user), make_fo(order=make_order(channel=web, lines=[(product, 2)]), location=tpl)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("carrier", "C" * 41),
        ("service", "S" * 41),
        ("tracking_number", "T" * 81),
        ("tracking_url", "https://t.example/" + "u" * 300),
        ("cost", "-1"),
        ("lines", [{"sku": "SKU-A", "quantity": 10**12}]),
    ],
)
def test_fulfilment_event_values_beyond_their_columns_are_named(tpl_fo, field, value):
    api, fo = tpl_fo
    body = {"event_id": "s1", "type": "shipped", "tracking_number": "1Z1", "carrier": "UPS", field: value}
    r = api.post(f"/api/v1/fulfillment-orders/{fo.pk}/events", body, format="json")
    assert r.status_code == 400 and field in r.json(), r.content[:300]
    assert FulfillmentEvent.objects.count() == 0 and Shipment.objects.count() == 0
    fo.refresh_from_db()
    assert fo.status == "created"


def test_wms_adjustments_that_add_up_beyond_a_stock_level_are_refused_whole(wms_feed, product):
    events = [event(id=f"e{i}", sequence=i, quantity=10**9) for i in (1, 2, 3)]
    r = push(json.dumps({"events": events}).encode())
    assert r.status_code == 400 and "more stock than a level can hold" in r.json()["message"], r.content[:300]
    assert WmsEvent.objects.count() == 0 and StockLevel.objects.count() == 0
    assert list(FeedRun.objects.values_list("status", flat=True)) == ["rejected"]
