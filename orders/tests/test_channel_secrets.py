"""Channel webhook secrets are write-only and rotate with an overlap; API tokens are for superusers only.

Rotation: after `channel_secret_rotate` the old and the new secret both verify a Shopify delivery until the
old one is retired (its retire time passes, or `channel_secret_retire_previous`). On screen: the admin never
renders a stored secret (not in the form, the list, or after saving), and only says when it was set."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token

from common import roles
from conftest import make_user
from dom_project.models import ApiToken
from orders.models import Channel, Order
from orders.selectors import channel_webhook_secrets
from orders.services import channel_secret_retire_previous, channel_secret_rotate
from orders.tests.api.test_shopify_webhook import deliver, raw
from orders.tests.conftest import shopify_order

OLD = "hush-test-secret"
NEW = "a-brand-new-secret-0123456789"


def _staff(username: str, *role_names: str) -> Client:
    user = make_user(username, *role_names)
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    client = Client()
    client.force_login(user)
    return client


def _root() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    return client


def _delivery(secret: str, webhook_id: str) -> int:
    body = raw(shopify_order() | {"id": abs(hash(webhook_id)) % 10**9})
    return deliver(Client(), body, secret=secret, webhook_id=webhook_id).status_code


# --- Rotation ----------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_old_and_new_secret_both_verify_until_the_old_one_is_retired(shopify_channel, ipods):
    channel_secret_rotate(channel=shopify_channel, new_secret=NEW, actor=None, overlap=timedelta(hours=2))
    assert _delivery(NEW, "wh-new") == 200
    assert _delivery(OLD, "wh-old") == 200  # Shopify retries a delivery signed before the rotation
    assert _delivery("some-other-secret-xyz", "wh-wrong") == 401
    channel_secret_retire_previous(channel=shopify_channel, actor=None)
    assert _delivery(OLD, "wh-old-2") == 401
    assert _delivery(NEW, "wh-new-2") == 200
    assert Order.objects.count() == 3


@pytest.mark.django_db
def test_the_previous_secret_stops_verifying_at_its_retire_time(shopify_channel, ipods):
    channel_secret_rotate(channel=shopify_channel, new_secret=NEW, overlap=timedelta(hours=72))
    channel = Channel.objects.get(pk=shopify_channel.pk)
    until = channel.webhook_secret_previous_until
    assert channel_webhook_secrets(channel=channel, now=until - timedelta(seconds=1)) == [NEW, OLD]
    assert channel_webhook_secrets(channel=channel, now=until) == [NEW]
    Channel.objects.filter(pk=channel.pk).update(webhook_secret_previous_until=timezone.now() - timedelta(seconds=1))
    assert _delivery(OLD, "wh-late") == 401 and _delivery(NEW, "wh-on-time") == 200


@pytest.mark.django_db
def test_rotation_with_no_overlap_and_first_set_keep_no_previous_secret(db):
    channel = Channel.objects.create(code="c1", name="C1")
    channel_secret_rotate(channel=channel, new_secret=NEW)
    channel.refresh_from_db()
    assert (channel.webhook_secret, channel.webhook_secret_previous, channel.webhook_secret_set_at is not None) == (
        NEW,
        "",
        True,
    )
    channel_secret_rotate(channel=channel, new_secret="third-secret-abcdefgh", overlap=timedelta(0))
    channel.refresh_from_db()
    assert channel_webhook_secrets(channel=channel) == ["third-secret-abcdefgh"]


@pytest.mark.django_db
@pytest.mark.parametrize("bad", ["", "   ", "short", "x" * 201, OLD])
def test_a_bad_new_secret_is_refused_naming_the_field_and_nothing_changes(shopify_channel, bad):
    with pytest.raises(ValidationError) as exc:
        channel_secret_rotate(channel=shopify_channel, new_secret=bad)
    assert "new_secret" in exc.value.message_dict
    assert Channel.objects.get(pk=shopify_channel.pk).webhook_secret == OLD


# --- Never on screen ---------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_the_channel_admin_never_shows_a_secret_and_rotates_through_the_service(shopify_channel, ipods):
    ops = _staff("ops", roles.OPERATIONS)
    url = f"/admin/orders/channel/{shopify_channel.pk}/change/"
    for page in (ops.get(url), ops.get("/admin/orders/channel/"), _root().get(url)):
        assert page.status_code == 200 and OLD.encode() not in page.content
    form = {"code": "shop", "name": "Shopify store", "kind": "web", "is_active": "on", "shop_domain": ""}
    r = ops.post(url, form | {"new_webhook_secret": NEW, "overlap_hours": "24"}, follow=True)
    assert r.status_code == 200 and b"will not be shown again" in r.content
    channel = Channel.objects.get(pk=shopify_channel.pk)
    assert (channel.webhook_secret, channel.webhook_secret_previous) == (NEW, OLD)
    assert timedelta(hours=23) < channel.webhook_secret_previous_until - timezone.now() <= timedelta(hours=24)
    page = ops.get(url)
    assert NEW.encode() not in page.content and OLD.encode() not in page.content
    assert b"Set on " in page.content and b"previous secret also verifies until" in page.content
    # A refused secret is not echoed back in the form either.
    r = ops.post(url, form | {"new_webhook_secret": "tiny-secret"})
    assert r.status_code == 200 and b"16 to 200 characters" in r.content and b"tiny-secret" not in r.content
    # Retiring the previous secret from the admin ends the overlap.
    ops.post(url, form | {"retire_previous_secret": "on"})
    assert channel_webhook_secrets(channel=Channel.objects.get(pk=shopify_channel.pk)) == [NEW]
    assert _delivery(OLD, "wh-after-retire") == 401


@pytest.mark.django_db
def test_merchandisers_and_inventory_managers_cannot_open_channels(shopify_channel):
    for username, role in (("merch", roles.MERCHANDISER), ("inv", roles.INVENTORY_MANAGER)):
        client = _staff(username, role)
        r = client.get(f"/admin/orders/channel/{shopify_channel.pk}/change/")
        assert r.status_code == 403 and OLD.encode() not in r.content


@pytest.mark.django_db
def test_api_tokens_are_for_superusers_only_and_their_key_is_shown_once(db):
    api_user = make_user("web-api", roles.API_CLIENT)
    token = Token.objects.create(user=api_user)
    ops = _staff("ops", roles.OPERATIONS)
    assert ops.get("/admin/dom_project/apitoken/").status_code == 403
    assert ops.get(f"/admin/dom_project/apitoken/{api_user.pk}/change/").status_code == 403
    assert token.key.encode() not in ops.get("/admin/").content
    root = _root()
    listing = root.get("/admin/dom_project/apitoken/")
    assert listing.status_code == 200 and token.key.encode() not in listing.content
    assert f"…{token.key[-4:]}".encode() in listing.content
    assert token.key.encode() not in root.get(f"/admin/dom_project/apitoken/{api_user.pk}/change/").content
    confirm = root.get(f"/admin/dom_project/apitoken/{api_user.pk}/delete/")
    assert confirm.status_code == 200 and token.key.encode() not in confirm.content
    assert root.get("/admin/authtoken/tokenproxy/").status_code == 404  # DRF's own listing is gone
    # Creating a token shows its key once, on the confirmation; the pages after it do not.
    other = make_user("mkt-api", roles.API_CLIENT)
    r = root.post("/admin/dom_project/apitoken/add/", {"user": other.pk}, follow=True)
    new_key = ApiToken.objects.get(user=other).key
    assert r.status_code == 200 and new_key.encode() in r.content and b"not be shown again" in r.content
    assert new_key.encode() not in root.get("/admin/dom_project/apitoken/").content
    assert new_key.encode() not in root.get("/admin/admin/logentry/").content
