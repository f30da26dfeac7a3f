"""GET /api/v1/orders/ for polling clients: `updated_since` and cursor pages over (updated_at, id)."""

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from django.utils import timezone

from orders.models import Order
from orders.services import order_hold_place
from routing.tests.helpers import make_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def no_settle(settings):
    settings.DOM = {**settings.DOM, "ORDERS_API_SETTLE_SECONDS": 0}


def poll(api, since: str, page_size: int = 7) -> list[tuple[int, str]]:
    """Follow `next` from `updated_since` to the end; returns (id, updated_at) in the order received."""
    seen, url = [], f"/api/v1/orders/?updated_since={quote(since)}&page_size={page_size}"
    while url:
        r = api.get(url)
        assert r.status_code == 200, r.json()
        body = r.json()
        assert "count" not in body
        seen += [(o["id"], o["updated_at"]) for o in body["results"]]
        url = body["next"]
    return seen


def test_a_polling_client_sees_every_order_once_in_change_order(api, web, product, no_settle):
    base = timezone.now() - timedelta(hours=1)
    orders = [make_order(channel=web, lines=[(product, 1)]) for _ in range(30)]
    for i, o in enumerate(orders):
        # Ties on updated_at (three orders per second) must neither repeat nor drop an order.
        Order.objects.filter(pk=o.pk).update(updated_at=base + timedelta(seconds=i // 3))
    seen = poll(api, (base - timedelta(seconds=1)).isoformat())
    assert [pk for pk, _ in seen] == [o.pk for o in orders]
    # From the middle: only what changed at or after that time.
    mid = poll(api, (base + timedelta(seconds=5)).isoformat().replace("+00:00", "Z"))
    assert [pk for pk, _ in mid] == [o.pk for o in orders[15:]]


def test_a_change_during_polling_shows_the_order_again_after_the_cursor(api, web, product, no_settle):
    base = timezone.now() - timedelta(hours=1)
    orders = [make_order(channel=web, lines=[(product, 1)]) for _ in range(10)]
    for i, o in enumerate(orders):
        Order.objects.filter(pk=o.pk).update(updated_at=base + timedelta(seconds=i))
    first = api.get(f"/api/v1/orders/?updated_since={quote(base.isoformat())}&page_size=5").json()
    assert [o["id"] for o in first["results"]] == [o.pk for o in orders[:5]]
    order_hold_place(order=orders[0], kind="manual", reason="check")  # a change through a service
    rest, url = [], first["next"]
    while url:
        body = api.get(url).json()
        rest += [o["id"] for o in body["results"]]
        url = body["next"]
    assert rest == [o.pk for o in orders[5:]] + [orders[0].pk]


def test_every_change_moves_updated_at(web, product):
    order = make_order(channel=web, lines=[(product, 1)])
    Order.objects.filter(pk=order.pk).update(updated_at=datetime(2026, 1, 1, tzinfo=UTC))
    order_hold_place(order=order, kind="manual", reason="check")
    order.refresh_from_db()
    assert order.updated_at > datetime(2026, 1, 2, tzinfo=UTC)


def test_orders_changed_within_the_settle_time_wait_for_the_next_poll(api, web, product, settings):
    settings.DOM = {**settings.DOM, "ORDERS_API_SETTLE_SECONDS": 60}
    old = make_order(channel=web, lines=[(product, 1)])
    Order.objects.filter(pk=old.pk).update(updated_at=timezone.now() - timedelta(minutes=5))
    make_order(channel=web, lines=[(product, 1)])  # just changed
    since = quote((timezone.now() - timedelta(hours=1)).isoformat())
    assert [o["id"] for o in api.get(f"/api/v1/orders/?updated_since={since}").json()["results"]] == [old.pk]


def test_without_polling_parameters_the_list_keeps_page_numbers(api, web, product):
    make_order(channel=web, lines=[(product, 1)])
    body = api.get("/api/v1/orders/").json()
    assert body["count"] == 1 and "updated_at" in body["results"][0]


@pytest.mark.parametrize(
    "query, field",
    [
        ("updated_since=2026-03-02T14:00:00", "updated_since"),  # no offset
        ("updated_since=yesterday", "updated_since"),
        ("updated_since=2026-13-02T14:00:00Z", "updated_since"),
        ("cursor=not-a-cursor", "cursor"),
        ("updated_since=2026-03-02T14:00:00Z&cursor=bad", "cursor"),
    ],
)
def test_bad_polling_input_is_a_400_naming_the_parameter(api, web, query, field):
    r = api.get(f"/api/v1/orders/?{query}")
    assert r.status_code == 400 and field in r.json(), r.content


def test_the_schema_documents_updated_since_and_cursor(ops_api):
    schema = ops_api.get("/api/schema/?format=json").json()
    params = {p["name"] for p in schema["paths"]["/api/v1/orders/"]["get"]["parameters"]}
    assert {"updated_since", "cursor", "page", "page_size"} <= params
