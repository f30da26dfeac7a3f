"""Customer "I'm here" check-in: a signed, expiring link per pickup order; a public, rate-limited page that
puts the order first in the store's queue with a badge and a timeline event; hostile tokens and fields
get a 4xx page, never a 500."""

from urllib.parse import quote

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from bench.factories import make_fo, make_order
from fulfillment.models import FulfillmentOrder
from fulfillment.services import (
    CheckinClosed,
    CheckinLinkExpired,
    CheckinLinkInvalid,
    pickup_checkin_record,
    pickup_checkin_resolve,
    pickup_checkin_token,
    pickup_checkin_url,
)
from fulfillment.services.checkin import SALT

pytestmark = pytest.mark.django_db


def _path(fo):
    return reverse("fulfillment:checkin", args=[pickup_checkin_token(fo=fo)])


def test_url_is_absolute_signed_and_names_only_pickups(settings, pickup_fo, ship_fo_store):
    settings.DOM_PUBLIC_BASE_URL = "https://shop.example.com"
    url = pickup_checkin_url(fo=pickup_fo)
    assert url.startswith("https://shop.example.com/fulfillment/here/")
    assert pickup_checkin_resolve(token=url.rstrip("/").rsplit("/", 1)[1]) == pickup_fo
    with pytest.raises(Exception, match="not a pickup order"):
        pickup_checkin_url(fo=ship_fo_store)


def test_checkin_page_puts_order_first_with_badge_and_one_event(client, store_user, web, store, product, pickup_fo):
    # A second, more urgent pickup order: before the check-in it is first in the queue.
    other = make_fo(
        order=make_order(
            channel=web,
            lines=[(product, 1)],
            method="pickup",
            pickup_location=store,
            name="Zed Urgent",
            email="zed@example.com",
        ),
        location=store,
        method="pickup",
    )
    other.order.priority = 999
    other.order.save(update_fields=["priority"])
    staff = Client()
    staff.force_login(store_user)
    before = staff.get(reverse("fulfillment:queue")).content.decode()
    assert before.index("Zed Urgent") < before.index("Ann Smith") and "Customer is here" not in before

    public = Client(enforce_csrf_checks=True)
    page = public.get(_path(pickup_fo))
    body = page.content.decode()
    assert page.status_code == 200 and pickup_fo.order.number in body and pickup_fo.location.name in body
    assert pickup_fo.pickup_code == "" or pickup_fo.pickup_code not in body
    token = page.cookies["csrftoken"].value
    done = public.post(_path(pickup_fo), {"note": "Bay 3, blue Golf", "csrfmiddlewaretoken": token})
    assert done.status_code == 200 and "we know you are here" in done.content.decode()
    # Idempotent: a second tap with the same note neither moves the arrival time nor adds an event.
    first_at = FulfillmentOrder.objects.get(pk=pickup_fo.pk).customer_arrived_at
    public.post(_path(pickup_fo), {"note": "Bay 3, blue Golf", "csrfmiddlewaretoken": token})
    fo = FulfillmentOrder.objects.get(pk=pickup_fo.pk)
    assert fo.customer_arrived_at == first_at and fo.customer_arrival_note == "Bay 3, blue Golf"
    events = list(fo.order.events.filter(type="fulfillment.customer_arrived"))
    assert [e.message for e in events] == ["Customer is here (Bay 3, blue Golf)."]

    after = staff.get(reverse("fulfillment:queue")).content.decode()
    assert after.index("Ann Smith") < after.index("Zed Urgent")
    assert "Customer is here" in after and "Bay 3, blue Golf" in after
    detail = staff.get(reverse("fulfillment:order", args=[pickup_fo.pk])).content.decode()
    assert 'id="customer-here"' in detail and "Customer is here (Bay 3, blue Golf)." in detail


def test_changed_note_updates_and_is_logged_but_keeps_first_arrival(pickup_fo):
    token = pickup_checkin_token(fo=pickup_fo)
    first = pickup_checkin_record(token=token, note="")
    again = pickup_checkin_record(token=token, note="  bay\t7 ")
    assert first.first and not again.first
    assert again.fo.customer_arrived_at == first.fo.customer_arrived_at and again.fo.customer_arrival_note == "bay 7"
    assert pickup_fo.order.events.filter(type="fulfillment.customer_arrived").count() == 2


def test_expired_tampered_and_closed_links_are_clear_4xx(client, settings, pickup_fo):
    token = pickup_checkin_token(fo=pickup_fo)
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert client.get(reverse("fulfillment:checkin", args=[tampered])).status_code == 404
    with pytest.raises(CheckinLinkInvalid):
        pickup_checkin_resolve(token=tampered)
    # Another salt (e.g. a token of another feature signed with the same key) is not a check-in link.
    other = signing.dumps({"fo": pickup_fo.pk}, salt="something-else")
    assert client.get(reverse("fulfillment:checkin", args=[other])).status_code == 404
    # Expired: a genuine token older than the link's lifetime (0 days here, so one second is too old).
    old = signing.TimestampSigner(salt=SALT).sign_object({"fo": pickup_fo.pk})
    settings.DOM = {**settings.DOM, "CHECKIN_LINK_DAYS": 0}
    import time

    time.sleep(1.1)
    page = client.get(reverse("fulfillment:checkin", args=[old]))
    assert page.status_code == 410 and "expired" in page.content.decode()
    with pytest.raises(CheckinLinkExpired):
        pickup_checkin_resolve(token=old)
    settings.DOM = {**settings.DOM, "CHECKIN_LINK_DAYS": 14}
    FulfillmentOrder.objects.filter(pk=pickup_fo.pk).update(status="picked_up")
    page = client.get(_path(pickup_fo))
    assert page.status_code == 409 and "Picked up".lower() in page.content.decode().lower()
    with pytest.raises(CheckinClosed):
        pickup_checkin_record(token=token)


def test_too_long_note_is_400_naming_the_field_and_writes_nothing(client, pickup_fo):
    page = client.post(_path(pickup_fo), {"note": "x" * 500})
    assert page.status_code == 400 and "Parking spot or car" in page.content.decode()
    assert FulfillmentOrder.objects.get(pk=pickup_fo.pk).customer_arrived_at is None


def test_rate_limited_per_client(client, settings, pickup_fo):
    from django.core.cache import cache

    cache.clear()
    settings.DOM = {**settings.DOM, "CHECKIN_REQUESTS_PER_MINUTE": 3}
    codes = [client.get(_path(pickup_fo), REMOTE_ADDR="203.0.113.9").status_code for _ in range(5)]
    assert codes[:3] == [200, 200, 200] and codes[-1] == 429
    assert client.get(_path(pickup_fo), REMOTE_ADDR="203.0.113.10").status_code == 200
    cache.clear()


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(token=st.text(min_size=1, max_size=400).filter(lambda t: "/" not in t and "\x00" not in t))
def test_hostile_tokens_never_500(client, pickup_fo, token):
    from django.core.cache import cache

    cache.clear()
    response = client.get(f"/fulfillment/here/{quote(token, safe='')}/")
    assert response.status_code in (400, 404), (token, response.status_code)


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(note=st.text(max_size=300))
def test_hostile_notes_are_saved_clean_or_refused(client, pickup_fo, note):
    from django.core.cache import cache

    cache.clear()
    response = client.post(_path(pickup_fo), {"note": note.replace("\x00", "")})
    assert response.status_code in (200, 400)
    fo = FulfillmentOrder.objects.get(pk=pickup_fo.pk)
    assert len(fo.customer_arrival_note) <= 120 and all(ch.isprintable() for ch in fo.customer_arrival_note)
