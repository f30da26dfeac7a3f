"""Inventory accuracy on hand-built cycle counts: within max(units, pct % of the system quantity)."""

from datetime import timedelta

import pytest

from analytics.selectors import Period, kpi_drilldown, kpi_live
from analytics.tests.history import DAY0, at
from inventory.models import CycleCount

WEEK = Period(DAY0, DAY0 + timedelta(days=6))


@pytest.mark.django_db
def test_no_counts_gives_no_value_and_no_error():
    figure = kpi_live(code="inventory_accuracy", period=WEEK)
    assert figure.value is None and figure.count == 0
    assert kpi_drilldown(code="inventory_accuracy", period=WEEK) == []


@pytest.mark.django_db
def test_inventory_accuracy_counts_within_tolerance(settings, product, product_b, dc, store):
    settings.DOM = {**settings.DOM, "KPI_COUNT_TOLERANCE_UNITS": 1, "KPI_COUNT_TOLERANCE_PCT": 5.0}

    def count(location, prod, counted, system, day=0):
        return CycleCount.objects.create(
            product=prod, location=location, counted_quantity=counted, system_quantity=system, counted_at=at(day)
        )

    count(dc, product, 100, 100)  # exact
    count(dc, product_b, 95, 100)  # 5 off of 100: within 5 %
    count(dc, product, 93, 100, day=1)  # 7 off: outside
    count(store, product, 3, 2)  # 1 off: within the 1-unit floor
    count(store, product_b, 0, 2)  # 2 off: outside
    count(store, product, 50, 2, day=10)  # after the period

    figure = kpi_live(code="inventory_accuracy", period=WEEK)
    assert figure.count == 5 and figure.value == pytest.approx(60.0)
    assert kpi_live(code="inventory_accuracy", period=WEEK, location_id=dc.pk).value == pytest.approx(200 / 3)
    assert kpi_live(code="inventory_accuracy", period=WEEK, location_id=store.pk).value == pytest.approx(50.0)
    assert sorted(r.location for r in kpi_drilldown(code="inventory_accuracy", period=WEEK)) == [
        "DC-EAST",
        "STORE-0001",
    ]
