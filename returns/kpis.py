"""KPI selectors over returns (docs/kpis.md): the return rate.

The returns app (issue 8) is being built; until its ReturnLine (with reason codes) is merged, the rate comes
from the units the order lines record as returned (`OrderLine.quantity_returned`), under one reason, "all".
Observations as in `fulfillment.kpis`: day, channel_id, location_id, order_id, num, den.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import F, QuerySet, Sum
from django.db.models.functions import TruncDate

from fulfillment.kpis import order_primary_location
from orders.models import OrderLine

ALL_REASONS = "all"


def return_rate_observations(*, start: datetime, end: datetime) -> QuerySet:
    """Return rate: per order placed in the window with units shipped, units returned over units shipped.
    Dated by the order's placed day (a cohort), because returns arrive weeks after the sale."""
    qs = (
        OrderLine.objects.filter(order__placed_at__gte=start, order__placed_at__lt=end, quantity_shipped__gt=0)
        .order_by()
        .values("order_id")
        .annotate(
            day=TruncDate("order__placed_at"),
            channel_id=F("order__channel_id"),
            location_id=order_primary_location("order_id"),
            num=Sum("quantity_returned"),
            den=Sum("quantity_shipped"),
        )
    )
    return qs.values("day", "channel_id", "location_id", "order_id", "num", "den")


def return_reasons() -> list[str]:
    """Reason codes the return rate can be broken down by (one, "all", until ReturnLine reasons exist)."""
    return [ALL_REASONS]
