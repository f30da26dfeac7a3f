"""Order KPIs on hand-built histories: intake and cancellation rate, dated by placed time."""

from datetime import timedelta

import pytest

from analytics.selectors import Period, kpi_drilldown, kpi_live
from analytics.tests.history import DAY0, at, order_make

WEEK = Period(DAY0, DAY0 + timedelta(days=6))


@pytest.mark.django_db
def test_no_orders():
    figure = kpi_live(code="cancellation_rate", period=WEEK)
    assert figure.value is None and figure.acc.den == 0


@pytest.mark.django_db
def test_cancellation_rate_over_orders_placed_in_the_period(web, marketplace, product):
    order_make(channel=web, placed=at(0), lines=[(product, 1, 1, 0, 0)], status="shipped")
    cancelled = order_make(channel=web, placed=at(1), lines=[(product, 1, 0, 1, 0)], status="cancelled")
    order_make(channel=marketplace, placed=at(2), lines=[(product, 1, 0, 0, 0)], status="routed")
    order_make(channel=web, placed=at(-1), lines=[(product, 1, 0, 1, 0)], status="cancelled")  # before
    figure = kpi_live(code="cancellation_rate", period=WEEK)
    assert figure.acc.den == 3  # orders placed
    assert figure.value == pytest.approx(100 / 3)
    assert kpi_live(code="cancellation_rate", period=WEEK, channel_id=marketplace.pk).value == 0
    assert [r.order_id for r in kpi_drilldown(code="cancellation_rate", period=WEEK)] == [cancelled.pk]
