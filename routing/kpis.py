"""KPI selectors over routing records: routing accuracy and capacity utilisation (docs/kpis.md).

Observations as in `fulfillment.kpis`: `values()` rows with day, channel_id, location_id, order_id, num, den.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from django.db.models import Case, F, IntegerField, Q, QuerySet, Value, When
from django.db.models.functions import TruncDate

from fulfillment.kpis import order_primary_location
from routing.models import LocationCapacity, RoutingDecision

# Costs are stored in cents; equal within half a cent.
COST_EPSILON = Decimal("0.005")


def routing_accuracy_observations(*, start: datetime, end: datetime) -> QuerySet:
    """Routing accuracy: first-time routing decisions made in the window that placed something; a hit when the
    plan cost equals the optimum known at decision time — the MILP oracle's cost when it was checked
    (`oracle_cost`), otherwise the optimizer's own proof of optimality (`optimal`, False when it stopped on
    its node limit)."""
    qs = (
        RoutingDecision.objects.filter(kind=RoutingDecision.Kind.ROUTE, created_at__gte=start, created_at__lt=end)
        .exclude(outcome=RoutingDecision.Outcome.BACKORDERED)
        .annotate(
            day=TruncDate("created_at"),
            channel_id=F("order__channel_id"),
            location_id=order_primary_location("order_id"),
            hit=Case(
                When(Q(oracle_cost__isnull=True, optimal=True), then=Value(1)),
                When(Q(oracle_cost__isnull=False, cost__lte=F("oracle_cost") + COST_EPSILON), then=Value(1)),
                default=Value(0),
                output_field=IntegerField(),
            ),
        )
    )
    return qs.order_by().values("day", "channel_id", "location_id", "order_id", num=F("hit"), den=Value(1))


def capacity_utilisation_observations(*, start: datetime, end: datetime) -> QuerySet:
    """Capacity utilisation per location: orders taken over orders it could take, per location and ship day
    (LocationCapacity rows, whose day is the location's local ship day)."""
    first, last = _days(start, end)
    qs = LocationCapacity.objects.filter(day__gte=first, day__lte=last).order_by()
    return qs.values(
        "day",
        "location_id",
        channel_id=Value(None, output_field=IntegerField()),
        order_id=Value(None, output_field=IntegerField()),
        num=F("used"),
        den=F("capacity"),
    )


def _days(start: datetime, end: datetime) -> tuple[date, date]:
    from datetime import timedelta

    from django.utils import timezone

    return timezone.localdate(start), timezone.localdate(end - timedelta(microseconds=1))
