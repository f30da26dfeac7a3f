"""Subscriptions API: create (secret once), read (never the secret or token), update, rotate with overlap,
delete, deliveries and "send again"; every refusal a 400 naming the field with nothing written; a private
or loopback URL refused unless the setting allows it (the outbound guard, as on the screen)."""

import json

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook

from conftest import api_for
from orders.services import order_ingest
from orders.tests.services.test_order_checks import make_in
from webhooks.models import Delivery, EventType, Subscription
from webhooks.services import deliveries_deliver_due

pytestmark = pytest.mark.django_db
URL = "/api/v1/webhook-subscriptions/"


def create(client, **overrides):
    body = {
        "name": "Storefront",
        "channel": "web",
        "url": "https://hooks.example.com/dom",
        "event_types": ["order.accepted"],
    }
    body.update(overrides)
    return client.post(URL, body, format="json")


def test_create_returns_the_secret_once_and_never_again(ops_api, web):
    r = create(ops_api)
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["secret"].startswith("whsec_") and r["Cache-Control"] == "no-store"
    sub = Subscription.objects.get()
    assert sub.secret == body["secret"] and sub.channel == web and sub.event_types == ["order.accepted"]
    for got in (ops_api.get(URL), ops_api.get(f"{URL}{sub.pk}/"), ops_api.get(f"{URL}{sub.pk}/deliveries/")):
        assert got.status_code == 200 and sub.secret not in got.content.decode()


def test_update_rotate_delete(ops_api, web):
    sub_id = create(ops_api).json()["id"]
    r = ops_api.patch(
        f"{URL}{sub_id}/", {"event_types": ["order.routed", "order.accepted"], "is_active": False}, format="json"
    )
    assert r.status_code == 200 and r.json()["event_types"] == ["order.accepted", "order.routed"]
    assert r.json()["is_active"] is False
    old = Subscription.objects.get().secret
    r = ops_api.post(f"{URL}{sub_id}/rotate-secret", format="json")
    assert r.status_code == 200 and r.json()["secret"] != old and r.json()["previous_secret_expires_at"]
    sub = Subscription.objects.get()
    assert (sub.secret, sub.previous_secret) == (r.json()["secret"], old)
    assert ops_api.delete(f"{URL}{sub_id}/").status_code == 204
    assert not Subscription.objects.exists()


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"url": "http://127.0.0.1:9/x"}, "url"),
        ({"url": "https://10.0.0.5/x"}, "url"),
        ({"url": "https://[::1]/x"}, "url"),
        ({"event_types": ["order.shipped"]}, "event_types"),
        ({"event_types": []}, "event_types"),
        ({"channel": "nope"}, "channel"),
        ({"is_active": "yes"}, "is_active"),
        ({"colour": "blue"}, "colour"),
        ({"kind": "shopify"}, "access_token"),
    ],
)
def test_refusals_name_the_field_and_write_nothing(ops_api, web, settings, overrides, field):
    settings.DOM_OUTBOUND_ALLOW_PRIVATE = False
    r = create(ops_api, **overrides)
    assert r.status_code == 400 and field in r.json(), r.content
    assert not Subscription.objects.exists()


def test_a_private_url_is_allowed_when_the_setting_allows_it(ops_api, web, settings):
    settings.DOM_OUTBOUND_ALLOW_PRIVATE = True
    assert create(ops_api, url="http://127.0.0.1:9/x").status_code == 201


def test_a_shopify_subscription_takes_its_token_write_only(ops_api, web):
    url = "https://brand.myshopify.com/admin/api/2025-07/graphql.json"
    r = create(ops_api, kind="shopify", url=url, event_types=["fulfillment.shipped"], access_token="shpat_secret_token")
    assert r.status_code == 201, r.content
    assert "shpat_secret_token" not in r.content.decode() and r.json()["has_access_token"] is True
    sub_id = r.json()["id"]
    assert "shpat" not in ops_api.get(f"{URL}{sub_id}/").content.decode()
    r = ops_api.patch(f"{URL}{sub_id}/", {"access_token": "shpat_new_token"}, format="json")
    assert r.status_code == 200 and "shpat" not in r.content.decode()
    assert Subscription.objects.get().access_token == "shpat_new_token"
    # Clearing the token is refused (a Shopify subscription needs one), nothing changes.
    assert ops_api.patch(f"{URL}{sub_id}/", {"access_token": ""}, format="json").status_code == 400
    assert Subscription.objects.get().access_token == "shpat_new_token"


def test_deliveries_and_send_again(ops_api, web, receiver, fast_retries):
    r = create(ops_api, url=receiver.url)
    sub_id, secret = r.json()["id"], r.json()["secret"]
    order_ingest(channel=web, order_in=make_in())
    d = Delivery.objects.get()
    # Still pending: "send again" is refused, naming the delivery.
    r = ops_api.post(f"/api/v1/webhook-deliveries/{d.pk}/resend", format="json")
    assert r.status_code == 400 and "delivery" in r.json()
    assert deliveries_deliver_due() == 1
    listed = ops_api.get(f"{URL}{sub_id}/deliveries/?status=delivered").json()["results"]
    assert [(x["event_type"], x["status"], x["attempts"]) for x in listed] == [("order.accepted", "delivered", 1)]
    assert listed[0]["payload"]["type"] == "order.accepted" and listed[0]["event_id"] == d.event.uid
    assert ops_api.get(f"{URL}{sub_id}/deliveries/?status=bogus").status_code == 400
    r = ops_api.post(f"/api/v1/webhook-deliveries/{d.pk}/resend", format="json")
    assert r.status_code == 200 and r.json()["status"] == "pending" and r.json()["attempts"] == 0
    assert deliveries_deliver_due() == 1
    headers, body = receiver.accepted[-1]
    assert Webhook(secret).verify(body, headers)["type"] == "order.accepted"
    assert len({h["webhook-id"] for h, _ in receiver.accepted}) == 1  # the same webhook-id both times


FIELDS = {"name", "kind", "channel", "url", "event_types", "is_active", "access_token"}
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=6,
)
bodies = st.fixed_dictionaries(
    {},
    optional={
        "name": st.one_of(st.text(max_size=120), json_values),
        "kind": st.one_of(st.sampled_from(["webhook", "shopify", "other"]), json_values),
        "channel": st.one_of(st.sampled_from(["web", "", None, "nope"]), json_values),
        "url": st.one_of(
            st.sampled_from(
                [
                    "https://hooks.example.com/x",
                    "http://127.0.0.1:1/x",
                    "https://[::1]/",
                    "https://brand.myshopify.com/admin/api/2025-07/graphql.json",
                ]
            ),
            st.text(max_size=60),
            json_values,
        ),
        "event_types": st.one_of(
            st.lists(st.sampled_from(EventType.values), max_size=4), st.lists(st.text(max_size=12), max_size=3)
        ),
        "is_active": st.one_of(st.booleans(), json_values),
        "access_token": st.one_of(st.text(max_size=40), json_values),
    },
) | st.dictionaries(st.text(max_size=10), json_values, max_size=4)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(bodies, json_values))
def test_the_create_door_never_500s_and_writes_only_valid_subscriptions(ops_user, web, body):
    client = api_for(ops_user)
    before = Subscription.objects.count()
    r = client.post(URL, json.dumps(body), content_type="application/json")
    assert r.status_code in (201, 400), (r.status_code, body)
    if r.status_code == 400:
        assert r.json() and Subscription.objects.count() == before
        return
    sub = Subscription.objects.get(pk=r.json()["id"])
    assert sub.event_types and set(sub.event_types) <= set(EventType.values)
    assert r.json()["secret"] == sub.secret
    if sub.kind == "shopify":
        assert sub.access_token and sub.channel_id and sub.url.endswith("graphql.json")


def test_store_staff_and_api_clients_are_refused(store_user, api_user, web):
    for user in (store_user, api_user):
        assert create(api_for(user)).status_code == 403
    assert Client().get(URL).status_code in (401, 403)
    assert not Subscription.objects.exists()
