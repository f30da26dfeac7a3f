"""Fulfilment KPIs on hand-built histories: cycle time, cost per order, order accuracy, split rate, on-time
delivery, BOPIS no-show and time to ready — including no orders, partial shipments and cancelled orders."""

from datetime import timedelta

import pytest

from analytics.selectors import Period, kpi_drilldown, kpi_live
from analytics.tests.history import DAY0, at, fo_make, order_make, shipment_make

WEEK = Period(DAY0, DAY0 + timedelta(days=6))
FULFILMENT_KPIS = [
    "order_cycle_time",
    "fulfillment_cost",
    "order_accuracy",
    "split_rate",
    "on_time_delivery",
    "bopis_no_show",
    "bopis_time_to_ready",
]


def shipped_order(web, product, dc, *, placed, shipped_after_h, qty=1, cost="8.00", **kw):
    order = order_make(channel=web, placed=placed, lines=[(product, qty, qty, 0, 0)], **kw)
    fo = fo_make(order=order, location=dc, cost=cost)
    shipment_make(fo=fo, shipped=placed + timedelta(hours=shipped_after_h))
    return order


@pytest.mark.django_db
@pytest.mark.parametrize("code", FULFILMENT_KPIS)
def test_no_orders_gives_no_value(code):
    figure = kpi_live(code=code, period=WEEK)
    assert figure.value is None and figure.count == 0


@pytest.mark.django_db
def test_cycle_time_median_and_p90_over_completed_orders_only(web, product, product_b, dc, store):
    fast = shipped_order(web, product, dc, placed=at(0), shipped_after_h=2)
    next_day = shipped_order(web, product, dc, placed=at(1), shipped_after_h=26)
    # Two parcels: the cycle ends with the last one (50 h).
    split = order_make(channel=web, placed=at(2), lines=[(product, 1, 1, 0, 0), (product_b, 1, 1, 0, 0)])
    fo = fo_make(order=split, location=dc)
    shipment_make(fo=fo, shipped=at(2, hours=2))
    shipment_make(fo=fo, shipped=at(2, hours=50))
    # Partly shipped (one unit still open): not complete, not counted.
    partial = order_make(channel=web, placed=at(0), lines=[(product, 2, 1, 0, 0)], status="partially_shipped")
    shipment_make(fo=fo_make(order=partial, location=dc), shipped=at(0, hours=1))
    # Cancelled before anything shipped: never completes.
    order_make(channel=web, placed=at(0), lines=[(product, 1, 0, 1, 0)], status="cancelled")
    # Completed after the period: not in it.
    shipped_order(web, product, dc, placed=at(6), shipped_after_h=30)

    figure = kpi_live(code="order_cycle_time", period=WEEK)
    assert figure.count == 3
    assert figure.value == pytest.approx(26.0)
    assert figure.p90 == pytest.approx(50.0)
    assert figure.acc.num / figure.acc.den == pytest.approx((2 + 26 + 50) * 3600 / 3)
    assert fast.pk in {r.order_id for r in kpi_drilldown(code="order_cycle_time", period=WEEK, misses_only=False)}
    misses = kpi_drilldown(code="order_cycle_time", period=WEEK)  # above the 24 h target, slowest first
    assert [r.order_id for r in misses] == [split.pk, next_day.pk]
    assert [round(r.value) for r in misses] == [50, 26]


@pytest.mark.django_db
def test_pickup_handover_completes_an_order(web, product, store):
    order = order_make(channel=web, placed=at(0), lines=[(product, 1, 1, 0, 0)], method="pickup")
    fo_make(order=order, location=store, method="pickup", status="picked_up", picked_up_at=at(0, hours=5))
    figure = kpi_live(code="order_cycle_time", period=WEEK)
    assert figure.count == 1 and figure.value == pytest.approx(5.0)
    assert kpi_live(code="order_cycle_time", period=WEEK, location_id=store.pk).count == 1
    # Pickups have no parcels: not in the split rate.
    assert kpi_live(code="split_rate", period=WEEK).count == 0


@pytest.mark.django_db
def test_cost_per_order_uses_carrier_charges_when_recorded_else_the_plan(web, product, dc, dc_west):
    shipped_order(web, product, dc, placed=at(0), shipped_after_h=3, cost="8.00")  # plan only: 8.00
    order = order_make(channel=web, placed=at(0), lines=[(product, 2, 2, 0, 0)])
    fo = fo_make(order=order, location=dc, cost="10.00")
    shipment_make(fo=fo, shipped=at(0, hours=4), cost="6.00")
    shipment_make(fo=fo, shipped=at(0, hours=5), cost="5.00")  # charged 11.00
    fo_make(order=order, location=dc_west, status="cancelled", cost="99.00")  # did no work: not counted
    figure = kpi_live(code="fulfillment_cost", period=WEEK)
    assert figure.count == 2
    assert figure.value == pytest.approx((8.0 + 11.0) / 2)


@pytest.mark.django_db
def test_order_accuracy_counts_shorts_and_cancelled_units_against_the_order(web, product, product_b, dc, dc_west):
    shipped_order(web, product, dc, placed=at(0), shipped_after_h=3)  # accurate
    # Short at the DC, re-routed and shipped from the west: complete but not accurate.
    rerouted = order_make(channel=web, placed=at(0), lines=[(product, 1, 1, 0, 0)])
    fo_make(order=rerouted, location=dc, status="rejected", short=1)
    shipment_make(fo=fo_make(order=rerouted, location=dc_west), shipped=at(1))
    # One of two shipped, the other cancelled: settled, not accurate.
    half = order_make(channel=web, placed=at(0), lines=[(product, 2, 1, 1, 0)], status="shipped")
    shipment_make(fo=fo_make(order=half, location=dc), shipped=at(1))
    # Still open: not counted yet.
    open_order = order_make(channel=web, placed=at(0), lines=[(product_b, 2, 1, 0, 0)])
    shipment_make(fo=fo_make(order=open_order, location=dc), shipped=at(1))

    figure = kpi_live(code="order_accuracy", period=WEEK)
    assert figure.count == 3
    assert figure.value == pytest.approx(100.0 / 3)
    assert {r.order_id for r in kpi_drilldown(code="order_accuracy", period=WEEK)} == {rerouted.pk, half.pk}


@pytest.mark.django_db
def test_split_rate_is_shipments_per_shipped_order(web, product, product_b, dc, dc_west):
    shipped_order(web, product, dc, placed=at(0), shipped_after_h=3)
    order = order_make(channel=web, placed=at(0), lines=[(product, 1, 1, 0, 0), (product_b, 1, 1, 0, 0)])
    shipment_make(fo=fo_make(order=order, location=dc), shipped=at(1))
    shipment_make(fo=fo_make(order=order, location=dc_west), shipped=at(1, hours=1))
    figure = kpi_live(code="split_rate", period=WEEK)
    assert figure.count == 2 and figure.value == pytest.approx(1.5)
    assert [r.order_id for r in kpi_drilldown(code="split_rate", period=WEEK)] == [order.pk]


@pytest.mark.django_db
def test_on_time_delivery_against_the_promised_date(web, product, product_b, dc):
    def delivered(promised_days, delivered_days, *, promised=True):
        order = order_make(
            channel=web,
            placed=at(0),
            lines=[(product, 1, 1, 0, 0)],
            promised=(DAY0 + timedelta(days=promised_days)) if promised else None,
        )
        shipment_make(fo=fo_make(order=order, location=dc), shipped=at(0, 2), delivered=at(delivered_days))
        return order

    delivered(3, 3)  # on the promised day: on time
    late = delivered(3, 4)
    delivered(3, 2, promised=False)  # no promise: not measured
    # One parcel delivered, the other still travelling: not delivered yet.
    waiting = order_make(
        channel=web, placed=at(0), lines=[(product, 1, 1, 0, 0), (product_b, 1, 1, 0, 0)], promised=DAY0
    )
    fo = fo_make(order=waiting, location=dc)
    shipment_make(fo=fo, shipped=at(0, 1), delivered=at(1))
    shipment_make(fo=fo, shipped=at(0, 1))

    figure = kpi_live(code="on_time_delivery", period=WEEK)
    assert figure.count == 2 and figure.value == pytest.approx(50.0)
    assert [r.order_id for r in kpi_drilldown(code="on_time_delivery", period=WEEK)] == [late.pk]


@pytest.mark.django_db
def test_bopis_no_show_and_time_to_ready(web, marketplace, product, store, store_b):
    def pickup(channel, location, ready_h, **times):
        order = order_make(channel=channel, placed=at(0), lines=[(product, 1, 0, 0, 0)], method="pickup")
        return fo_make(order=order, location=location, method="pickup", ready_at=at(0, hours=ready_h), **times)

    collected = pickup(web, store, 1, status="picked_up", picked_up_at=at(1))
    expired = pickup(web, store, 3, status="expired", expired_at=at(4))
    pickup(marketplace, store_b, 2, status="ready_for_pickup")  # still waiting: not settled

    no_show = kpi_live(code="bopis_no_show", period=WEEK)
    assert no_show.count == 2 and no_show.value == pytest.approx(50.0)
    assert [r.order_id for r in kpi_drilldown(code="bopis_no_show", period=WEEK)] == [expired.order_id]
    assert kpi_live(code="bopis_no_show", period=WEEK, location_id=store_b.pk).count == 0

    ready = kpi_live(code="bopis_time_to_ready", period=WEEK)
    assert ready.count == 3 and ready.value == pytest.approx(2.0) and ready.p90 == pytest.approx(3.0)
    assert kpi_live(code="bopis_time_to_ready", period=WEEK, channel_id=web.pk).value == pytest.approx(1.0)
    assert collected.order_id not in {r.order_id for r in kpi_drilldown(code="bopis_time_to_ready", period=WEEK)}
