"""POST/GET /api/v1/orders/: intake through the API, idempotency, channel binding, bad input."""

import pytest

from common import roles
from conftest import api_for, make_user
from orders.models import ApiClient, Channel, Customer, Order, OrderEvent, OrderLine
from orders.tests.conftest import order_payload

pytestmark = pytest.mark.django_db


def test_create_returns_201_with_id_number_status_and_stores_everything(api, catalogue):
    resp = api.post("/api/v1/orders/", order_payload(), format="json")
    assert resp.status_code == 201, resp.json()
    body = resp.json()
    order = Order.objects.get(pk=body["id"])
    assert body["number"] == order.number and order.number.startswith("DOM-")
    assert body["status"] == "validated" == order.status
    assert body["created"] is True
    line = order.lines.get()
    assert (line.sku, line.quantity, str(line.unit_price), line.product.sku) == ("SKU-A", 2, "19.99", "SKU-A")
    assert str(order.subtotal) == "39.98" and str(order.total) == "39.98"
    assert order.customer.email == "ann@example.com" and order.customer.order_count == 1
    assert order.ship_by is not None and order.promised_delivery_date is not None
    assert order.raw_payload["external_id"] == "W-1001"
    types = list(order.events.values_list("type", flat=True))
    assert types == ["received", "screened", "status_changed"]


def test_same_external_id_again_is_200_with_the_same_order_and_nothing_duplicated(api, catalogue):
    first = api.post("/api/v1/orders/", order_payload(), format="json").json()
    again = api.post("/api/v1/orders/", order_payload(), format="json")
    assert again.status_code == 200
    assert again.json()["id"] == first["id"] and again.json()["created"] is False
    assert Order.objects.count() == 1 and OrderLine.objects.count() == 1
    assert OrderEvent.objects.count() == 3
    assert Customer.objects.get().order_count == 1


def test_idempotency_key_header_returns_the_first_order(api, catalogue):
    first = api.post("/api/v1/orders/", order_payload(), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    # A retry with the same key but (say) a regenerated external id is still the same order.
    again = api.post(
        "/api/v1/orders/", order_payload(external_id="W-1001-retry"), format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert Order.objects.count() == 1


def test_get_returns_lines_status_timeline_and_fulfillment_orders(api, catalogue, dc):
    from fulfillment.models import FulfillmentLine, FulfillmentOrder

    oid = api.post("/api/v1/orders/", order_payload(), format="json").json()["id"]
    fo = FulfillmentOrder.objects.create(order_id=oid, location=dc)
    FulfillmentLine.objects.create(fulfillment_order=fo, order_line=OrderLine.objects.get(), quantity=2)
    body = api.get(f"/api/v1/orders/{oid}/").json()
    assert body["status"] == "validated"
    assert [ln["sku"] for ln in body["lines"]] == ["SKU-A"]
    assert [e["type"] for e in body["timeline"]] == ["received", "screened", "status_changed"]
    assert body["fulfillment_orders"][0]["location"] == "DC-EAST"
    assert body["fulfillment_orders"][0]["lines"][0]["quantity"] == 2


def test_api_client_may_not_create_for_another_channel(api, catalogue, marketplace):
    resp = api.post("/api/v1/orders/", order_payload(channel="mkt"), format="json")
    assert resp.status_code == 400
    assert "may only create orders for channel 'web'" in resp.json()["channel"][0]
    assert Order.objects.count() == 0


def test_api_client_without_channel_field_acts_for_its_channel(api, catalogue):
    body = order_payload()
    del body["channel"]
    resp = api.post("/api/v1/orders/", body, format="json")
    assert resp.status_code == 201
    assert Order.objects.get().channel.code == "web"


def test_api_client_cannot_read_or_cancel_another_channels_order(api, catalogue, marketplace):
    other_user = make_user("mkt-api", roles.API_CLIENT)
    ApiClient.objects.create(user=other_user, channel=marketplace)
    other = api_for(other_user)
    oid = other.post("/api/v1/orders/", order_payload(channel="mkt"), format="json").json()["id"]
    assert api.get(f"/api/v1/orders/{oid}/").status_code == 404
    assert api.post(f"/api/v1/orders/{oid}/cancel", {"reason": "x"}, format="json").status_code == 404
    assert api.get("/api/v1/orders/").json()["count"] == 0
    assert other.get("/api/v1/orders/").json()["count"] == 1


def test_same_external_id_on_two_channels_is_two_orders(api, ops_api, catalogue, marketplace):
    assert api.post("/api/v1/orders/", order_payload(), format="json").status_code == 201
    assert ops_api.post("/api/v1/orders/", order_payload(channel="mkt"), format="json").status_code == 201
    assert Order.objects.count() == 2


def test_operations_must_name_a_known_channel(ops_api, catalogue):
    resp = ops_api.post("/api/v1/orders/", order_payload(channel="nope"), format="json")
    assert resp.status_code == 400 and resp.json()["channel"] == ["Unknown or inactive channel 'nope'."]
    body = order_payload()
    del body["channel"]
    assert "channel" in ops_api.post("/api/v1/orders/", body, format="json").json()


def test_malformed_json_is_400_and_nothing_stored(api):
    resp = api.generic("POST", "/api/v1/orders/", '{"external_id": "W-1", "lines": [', content_type="application/json")
    assert resp.status_code == 400
    assert "JSON parse error" in resp.json()["detail"]
    assert Order.objects.count() == 0


def test_every_problem_is_named_at_once(ops_api, catalogue):
    body = {
        "channel": "nope",
        "placed_at": "yesterday",
        "fulfillment_method": "teleport",
        "lines": [
            {"sku": "SKU-A", "quantity": -2},
            {"sku": "SKU-B", "quantity": 1, "unit_price": "-1"},
            {"quantity": 1},
        ],
    }
    resp = ops_api.post("/api/v1/orders/", body, format="json")
    assert resp.status_code == 400
    errors = resp.json()
    assert set(errors) >= {"channel", "external_id", "placed_at", "fulfillment_method", "lines"}
    assert "greater than or equal to 1" in errors["lines"][0]["quantity"][0]
    assert "unit_price" in errors["lines"][1]
    assert "sku" in errors["lines"][2]
    assert Order.objects.count() == 0 and Customer.objects.count() == 0


def test_missing_address_for_a_ship_order_and_missing_store_for_pickup_are_400(api, catalogue):
    resp = api.post("/api/v1/orders/", order_payload(shipping_address=None), format="json")
    assert resp.status_code == 400 and "shipping_address" in resp.json()
    resp = api.post("/api/v1/orders/", order_payload(fulfillment_method="pickup"), format="json")
    assert resp.status_code == 400 and "pickup store" in resp.json()["pickup_location"][0]
    resp = api.post(
        "/api/v1/orders/", order_payload(fulfillment_method="pickup", pickup_location="STORE-9999"), format="json"
    )
    assert resp.status_code == 400 and resp.json()["pickup_location"] == ["Unknown location 'STORE-9999'."]
    assert Order.objects.count() == 0


def test_roles_without_order_access_are_refused(catalogue, store_user, merch_user, web):
    assert api_for(None).post("/api/v1/orders/", order_payload(), format="json").status_code == 401
    assert api_for(store_user).post("/api/v1/orders/", order_payload(), format="json").status_code == 403
    assert api_for(merch_user).get("/api/v1/orders/").status_code == 403
    assert Order.objects.count() == 0


def test_inactive_channel_is_refused(ops_api, catalogue, web):
    Channel.objects.filter(pk=web.pk).update(is_active=False)
    resp = ops_api.post("/api/v1/orders/", order_payload(), format="json")
    assert resp.status_code == 400 and Order.objects.count() == 0


def test_list_filters_by_status(api, catalogue):
    api.post("/api/v1/orders/", order_payload(), format="json")
    api.post("/api/v1/orders/", order_payload(external_id="W-2", payment_status="pending"), format="json")
    assert api.get("/api/v1/orders/?status=on_hold").json()["count"] == 1
    assert api.get("/api/v1/orders/?status=validated").json()["results"][0]["external_id"] == "W-1001"
