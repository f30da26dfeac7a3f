"""Return rate on hand-built histories: units returned over units shipped, by the orders' placed day.
Reason codes arrive with the returns app (issue 8); until then every return counts under "all"."""

from datetime import timedelta

import pytest

from analytics.selectors import Period, kpi_drilldown, kpi_live
from analytics.tests.history import DAY0, at, fo_make, order_make
from returns.kpis import return_reasons

WEEK = Period(DAY0, DAY0 + timedelta(days=6))


@pytest.mark.django_db
def test_no_orders_no_return_rate():
    assert kpi_live(code="return_rate", period=WEEK).value is None
    assert return_reasons() == ["all"]


@pytest.mark.django_db
def test_return_rate_counts_units_of_shipped_lines(web, product, product_b, dc, store):
    a = order_make(channel=web, placed=at(0), lines=[(product, 3, 3, 0, 1), (product_b, 1, 1, 0, 0)])
    fo_make(order=a, location=dc)
    b = order_make(channel=web, placed=at(1), lines=[(product, 2, 1, 1, 0)], status="shipped")  # partial
    fo_make(order=b, location=store)
    order_make(channel=web, placed=at(1), lines=[(product, 2, 0, 2, 0)], status="cancelled")  # shipped nothing
    order_make(channel=web, placed=at(8), lines=[(product, 1, 1, 0, 1)])  # after the period

    figure = kpi_live(code="return_rate", period=WEEK)
    assert figure.acc.num == 1 and figure.acc.den == 5
    assert figure.value == pytest.approx(20.0)
    assert kpi_live(code="return_rate", period=WEEK, location_id=dc.pk).value == pytest.approx(25.0)
    assert kpi_live(code="return_rate", period=WEEK, location_id=store.pk).value == 0
    assert [r.order_id for r in kpi_drilldown(code="return_rate", period=WEEK)] == [a.pk]
