"""Signatures per the Standard Webhooks spec, secret rotation with overlap, and the outbound URL guard."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from orders.services import order_ingest
from orders.tests.services.test_order_checks import make_in
from webhooks.models import Delivery, Subscription
from webhooks.services import deliveries_deliver_due, subscription_create, subscription_secret_rotate
from webhooks.signing import webhook_headers_sign


def test_signature_matches_the_specifications_test_vector():
    # The published example of the Standard Webhooks reference libraries.
    headers = webhook_headers_sign(
        msg_id="msg_p5jXN8AQM9LWM0D4loKWxJek",
        timestamp=datetime.fromtimestamp(1614265330, tz=UTC),
        body='{"test": 2432232314}',
        secrets_=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )
    assert headers == {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }


@pytest.mark.django_db
def test_rotation_signs_with_both_secrets_during_the_overlap_then_only_the_new(web, receiver):
    sub, old = subscription_create(name="s", url=receiver.url, event_types=["order.accepted"], channel=web)
    now = timezone.now()
    new = subscription_secret_rotate(subscription=sub, overlap=timedelta(hours=1), now=now)
    assert new != old and new.startswith("whsec_")
    order_ingest(channel=web, order_in=make_in(ext="R-1"))
    deliveries_deliver_due(now=now + timedelta(seconds=1))
    headers, body = receiver.accepted[-1]
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(body, headers)
    Webhook(new).verify(body, headers)
    # After the overlap only the new secret signs (timestamps checked by hand: the clock is moved).
    sub.refresh_from_db()
    Subscription.objects.filter(pk=sub.pk).update(previous_secret_expires_at=timezone.now() - timedelta(seconds=1))
    order_ingest(channel=web, order_in=make_in(ext="R-2"))
    deliveries_deliver_due()
    headers, body = receiver.accepted[-1]
    assert len(headers["webhook-signature"].split(" ")) == 1
    Webhook(new).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(body, headers)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:9/hook", "https://10.0.0.5/hook", "https://169.254.169.254/latest", "https://[::1]/x"],
)
def test_private_and_loopback_urls_are_refused_unless_allowed(web, settings, url):
    settings.DOM_OUTBOUND_ALLOW_PRIVATE = False
    with pytest.raises(ValidationError) as err:
        subscription_create(name="s", url=url, event_types=["order.accepted"], channel=web)
    assert "url" in err.value.message_dict
    assert not Subscription.objects.exists()


@pytest.mark.django_db
def test_the_guard_is_applied_again_at_send_time(web, receiver, settings):
    subscription_create(name="s", url=receiver.url, event_types=["order.accepted"], channel=web)
    settings.DOM_OUTBOUND_ALLOW_PRIVATE = False  # e.g. the setting was switched off after the subscription
    order_ingest(channel=web, order_in=make_in())
    deliveries_deliver_due()
    d = Delivery.objects.get()
    assert d.status == "pending" and "not allowed" in d.last_error and receiver.requests == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"url": "ftp://example.com/x"}, "url"),
        ({"url": "https://user:pw@example.com/x"}, "url"),
        ({"url": ""}, "url"),
        ({"event_types": []}, "event_types"),
        ({"event_types": ["order.exploded"]}, "event_types"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_subscription_input_names_the_field_and_writes_nothing(web, kwargs, field):
    args = {"name": "s", "url": "https://hooks.example.com/x", "event_types": ["order.accepted"], **kwargs}
    with pytest.raises(ValidationError) as err:
        subscription_create(channel=web, **args)
    assert field in err.value.message_dict
    assert not Subscription.objects.exists()
