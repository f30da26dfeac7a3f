"""Shopify orders/create webhooks: the real fixture, signatures, mapping, dedupe, and 50 racing deliveries."""

import json
import threading

import pytest
from django.db import close_old_connections, connection
from django.test import Client

from orders.models import Customer, Order, OrderEvent, OrderHold, OrderLine
from orders.shopify import shopify_signature
from orders.tests.conftest import shopify_order

URL = "/api/v1/channels/shop/shopify/orders-create"


def deliver(client: Client, body: bytes, *, secret="hush-test-secret", webhook_id="wh-1", signature=None, **headers):
    return client.post(
        URL,
        data=body,
        content_type="application/json",
        HTTP_X_SHOPIFY_HMAC_SHA256=signature if signature is not None else shopify_signature(secret=secret, body=body),
        HTTP_X_SHOPIFY_WEBHOOK_ID=webhook_id,
        HTTP_X_SHOPIFY_TOPIC="orders/create",
        HTTP_X_SHOPIFY_SHOP_DOMAIN="brand.myshopify.com",
        **headers,
    )


def raw(payload: dict) -> bytes:
    return json.dumps(payload).encode()


@pytest.mark.django_db
def test_real_fixture_with_a_correct_signature_becomes_one_validated_order(shopify_channel, ipods):
    body = raw(shopify_order())
    resp = deliver(Client(), body)
    assert resp.status_code == 200, resp.content
    order = Order.objects.get()
    assert resp.json() == {
        "id": order.pk,
        "number": order.number,
        "status": "validated",
        "external_id": "450789469",
        "channel": "shop",
        "created": True,
    }
    assert order.channel == shopify_channel and order.payment_status == "authorized"
    assert order.service_level == "standard"  # "Free Shipping"
    assert str(order.total) == "409.94" and str(order.tax_total) == "11.94" and str(order.subtotal) == "597.00"
    assert order.shipping_address["postal_code"] == "40202" and order.shipping_address["region"] == "KY"
    assert order.shipping_address["country"] == "US"
    assert [(ln.sku, ln.quantity, str(ln.unit_price)) for ln in order.lines.all()] == [
        ("IPOD2008GREEN", 1, "199.00"),
        ("IPOD2008RED", 1, "199.00"),
        ("IPOD2008BLACK", 1, "199.00"),
    ]
    customer = Customer.objects.get()
    assert (customer.email, customer.name, customer.identities) == (
        "bob.norman@hostmail.com",
        "Bob Norman",
        {"shop": "207119551"},
    )
    assert order.idempotency_key == "shopify-webhook:wh-1"
    assert order.raw_payload["id"] == 450789469


@pytest.mark.django_db
@pytest.mark.parametrize(
    "signature",
    ["", "not-base64", shopify_signature(secret="wrong-secret", body=b"{}")],
)
def test_wrong_signature_is_401_and_nothing_stored(shopify_channel, ipods, signature):
    body = raw(shopify_order())
    resp = deliver(Client(), body, signature=signature)
    assert resp.status_code == 401 and resp.json() == {"detail": "Invalid webhook signature."}
    assert Order.objects.count() == 0 and Customer.objects.count() == 0 and OrderEvent.objects.count() == 0


@pytest.mark.django_db
def test_signature_is_over_the_raw_body_so_reformatted_json_fails(shopify_channel, ipods):
    payload = shopify_order()
    signed = raw(payload)
    sent = json.dumps(payload, indent=2).encode()  # same JSON, different bytes
    resp = deliver(Client(), sent, signature=shopify_signature(secret="hush-test-secret", body=signed))
    assert resp.status_code == 401 and Order.objects.count() == 0


@pytest.mark.django_db
def test_channel_without_a_secret_refuses_every_delivery(shopify_channel, ipods):
    shopify_channel.webhook_secret = ""
    shopify_channel.save()
    body = raw(shopify_order())
    assert deliver(Client(), body, secret="").status_code == 401
    assert Order.objects.count() == 0


@pytest.mark.django_db
def test_other_shop_domain_is_refused_when_the_channel_names_its_shop(shopify_channel, ipods):
    shopify_channel.shop_domain = "other.myshopify.com"
    shopify_channel.save()
    assert deliver(Client(), raw(shopify_order())).status_code == 401
    assert Order.objects.count() == 0


@pytest.mark.django_db
def test_unknown_channel_is_404(db):
    resp = Client().post("/api/v1/channels/nope/shopify/orders-create", data=b"{}", content_type="application/json")
    assert resp.status_code == 404


@pytest.mark.django_db
def test_redelivery_with_the_same_webhook_id_or_the_same_order_id_is_one_order(shopify_channel, ipods):
    body = raw(shopify_order())
    first = deliver(Client(), body, webhook_id="wh-1").json()
    again = deliver(Client(), body, webhook_id="wh-1")
    other_webhook_same_order = deliver(Client(), body, webhook_id="wh-2")
    assert again.status_code == 200 and other_webhook_same_order.status_code == 200
    assert again.json()["id"] == first["id"] == other_webhook_same_order.json()["id"]
    assert again.json()["created"] is False
    assert Order.objects.count() == 1 and OrderLine.objects.count() == 3
    # Same webhook id with a changed body (a retry Shopify re-signed) is still the same delivery.
    changed = shopify_order()
    changed["id"] = 999
    assert deliver(Client(), raw(changed), webhook_id="wh-1").json()["id"] == first["id"]
    assert Order.objects.count() == 1


@pytest.mark.django_db
def test_unknown_skus_and_missing_sku_put_the_order_on_an_unknown_item_hold(shopify_channel):
    payload = shopify_order()
    payload["line_items"][2]["sku"] = ""
    resp = deliver(Client(), raw(payload))
    assert resp.status_code == 200 and resp.json()["status"] == "on_hold"
    order = Order.objects.get()
    hold = order.holds.get()
    assert hold.kind == OrderHold.Kind.UNKNOWN_ITEM
    assert "'IPOD2008GREEN' (line 1) is not in the catalogue" in hold.reason
    assert "line 3 (IPod Nano - 8gb - black) has no SKU" in hold.reason
    assert order.lines.count() == 3 and order.lines.get(line_number=3).name == "IPod Nano - 8gb - black"
    assert order.events.filter(type="hold_placed").exists()


@pytest.mark.django_db
def test_shopify_mapping_of_shipping_lines_and_financial_status(shopify_channel, ipods):
    payload = shopify_order()
    payload["shipping_lines"] = [{"code": "EXPRESS", "title": "Express (2 days)", "price": "12.50"}]
    payload["financial_status"] = "pending"
    deliver(Client(), raw(payload))
    order = Order.objects.get()
    assert order.service_level == "express" and str(order.shipping_total) == "12.50"
    assert order.payment_status == "pending" and order.status == "on_hold"
    assert order.holds.get().kind == "payment"


@pytest.mark.django_db
def test_malformed_body_with_a_valid_signature_is_400_naming_the_problems(shopify_channel):
    bad_json = b'{"id": 1, "line_items": ['
    resp = deliver(Client(), bad_json)
    assert resp.status_code == 400 and "Malformed JSON" in resp.json()["detail"][0]
    payload = shopify_order()
    payload["line_items"][0]["quantity"] = -1
    payload["created_at"] = "not a date"
    del payload["id"]
    resp = deliver(Client(), raw(payload))
    assert resp.status_code == 400
    errors = resp.json()
    assert set(errors) == {"id", "created_at", "line_items"}
    assert "positive whole number" in errors["line_items"][0]["quantity"][0]
    assert Order.objects.count() == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.concurrency
def test_50_concurrent_deliveries_of_the_same_webhook_make_one_order(shopify_channel, ipods):
    body = raw(shopify_order())
    n = 50
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = deliver(Client(), body, webhook_id="wh-race")
        except Exception as exc:  # noqa: BLE001 — recorded and asserted below
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    close_old_connections()
    errors = [r for r in results if isinstance(r, Exception)]
    assert errors == []
    assert sorted({r.status_code for r in results}) == [200]
    assert len({r.json()["id"] for r in results}) == 1
    assert sum(r.json()["created"] for r in results) == 1
    assert Order.objects.count() == 1 and OrderLine.objects.count() == 3
    assert Customer.objects.count() == 1 and Customer.objects.get().order_count == 1
    assert OrderEvent.objects.filter(type="received").count() == 1
