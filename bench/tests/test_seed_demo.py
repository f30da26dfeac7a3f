import pytest
from django.core.management import call_command

from inventory.models import Location, Product, StockLevel
from inventory.selectors import stock_ledger_mismatches
from orders.models import Order

pytestmark = pytest.mark.django_db


def test_seed_demo_is_idempotent_and_routes_its_orders():
    call_command("seed_demo", "--quiet")
    counts = (Location.objects.count(), Product.objects.count(), StockLevel.objects.count(), Order.objects.count())
    call_command("seed_demo", "--quiet")
    assert (
        Location.objects.count(),
        Product.objects.count(),
        StockLevel.objects.count(),
        Order.objects.count(),
    ) == counts
    assert counts[:2] == (26, 500)
    assert Order.objects.filter(status="routed").count() == counts[3] == 40
    assert Location.objects.get(code="STORE-0001").fulfillment_orders.filter(method="pickup").exists()
    assert stock_ledger_mismatches() == []
