"""KPI selectors over returns (docs/kpis.md): the return rate.

The rate itself comes from the units the order lines record as returned (`OrderLine.quantity_returned`,
kept by the returns services); the breakdown by reason reads the return lines' reason codes.
Observations as in `fulfillment.kpis`: day, channel_id, location_id, order_id, num, den.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import F, QuerySet, Sum
from django.db.models.functions import TruncDate

from fulfillment.kpis import order_primary_location
from orders.models import OrderLine
from returns.models import ReturnAuthorization, ReturnLine


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


@dataclass(frozen=True, slots=True)
class ReasonRow:
    reason: str
    label: str
    units: int  # units returned (received) for this reason
    rate_pct: float | None  # units returned for this reason over units shipped, same cohort as the rate


def return_rate_by_reason(*, start: datetime, end: datetime) -> list[ReasonRow]:
    """Return rate by reason code for orders placed in the window: units received back with that reason over
    all units shipped for those orders (rejected RMAs do not count). Every reason code is listed, zeros too."""
    shipped = (
        OrderLine.objects.filter(order__placed_at__gte=start, order__placed_at__lt=end).aggregate(
            n=Sum("quantity_shipped")
        )["n"]
        or 0
    )
    units = dict(
        ReturnLine.objects.filter(order_line__order__placed_at__gte=start, order_line__order__placed_at__lt=end)
        .exclude(rma__status=ReturnAuthorization.Status.REJECTED)
        .order_by()
        .values_list("reason")
        .annotate(n=Sum("quantity_received"))
        .values_list("reason", "n")
    )
    return [
        ReasonRow(
            reason=code,
            label=label,
            units=units.get(code) or 0,
            rate_pct=round(100.0 * (units.get(code) or 0) / shipped, 2) if shipped else None,
        )
        for code, label in ReturnLine.Reason.choices
    ]
