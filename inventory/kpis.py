"""KPI selectors over inventory records: inventory (record) accuracy from cycle counts (docs/kpis.md).

Observations as in `fulfillment.kpis`: day, channel_id, location_id, order_id, num, den.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db.models import Case, F, FloatField, IntegerField, QuerySet, Value, When
from django.db.models.functions import Abs, Cast, Greatest, TruncDate

from inventory.models import CycleCount


def count_tolerance() -> tuple[int, float]:
    """(units, percent): a count is accurate when |counted − system| ≤ max(units, percent % of system)."""
    dom = settings.DOM
    return int(dom.get("KPI_COUNT_TOLERANCE_UNITS", 0)), float(dom.get("KPI_COUNT_TOLERANCE_PCT", 2.0))


def inventory_accuracy_observations(*, start: datetime, end: datetime) -> QuerySet | list:
    """Inventory accuracy: cycle counts taken in the window; a hit when the count was within tolerance of
    what the system said at that moment."""
    model = CycleCount
    units, pct = count_tolerance()
    allowed = Greatest(
        Value(float(units), output_field=FloatField()),
        Cast(F("system_quantity"), FloatField()) * Value(pct / 100.0, output_field=FloatField()),
    )
    qs = (
        model.objects.filter(counted_at__gte=start, counted_at__lt=end)
        .order_by()
        .annotate(
            day=TruncDate("counted_at"),
            diff=Cast(Abs(F("counted_quantity") - F("system_quantity")), FloatField()),
        )
    )
    qs = qs.annotate(hit=Case(When(diff__lte=allowed, then=Value(1)), default=Value(0), output_field=IntegerField()))
    return qs.values(
        "day",
        "location_id",
        channel_id=Value(None, output_field=IntegerField()),
        order_id=Value(None, output_field=IntegerField()),
        num=F("hit"),
        den=Value(1, output_field=IntegerField()),
    )
