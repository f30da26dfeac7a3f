"""Shopify orders/cancelled, orders/updated and orders/edited: signed like orders/create, deduplicated by
webhook id, ordered by the payload's updated_at, mapped onto the order-change services; topics for orders never
received are kept and shown."""

import json

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orders.models import ChannelOrderUpdate, Order
from orders.shopify import shopify_signature
from orders.tests.conftest import shopify_order

CREATE = "/api/v1/channels/shop/shopify/orders-create"
CHANGES = "/api/v1/channels/shop/shopify/orders-changes"
pytestmark = pytest.mark.django_db


def send(url: str, payload, *, topic: str, webhook_id: str, secret: str = "hush-test-secret"):
    body = json.dumps(payload).encode()
    return Client().post(
        url,
        data=body,
        content_type="application/json",
        HTTP_X_SHOPIFY_HMAC_SHA256=shopify_signature(secret=secret, body=body),
        HTTP_X_SHOPIFY_WEBHOOK_ID=webhook_id,
        HTTP_X_SHOPIFY_TOPIC=topic,
        HTTP_X_SHOPIFY_SHOP_DOMAIN="brand.myshopify.com",
    )


@pytest.fixture
def placed(shopify_channel, ipods):
    assert send(CREATE, shopify_order(), topic="orders/create", webhook_id="c-1").status_code == 200
    return Order.objects.get()


def updated(**changes) -> dict:
    return {**shopify_order(), **changes}


def test_an_update_removing_a_line_cancels_it_and_a_redelivery_changes_nothing(placed):
    items = shopify_order()["line_items"]
    items[0] = {**items[0], "current_quantity": 0}
    r = send(
        CHANGES,
        updated(updated_at="2008-01-10T12:00:00-05:00", line_items=items),
        topic="orders/updated",
        webhook_id="u-1",
    )
    assert r.status_code == 200 and r.json()["outcome"] == "applied", r.json()
    placed.refresh_from_db()
    assert placed.lines.get(sku="IPOD2008GREEN").quantity_cancelled == 1
    version = placed.version
    again = send(
        CHANGES,
        updated(updated_at="2008-01-10T12:00:00-05:00", line_items=items),
        topic="orders/updated",
        webhook_id="u-1",
    )
    assert again.json()["duplicate"] is True and Order.objects.get().version == version
    assert ChannelOrderUpdate.objects.count() == 1


def test_an_older_update_is_ignored_and_the_timeline_says_so(placed):
    newer = updated(
        updated_at="2008-01-10T13:00:00-05:00",
        shipping_address={**shopify_order()["shipping_address"], "address1": "9 New Street"},
    )
    assert send(CHANGES, newer, topic="orders/updated", webhook_id="u-2").json()["outcome"] == "applied"
    older = updated(updated_at="2008-01-10T12:30:00-05:00")  # still the old street
    r = send(CHANGES, older, topic="orders/updated", webhook_id="u-3")
    assert r.json()["outcome"] == "ignored_older"
    placed.refresh_from_db()
    assert placed.shipping_address["line1"] == "9 New Street"
    event = placed.events.filter(type="channel_update_ignored").get()
    assert "orders/updated as of 2008-01-10 17:30:00 UTC; we already have 2008-01-10 18:00:00 UTC" in event.message
    # As old as the order as received is ignored too.
    r = send(CHANGES, updated(updated_at=shopify_order()["updated_at"]), topic="orders/updated", webhook_id="u-4")
    assert r.json()["outcome"] == "ignored_older"


def test_a_cancellation_carries_shopifys_reason(placed):
    body = updated(
        updated_at="2008-01-11T09:00:00-05:00", cancelled_at="2008-01-11T09:00:00-05:00", cancel_reason="customer"
    )
    r = send(CHANGES, body, topic="orders/cancelled", webhook_id="x-1")
    assert r.json()["outcome"] == "applied"
    placed.refresh_from_db()
    assert placed.status == "cancelled" and "customer" in placed.cancel_reason
    assert placed.events.get(type="cancelled").data["reason"].endswith(": customer")


def test_an_edit_removing_units_of_a_known_line_item(placed):
    edit = {
        "order_edit": {
            "id": 1,
            "order_id": 450789469,
            "created_at": "2008-01-10T14:00:00-05:00",
            "line_items": {"additions": [], "removals": [{"id": 518995019, "delta": 1}]},
        }
    }
    r = send(CHANGES, edit, topic="orders/edited", webhook_id="e-1")
    assert r.json()["outcome"] == "applied", r.json()
    assert Order.objects.get().lines.get(sku="IPOD2008RED").quantity_cancelled == 1


def test_a_topic_for_an_order_never_received_is_kept_and_shown(shopify_channel, ops_user):
    r = send(CHANGES, updated(id=999, updated_at="2008-01-10T12:00:00-05:00"), topic="orders/updated", webhook_id="u-9")
    assert r.status_code == 200 and r.json()["outcome"] == "unknown_order" and r.json()["order"] is None
    c = Client()
    c.force_login(ops_user)
    page = c.get("/orders/channel-updates/").content.decode()
    assert "1 update about orders never received" in page and "999" in page


def test_bad_signature_is_401_and_a_bad_body_400_naming_the_field(shopify_channel):
    r = send(
        CHANGES, updated(updated_at="2008-01-10T12:00:00-05:00"), topic="orders/updated", webhook_id="b", secret="wrong"
    )
    assert r.status_code == 401
    r = send(CHANGES, updated(updated_at="yesterday"), topic="orders/updated", webhook_id="b")
    assert r.status_code == 400 and "updated_at" in r.json()
    r = send(CHANGES, updated(updated_at="2008-01-10T12:00:00-05:00"), topic="orders/paid", webhook_id="b")
    assert r.status_code == 400 and "X-Shopify-Topic" in r.json()
    assert not ChannelOrderUpdate.objects.exists()


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=12)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=10,
)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    topic=st.sampled_from(["orders/updated", "orders/cancelled", "orders/edited"]),
    overrides=st.dictionaries(
        st.sampled_from(
            ["id", "updated_at", "cancelled_at", "cancel_reason", "line_items", "shipping_address", "order_edit"]
        ),
        json_values,
        max_size=3,
    ),
    n=st.integers(0, 10**6),
)
def test_any_signed_body_is_recorded_or_refused_by_field_never_500(placed, topic, overrides, n):
    body = updated(**{"updated_at": "2008-01-10T12:00:00-05:00", **overrides})
    before = ChannelOrderUpdate.objects.count()
    r = send(CHANGES, body, topic=topic, webhook_id=f"h-{n}")
    assert r.status_code in (200, 400), (r.status_code, body)
    if r.status_code == 400:
        assert r.json() and ChannelOrderUpdate.objects.count() == before
