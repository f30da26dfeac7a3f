"""GET /api/v1/orders/{id}/routing/ and GET /api/v1/promise/."""

import pytest
from django.core.management import call_command

from common import roles
from conftest import api_for, make_user
from orders.models import Channel, Order
from routing.services import order_route
from routing.tests.helpers import MONDAY_9AM, make_order, stock

pytestmark = pytest.mark.django_db


def test_routing_api_for_operations_and_own_channel_client_only(web, dc, product, ops_api, api, merch_user):
    stock(product, dc, 5)
    order = make_order(channel=web, lines=[(product, 1)])
    url = f"/api/v1/orders/{order.pk}/routing/"
    assert ops_api.get(url).status_code == 404  # not routed yet
    order_route(order_id=order.pk, now=MONDAY_9AM)
    body = ops_api.get(url).json()
    latest = body["latest"]
    assert latest["outcome"] == "routed" and latest["plan"][0]["location"] == "DC-EAST"
    assert latest["candidates"][0]["cost_if_all_from_here"] is not None
    assert {"rules_fired", "excluded", "cost", "compute_ms", "rule_set_version"} <= set(latest)
    assert [h["kind"] for h in body["history"]] == ["route"]
    assert api.get(url).status_code == 200  # the web channel's own client
    other = Channel.objects.create(code="app", name="App", kind="app")
    foreign = make_order(channel=other, lines=[(product, 1)])
    order_route(order_id=foreign.pk, now=MONDAY_9AM)
    assert api.get(f"/api/v1/orders/{foreign.pk}/routing/").status_code == 403
    assert api_for(merch_user).get(url).status_code == 403
    assert api_for(None).get(url).status_code in (401, 403)


def test_promise_per_service_level_and_pickup_without_reserving(web, dc, dc_west, store, product, api):
    stock(product, dc, 5)
    stock(product, dc_west, 5)
    stock(product, store, 2)
    r = api.get("/api/v1/promise/", {"sku": "SKU-A", "quantity": 2, "postal_code": "10001"})
    assert r.status_code == 200, r.content
    body = r.json()
    levels = body["service_levels"]
    assert set(levels) == {"standard", "express", "overnight"}
    assert all(v["available"] for v in levels.values())
    dates = [levels[s]["delivery_date"] for s in ("overnight", "express", "standard")]
    assert dates == sorted(dates)
    assert body["pickup"]["location"] == "STORE-0001" and body["pickup"]["ready_by"]
    assert Order.objects.count() == 0
    from inventory.models import StockLevel

    assert sum(StockLevel.objects.values_list("reserved", flat=True)) == 0


def test_promise_errors_name_the_problem(web, dc, product, api):
    assert api.get("/api/v1/promise/", {"sku": "NOPE", "postal_code": "10001"}).json() == {
        "sku": ["Unknown SKU 'NOPE'."]
    }
    assert "postal_code" in api.get("/api/v1/promise/", {"sku": "SKU-A", "postal_code": "00000"}).json()
    assert "channel" in api.get("/api/v1/promise/", {"sku": "SKU-A", "postal_code": "10001", "channel": "b2b"}).json()
    r = api.get("/api/v1/promise/", {"sku": "SKU-A", "quantity": 9, "postal_code": "10001"})
    assert r.status_code == 200 and not r.json()["service_levels"]["standard"]["available"]


def test_route_pending_command_routes_by_priority(web, dc, product, capsys):
    stock(product, dc, 1)
    low = make_order(channel=web, lines=[(product, 1)], priority=0)
    urgent = make_order(channel=web, lines=[(product, 1)], priority=10)
    call_command("route_pending", "--batch", "1")
    low.refresh_from_db()
    urgent.refresh_from_db()
    assert urgent.status == "routed" and low.status == "backordered"
    assert "2 orders in 2 batch(es)" in capsys.readouterr().out


def test_store_staff_cannot_read_routing(web, dc, product, store):
    stock(product, dc, 5)
    order = make_order(channel=web, lines=[(product, 1)])
    order_route(order_id=order.pk, now=MONDAY_9AM)
    clerk = make_user("clerk2", roles.STORE_STAFF, stores=[store])
    assert api_for(clerk).get(f"/api/v1/orders/{order.pk}/routing/").status_code == 403


def test_merchandisers_and_operations_find_the_routing_rules_in_the_navigation(
    merch_user, ops_user, store_user, client
):
    for user in (merch_user, ops_user):
        client.force_login(user)
        assert "Routing rules" in client.get("/").content.decode()
    client.force_login(store_user)
    assert "Routing rules" not in client.get("/").content.decode()
