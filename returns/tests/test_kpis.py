"""Return rate on hand-built histories: units returned over units shipped, by the orders' placed day.
The breakdown by reason reads the return lines' reason codes."""

from datetime import timedelta

import pytest

from analytics.selectors import Period, day_start, kpi_drilldown, kpi_live
from analytics.tests.history import DAY0, at, fo_make, order_make
from returns.kpis import return_rate_by_reason

WEEK = Period(DAY0, DAY0 + timedelta(days=6))


@pytest.mark.django_db
def test_no_orders_no_return_rate():
    assert kpi_live(code="return_rate", period=WEEK).value is None
    rows = return_rate_by_reason(start=day_start(WEEK.first), end=day_start(WEEK.last + timedelta(days=1)))
    assert rows and all(r.units == 0 and r.rate_pct is None for r in rows)


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


@pytest.mark.django_db
def test_return_rate_by_reason_over_units_shipped(web, product, product_b, dc):
    from returns.models import ReturnAuthorization, ReturnLine

    a = order_make(channel=web, placed=at(0), lines=[(product, 4, 4, 0, 3), (product_b, 4, 4, 0, 1)])
    b = order_make(channel=web, placed=at(9), lines=[(product, 1, 1, 0, 1)])  # outside the period
    lines = list(a.lines.order_by("line_number"))

    def rma(order, status, items):
        r = ReturnAuthorization.objects.create(order=order, number=f"RMA-{order.pk}-{status}", status=status)
        for line, reason, qty in items:
            ReturnLine.objects.create(
                rma=r,
                order_line=line,
                product=line.product,
                sku=line.sku,
                quantity=qty,
                quantity_received=qty,
                reason=reason,
            )

    rma(a, "received", [(lines[0], "defective", 2), (lines[1], "size_fit", 1)])
    rma(a, "rejected", [(lines[0], "wrong_item", 1)])  # rejected: not a return
    rma(b, "received", [(b.lines.get(), "defective", 1)])
    got = {
        r.reason: (r.units, r.rate_pct)
        for r in return_rate_by_reason(start=day_start(WEEK.first), end=day_start(WEEK.last + timedelta(days=1)))
    }
    assert got["defective"] == (2, 25.0) and got["size_fit"] == (1, 12.5) and got["wrong_item"] == (0, 0.0)
