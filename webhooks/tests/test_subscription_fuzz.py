"""Hypothesis: whatever a user types into the subscription form, the answer is a subscription with exactly
what was valid, or a 400 naming a field with nothing written — never a 500."""

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webhooks.models import EventType, Subscription

FIELDS = {"name", "kind", "channel", "url", "event_types", "access_token"}
urls = st.one_of(
    st.text(max_size=80),
    st.sampled_from(["https://hooks.example.com/x", "http://127.0.0.1:1/x", "https://[::1]/", "ftp://a/b", ""]),
    st.builds(lambda h, p: f"https://{h}/{p}", st.text(min_size=1, max_size=20), st.text(max_size=20)),
)
types = st.lists(st.one_of(st.sampled_from(EventType.values), st.text(max_size=20)), max_size=5)


@pytest.mark.django_db
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text(max_size=120), channel=st.one_of(st.just(""), st.text(max_size=10)), url=urls, event_types=types)
def test_subscription_form_never_500s_and_writes_only_valid(ops_user, web, name, channel, url, event_types):
    c = Client()
    c.force_login(ops_user)
    before = Subscription.objects.count()
    data = {"name": name, "kind": "webhook", "channel": channel, "url": url, "event_types": event_types}
    r = c.post("/webhooks/", data)
    assert r.status_code in (200, 400), r.status_code
    if r.status_code == 400:
        assert set(r.context["form"].errors) <= FIELDS | {"__all__"} and r.context["form"].errors
        assert Subscription.objects.count() == before
    else:
        sub = Subscription.objects.latest("id")
        assert set(sub.event_types) <= set(EventType.values) and sub.event_types
        assert sub.secret in r.content.decode()
