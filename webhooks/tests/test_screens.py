"""The Operations screens: subscriptions (secret shown once), deliveries with payload, send again."""

import pytest
from django.test import Client

from common import roles
from conftest import make_user
from orders.services import order_ingest
from orders.tests.services.test_order_checks import make_in
from webhooks.models import Delivery, Subscription
from webhooks.services import deliveries_deliver_due, subscription_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def ops(ops_user) -> Client:
    c = Client(enforce_csrf_checks=False)
    c.force_login(ops_user)
    return c


def test_create_shows_the_secret_once_and_never_again(ops, web, receiver):
    r = ops.post(
        "/webhooks/",
        {
            "name": "Storefront",
            "channel": "web",
            "url": receiver.url,
            "event_types": ["order.accepted", "order.routed"],
        },
    )
    assert r.status_code == 200
    sub = Subscription.objects.get()
    assert sub.secret in r.content.decode() and "no-store" in r.headers.get("Cache-Control", "")
    assert sub.event_types == ["order.accepted", "order.routed"] and sub.channel == web
    for url in ("/webhooks/", f"/webhooks/{sub.pk}/"):
        page = ops.get(url)
        assert page.status_code == 200 and sub.secret not in page.content.decode()


def test_rotate_shows_the_new_secret_once(ops, web, receiver):
    sub, old = subscription_create(name="s", url=receiver.url, event_types=["order.accepted"], channel=web)
    r = ops.post(f"/webhooks/{sub.pk}/rotate/")
    sub.refresh_from_db()
    assert sub.secret != old and sub.previous_secret == old and sub.secret in r.content.decode()
    page = ops.get(f"/webhooks/{sub.pk}/").content.decode()
    assert sub.secret not in page and old not in page


@pytest.mark.parametrize(
    "data, field",
    [
        ({"url": "ftp://x.example/hook"}, "url"),
        ({"event_types": ["order.exploded"]}, "event_types"),
        ({"event_types": []}, "event_types"),
        ({"channel": "nope"}, "channel"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_subscription_form_is_a_400_naming_the_field(ops, web, data, field):
    base = {"name": "s", "channel": "web", "url": "https://hooks.example.com/x", "event_types": ["order.accepted"]}
    r = ops.post("/webhooks/", {**base, **data})
    assert r.status_code == 400
    assert field in r.context["form"].errors
    assert not Subscription.objects.exists()


def test_loopback_url_is_refused_on_the_screen_unless_allowed(ops, web, settings):
    settings.DOM_OUTBOUND_ALLOW_PRIVATE = False
    r = ops.post("/webhooks/", {"name": "s", "url": "http://127.0.0.1:8000/x", "event_types": ["order.accepted"]})
    assert r.status_code == 400 and "url" in r.context["form"].errors and not Subscription.objects.exists()


def test_deliveries_show_status_attempts_response_payload_and_send_again(ops, web, stocked, receiver, subscribed):
    sub, _ = subscribed
    receiver.mode = "500"
    order = order_ingest(channel=web, order_in=make_in()).order
    deliveries_deliver_due()
    page = ops.get(f"/webhooks/{sub.pk}/").content.decode()
    assert "HTTP 500" in page and "receiver is broken today" in page and order.number in page
    assert "order.accepted" in page and "&quot;version&quot;:1" in page
    d = Delivery.objects.get()
    assert "Send again" not in page  # still pending: retried on its own
    Delivery.objects.filter(pk=d.pk).update(status="dead")
    receiver.mode = "ok"
    r = ops.post(f"/webhooks/deliveries/{d.pk}/resend/")
    assert r.status_code == 302
    d.refresh_from_db()
    assert d.status == "pending" and d.attempts == 0
    assert deliveries_deliver_due() == 1 and receiver.types() == ["order.accepted"]


def test_pause_and_resume(ops, web, receiver):
    sub, _ = subscription_create(name="s", url=receiver.url, event_types=["order.accepted"], channel=web)
    ops.post(f"/webhooks/{sub.pk}/toggle/")
    sub.refresh_from_db()
    assert not sub.is_active
    ops.post(f"/webhooks/{sub.pk}/toggle/")
    sub.refresh_from_db()
    assert sub.is_active


def test_posts_need_csrf(ops_user, web, receiver):
    sub, _ = subscription_create(name="s", url=receiver.url, event_types=["order.accepted"], channel=web)
    c = Client(enforce_csrf_checks=True)
    c.force_login(ops_user)
    assert c.post(f"/webhooks/{sub.pk}/rotate/").status_code == 403
    assert c.post(f"/webhooks/{sub.pk}/toggle/").status_code == 403


@pytest.mark.parametrize("role", [roles.STORE_STAFF, roles.MERCHANDISER, roles.INVENTORY_MANAGER, roles.API_CLIENT])
def test_other_roles_get_403(role, web, receiver):
    sub, secret = subscription_create(name="s", url=receiver.url, event_types=["order.accepted"], channel=web)
    c = Client()
    c.force_login(make_user("someone", role))
    for method, url in [
        ("get", "/webhooks/"),
        ("get", f"/webhooks/{sub.pk}/"),
        ("post", f"/webhooks/{sub.pk}/rotate/"),
    ]:
        assert getattr(c, method)(url).status_code == 403
    sub.refresh_from_db()
    assert sub.secret == secret


def test_a_shopify_subscription_is_made_on_the_screen_and_its_token_never_shown(web, ops_user):
    ops = Client()
    ops.force_login(ops_user)
    url = "https://brand.myshopify.com/admin/api/2025-07/graphql.json"
    data = {"name": "shop", "kind": "shopify", "channel": "web", "url": url, "event_types": ["fulfillment.shipped"]}
    r = ops.post("/webhooks/", {**data, "access_token": "shpat_typed_secret", "event_types": ["order.routed"]})
    assert r.status_code == 400 and "shpat_typed_secret" not in r.content.decode()  # not rendered back on error
    assert not Subscription.objects.exists()
    r = ops.post("/webhooks/", {**data, "access_token": "shpat_typed_secret"})
    assert r.status_code == 200 and "shpat_typed_secret" not in r.content.decode()
    sub = Subscription.objects.get()
    assert (sub.kind, sub.access_token) == ("shopify", "shpat_typed_secret")
    for page in (ops.get("/webhooks/"), ops.get(f"/webhooks/{sub.pk}/")):
        assert "shpat_typed_secret" not in page.content.decode()
