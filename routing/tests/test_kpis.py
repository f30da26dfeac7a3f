"""Routing KPIs on hand-built histories: routing accuracy (oracle cost or proven optimal) and capacity
utilisation per location."""

from datetime import timedelta

import pytest

from analytics.selectors import Period, kpi_drilldown, kpi_live
from analytics.tests.history import DAY0, at, decision_make, fo_make, order_make
from routing.models import LocationCapacity

WEEK = Period(DAY0, DAY0 + timedelta(days=6))


@pytest.mark.django_db
def test_no_decisions_no_value():
    assert kpi_live(code="routing_accuracy", period=WEEK).value is None
    assert kpi_live(code="capacity_utilisation", period=WEEK).value is None


@pytest.mark.django_db
def test_routing_accuracy_against_the_oracle_or_the_optimizers_proof(web, marketplace, product, dc, store):
    def routed(channel, **kw):
        order = order_make(channel=channel, placed=at(0), lines=[(product, 1, 0, 0, 0)])
        fo_make(order=order, location=kw.pop("location", dc), status="released")
        return order, decision_make(order=order, **{"made": at(0, 1), **kw})

    routed(web, cost="12.40", oracle="12.40")  # equal to the oracle: hit
    _, dearer = routed(web, cost="13.00", oracle="12.40")  # dearer than the oracle: miss
    routed(marketplace, cost="9.00", optimal=True, location=store)  # unchecked, proven optimal: hit
    _, unproven = routed(marketplace, cost="9.00", optimal=False, location=store)  # node limit hit: miss
    # Not measured: backordered (nothing placed), re-routes, and decisions outside the period.
    routed(web, outcome="backordered", optimal=False)
    order, _ = routed(web, cost="12.40", oracle="12.40")
    decision_make(order=order, made=at(1), kind="reroute", cost="20.00", oracle="12.40")
    routed(web, made=at(9), optimal=False)

    figure = kpi_live(code="routing_accuracy", period=WEEK)
    assert figure.count == 5
    assert figure.value == pytest.approx(60.0)
    assert kpi_live(code="routing_accuracy", period=WEEK, channel_id=web.pk).value == pytest.approx(200 / 3)
    assert kpi_live(code="routing_accuracy", period=WEEK, location_id=store.pk).value == pytest.approx(50.0)
    misses = {r.order_id for r in kpi_drilldown(code="routing_accuracy", period=WEEK)}
    assert misses == {dearer.order_id, unproven.order_id}


@pytest.mark.django_db
def test_capacity_utilisation_sums_used_over_capacity_per_location(dc, store):
    LocationCapacity.objects.create(location=dc, day=DAY0, capacity=1000, used=500)
    LocationCapacity.objects.create(location=dc, day=DAY0 + timedelta(days=1), capacity=1000, used=700)
    LocationCapacity.objects.create(location=store, day=DAY0, capacity=40, used=38)
    LocationCapacity.objects.create(location=store, day=DAY0 + timedelta(days=8), capacity=40, used=40)  # later

    assert kpi_live(code="capacity_utilisation", period=WEEK, location_id=dc.pk).value == pytest.approx(60.0)
    assert kpi_live(code="capacity_utilisation", period=WEEK, location_id=store.pk).value == pytest.approx(95.0)
    assert kpi_live(code="capacity_utilisation", period=WEEK).value == pytest.approx(100 * 1238 / 2040)
    # Drill-down: the location-days above the 85 % target.
    rows = kpi_drilldown(code="capacity_utilisation", period=WEEK)
    assert [(r.location, r.day, round(r.value)) for r in rows] == [("STORE-0001", DAY0, 95)]
