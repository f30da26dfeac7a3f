"""The demo: seeded through the apps' services, idempotent, and every main screen of every role has data."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from analytics.registry import KPIS
from analytics.selectors import Period, dashboard_read
from fulfillment.models import FulfillmentOrder
from inventory.models import (
    DemandForecast,
    FeedRun,
    Location,
    LocationClosure,
    Product,
    SafetyStockProposal,
    StockImport,
    StockLevel,
)
from inventory.selectors import stock_ledger_mismatches
from orders.models import Order, OrderHold
from returns.models import ReturnAuthorization
from routing.editor.models import Simulation
from routing.models import RateCard, RuleSetVersion
from webhooks.models import Delivery

pytestmark = pytest.mark.django_db

DAYS = 12  # a cheap history: every kind of record and every KPI, in a fraction of the full demo's time


@pytest.fixture
def demo(db):
    call_command("seed_demo", "--quiet", "--days", str(DAYS))


def _client(username: str) -> Client:
    client = Client()
    client.force_login(User.objects.get(username=username))
    return client


def test_seed_demo_is_idempotent_and_keeps_the_ledger(demo):
    counts = (Location.objects.count(), Product.objects.count(), StockLevel.objects.count(), Order.objects.count())
    call_command("seed_demo", "--quiet", "--days", str(DAYS))
    assert (
        Location.objects.count(),
        Product.objects.count(),
        StockLevel.objects.count(),
        Order.objects.count(),
    ) == counts
    assert counts[:2] == (27, 500)  # the 26 locations of the world and IN-TRANSIT (a transfer is on its way)
    assert stock_ledger_mismatches() == []


def test_demo_has_every_kind_of_record(demo):
    assert {"web", "app", "marketplace", "b2b", "shopify"} <= set(Order.objects.values_list("channel__code", flat=True))
    assert set(OrderHold.objects.filter(resolution="").values_list("kind", flat=True)) == set(OrderHold.Kind.values)
    assert Order.objects.filter(status="backordered").exists()
    rma_states = set(ReturnAuthorization.objects.values_list("status", flat=True))
    assert {"requested", "approved", "in_transit", "inspected", "closed", "rejected"} <= rma_states
    assert set(FeedRun.objects.values_list("status", flat=True)) >= {"succeeded", "rejected"}
    assert set(StockImport.objects.values_list("status", flat=True)) == {"succeeded", "rejected"}
    assert RuleSetVersion.objects.filter(rule_set__is_active=True, status="archived").count() >= 2
    assert Simulation.objects.filter(status="done").exists()
    assert set(Delivery.objects.values_list("status", flat=True)) >= {"delivered", "dead"}
    assert LocationClosure.objects.filter(location__code="STORE-0002", date__gt=timezone.localdate()).exists()
    assert DemandForecast.objects.filter(location=None).exists()
    assert SafetyStockProposal.objects.filter(status="pending").exists()
    assert set(SafetyStockProposal.objects.values_list("status", flat=True)) >= {"pending", "approved", "rejected"}
    assert RateCard.objects.values("carrier").distinct().count() == 1 and RateCard.objects.count() == 2
    assert RateCard.objects.filter(effective_from__gt=timezone.localdate()).exists()  # next month's version
    for code in ("STORE-0001", "STORE-0002"):
        fos = FulfillmentOrder.objects.filter(location__code=code)
        assert {"pickup", "ship"} <= set(fos.values_list("method", flat=True)), code
        assert {"created", "picking", "ready_for_pickup", "picked_up"} <= set(fos.values_list("status", flat=True))


def test_every_dashboard_kpi_has_a_value_and_a_trend(demo):
    today = timezone.localdate()
    board = dashboard_read(period=Period(today - timedelta(days=DAYS - 1), today))
    assert {row.kpi.code for row in board.rows} == {k.code for k in KPIS}
    for row in board.rows:
        assert row.current.value is not None, f"{row.kpi.code} shows no value"
        assert sum(v is not None for _, v in row.trend) >= 2, f"{row.kpi.code} has no trend"
    page = _client("ops").get("/dashboard/?period=30")
    assert page.status_code == 200


SCREENS = [
    ("store", "/fulfillment/store/", "store_queue"),
    ("store2", "/fulfillment/store/", "store_queue"),
    ("store", "/returns/", "store_return"),
    ("merch", "/routing/rules/", "Default routing"),
    ("merch", "draft", "New York and Los Angeles orders ship from the city store"),
    ("merch", "history", "Published"),
    ("merch", "simulation", "orders"),
    ("inventory", "/inventory/feeds/", "edison-wms"),
    ("inventory", "/inventory/imports/", "recount-typos.csv"),
    ("inventory", "/inventory/accuracy/", "STORE-0001"),
    ("inventory", "/inventory/safety-stock/", "Approve"),
    ("inventory", "/inventory/safety-stock/", "Recent decisions"),
    ("merch", "/admin/routing/ratecard/", "Default parcel carrier"),
    ("ops", "/orders/", "Shopify"),
    ("ops", "/orders/holds/", "Fraud review"),
    ("ops", "/webhooks/", "Loyalty CRM"),
    ("ops", "order", "Routing"),
    ("store", "/inventory/receiving/", "DEMO-ASN-2001"),
    ("store", "/fulfillment/store/?tab=pickup_ready", "Customer is here"),
    ("ops", "customer", "Gold"),
    ("ops", "/notifications/", "sent"),
    ("inventory", "/api/v1/transfers/", "in_transit"),
]


def _screen(username: str, url: str, expected: str) -> tuple[str, str]:
    """The real URL and the text it must show, for the placeholders of SCREENS."""
    if url == "history":
        rule_set_id = RuleSetVersion.objects.filter(rule_set__is_active=True).first().rule_set_id
        url = f"/routing/rules/sets/{rule_set_id}/history/"
    elif url == "draft":
        url = f"/routing/rules/versions/{RuleSetVersion.objects.get(rule_set__is_active=True, status='draft').pk}/"
    elif url == "simulation":
        url = f"/routing/rules/simulations/{Simulation.objects.latest('pk').pk}/"
    elif url == "customer":
        url = f"/orders/customers/{Order.objects.filter(customer__loyalty_tier='gold').first().customer_id}/"
    elif url == "order":
        url = f"/orders/{Order.objects.filter(status='delivered').first().pk}/"
    if expected == "store_queue":
        store = Location.objects.get(staff__username=username)
        expected = FulfillmentOrder.objects.filter(location=store, status="created").first().order.number
    elif expected == "store_return":
        expected = ReturnAuthorization.objects.get(method="in_store", return_location__code="STORE-0001").number
    return url, expected


def test_main_screens_of_each_role_show_demo_data(demo):
    missing = []
    for username, placeholder, text in SCREENS:
        url, expected = _screen(username, placeholder, text)
        response = _client(username).get(url, follow=True)
        if response.status_code != 200 or expected not in response.content.decode():
            missing.append(f"{username} at {url}: {response.status_code}, {expected!r} missing")
    assert not missing, missing


def test_readme_api_examples_return_data(demo):
    """Each curl example of the README, run against the demo as the README's web-api client."""
    import re
    from pathlib import Path

    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    gets = re.findall(r'curl -H "Authorization: Token \$TOKEN" "http://127\.0\.0\.1:8000(/api/v1/[^"]+)"', readme)
    posts = re.findall(r"-d '([^']+)' http://127\.0\.0\.1:8000(/api/v1/\S+)", readme)
    assert len(gets) == 2 and len(posts) == 1
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get(user__username='web-api').key}")
    for url in gets:
        response = api.get(url)
        assert response.status_code == 200, url
        assert response.json()["results"], f"{url} returned no results"
    for body, url in posts:
        response = api.post(url, data=body, content_type="application/json")
        assert response.status_code == 201, (url, response.content)
