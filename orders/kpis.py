"""KPI selectors over orders (docs/kpis.md): order intake and cancellations, the context the other KPIs
are read in. Observations as in `fulfillment.kpis`: day, channel_id, location_id, order_id, num, den."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Case, F, IntegerField, QuerySet, Value, When
from django.db.models.functions import TruncDate

from orders.models import Order


def order_cancellation_observations(*, start: datetime, end: datetime) -> QuerySet:
    """Orders placed in the window (dated by placed time); num is 1 when the order ended cancelled. Σden is
    the number of orders placed. Orders are not attributed to a location (a cancelled order may have none)."""
    qs = (
        Order.objects.filter(placed_at__gte=start, placed_at__lt=end)
        .order_by()
        .annotate(
            day=TruncDate("placed_at"),
            hit=Case(When(status=Order.Status.CANCELLED, then=Value(1)), default=Value(0), output_field=IntegerField()),
        )
    )
    return qs.values(
        "day",
        "channel_id",
        location_id=Value(None, output_field=IntegerField()),
        order_id=F("pk"),
        num=F("hit"),
        den=Value(1, output_field=IntegerField()),
    )
