"""Cycle counts and the inventory-accuracy figure."""

from datetime import timedelta

import pytest
from django.utils import timezone

from inventory.models import CycleCount, InventoryMovement, StockLevel
from inventory.selectors import inventory_accuracy, stock_shortages_open
from inventory.services import ReserveLine, cycle_count_log, cycle_count_record, stock_reserve
from inventory.tests.helpers import assert_ledger_matches_levels, put_stock

pytestmark = pytest.mark.django_db


def test_a_count_records_the_system_quantity_and_adjusts_through_the_ledger(product, dc):
    put_stock(product, dc, 12)
    count = cycle_count_record(product=product, location=dc, counted_quantity=9)
    assert (count.system_quantity, count.variance) == (12, -3)
    assert StockLevel.objects.get(product=product, location=dc).on_hand == 9
    assert InventoryMovement.objects.get(reason="count").delta_on_hand == -3
    assert_ledger_matches_levels()


def test_a_count_without_adjustment_leaves_stock(product, dc):
    put_stock(product, dc, 12)
    cycle_count_log(product=product, location=dc, counted_quantity=9)
    assert StockLevel.objects.get(product=product, location=dc).on_hand == 12


def test_a_count_below_reserved_opens_a_shortage(product, dc):
    put_stock(product, dc, 8)
    stock_reserve(lines=[ReserveLine(product.pk, 6, location_id=dc.pk)])
    cycle_count_record(product=product, location=dc, counted_quantity=4)
    [short] = stock_shortages_open()
    assert (short.on_hand, short.reserved, short.quantity_short) == (4, 6, 2)


def test_accuracy_share_within_tolerance_per_location_and_network(product, product_b, dc, store):
    now = timezone.now()
    rows = [
        (product, dc, 10, 10),
        (product_b, dc, 5, 6),
        (product, store, 100, 97),
        (product_b, store, 3, 3),
    ]
    for p, loc, counted, system in rows:
        CycleCount.objects.create(
            product=p, location=loc, counted_quantity=counted, system_quantity=system, counted_at=now
        )
    CycleCount.objects.create(
        product=product, location=dc, counted_quantity=0, system_quantity=50, counted_at=now - timedelta(days=400)
    )
    network, per = inventory_accuracy(since=now - timedelta(days=90))
    assert (network.counts, network.within, network.accuracy_pct) == (4, 2, 50.0)
    assert [(r.location_code, r.accuracy_pct) for r in per] == [("DC-EAST", 50.0), ("STORE-0001", 50.0)]
    network, per = inventory_accuracy(since=now - timedelta(days=90), tolerance_pct=5)
    assert network.accuracy_pct == 75.0  # 97 vs 100 is within 5 %; 5 vs 6 is not
    network, _ = inventory_accuracy(since=now - timedelta(days=90), tolerance_units=1)
    assert network.accuracy_pct == 75.0
    network, _ = inventory_accuracy()
    assert network.counts == 5


@pytest.mark.parametrize("adjusted, on_hand", [(True, 9), (False, 12)])
def test_the_admin_records_a_count_with_or_without_adjusting_as_ticked(
    product, dc, django_user_model, adjusted, on_hand
):
    from types import SimpleNamespace

    from django.contrib import admin

    put_stock(product, dc, 12)
    user = django_user_model.objects.create_superuser(username="counter", password="x")
    obj = CycleCount(product=product, location=dc, counted_quantity=9, adjusted=adjusted, note="")
    admin.site._registry[CycleCount].save_model(SimpleNamespace(user=user), obj, form=None, change=False)
    count = CycleCount.objects.get(pk=obj.pk)
    assert (count.adjusted, count.system_quantity) == (adjusted, 12)
    assert StockLevel.objects.get(product=product, location=dc).on_hand == on_hand
