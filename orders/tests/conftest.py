"""Fixtures for the orders tests. Routing is another app's: these tests never enqueue it (unless one sets
ROUTE_ORDER_TASK itself), so an order that passes its checks waits as validated."""

import copy
import json
from pathlib import Path

import pytest

from inventory.models import Product

# A copy of shared/fixtures/shopify/order.json kept in the repository (see fixtures/README.md).
SHOPIFY_FIXTURE = Path(__file__).resolve().parent / "fixtures" / "shopify_order.json"


@pytest.fixture(autouse=True)
def no_routing(settings):
    settings.DOM = {**settings.DOM, "ROUTE_ORDER_TASK": ""}


@pytest.fixture
def catalogue(db) -> list[Product]:
    return [
        Product.objects.create(sku="SKU-A", name="Widget"),
        Product.objects.create(sku="SKU-B", name="Gadget"),
    ]


def order_payload(**overrides) -> dict:
    body = {
        "channel": "web",
        "external_id": "W-1001",
        "placed_at": "2026-03-02T14:00:00Z",
        "customer": {"email": "ann@example.com", "name": "Ann Lee"},
        "shipping_address": {
            "name": "Ann Lee",
            "line1": "350 5th Ave",
            "city": "New York",
            "region": "NY",
            "postal_code": "10001",
            "country": "US",
        },
        "fulfillment_method": "ship",
        "pickup_location": None,
        "service_level": "standard",
        "payment_status": "authorized",
        "currency": "USD",
        "lines": [{"sku": "SKU-A", "quantity": 2, "unit_price": "19.99"}],
    }
    body.update(overrides)
    return body


def shopify_order() -> dict:
    """The inner order object of the real Shopify fixture (what an orders/create webhook delivers)."""
    if not SHOPIFY_FIXTURE.exists():
        pytest.fail(f"The Shopify fixture is missing at {SHOPIFY_FIXTURE} (see orders/tests/fixtures/README.md).")
    return copy.deepcopy(json.loads(SHOPIFY_FIXTURE.read_text())["order"])


@pytest.fixture
def shopify_channel(db):
    from orders.models import Channel

    return Channel.objects.create(code="shop", name="Shopify store", kind="web", webhook_secret="hush-test-secret")


@pytest.fixture
def ipods(db) -> list[Product]:
    """The fixture's three SKUs, so the real Shopify order can pass validation."""
    return [Product.objects.create(sku=s, name=s) for s in ("IPOD2008GREEN", "IPOD2008RED", "IPOD2008BLACK")]
