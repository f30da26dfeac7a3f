"""KPI selectors over fulfilment records (see docs/kpis.md for each definition).

Every selector returns *observations*: a `values()` queryset with one row per thing measured and the keys
`day`, `channel_id`, `location_id`, `order_id`, `num`, `den`. A KPI's value over any set of observations is
Σnum / Σden (rates, means) or a percentile of `num` (durations, where `den` is 1). The analytics app sums
them into its daily rollup; the drill-down filters the same querysets, so a figure and the orders behind it
come from one definition.

Observations are dated by the event that settles them (the order's last shipment or handover, its last
delivery, a pickup's handover or expiry, readiness), in the current time zone, within [start, end).
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import (
    Case,
    Count,
    DecimalField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, TruncDate

from fulfillment.models import FulfillmentOrder, Shipment
from orders.models import Order, OrderLine

S = FulfillmentOrder.Status
M = FulfillmentOrder.Method

# Fulfilment orders that did real work (something left the building or was handed over).
WORKED = [S.SHIPPED, S.DELIVERED, S.PICKED_UP, S.IN_TRANSIT, S.RECEIVED]
ZERO_MONEY = Value(0, output_field=DecimalField(max_digits=12, decimal_places=2))


def order_primary_location(order_ref: str = "pk") -> Subquery:
    """The location an order is attributed to in location breakdowns: its first customer-facing fulfilment
    order (transfers to a store are the DC's work for the store, not the customer's location)."""
    return Subquery(
        FulfillmentOrder.objects.filter(order_id=OuterRef(order_ref))
        .exclude(method=M.TRANSFER)
        .order_by("pk")
        .values("location_id")[:1]
    )


def _customer_shipments():
    return Shipment.objects.exclude(fulfillment_order__method=M.TRANSFER)


def orders_completed(*, start: datetime, end: datetime) -> QuerySet[Order]:
    """Orders whose fulfilment finished in [start, end): no unit left open (every unit shipped, handed over or
    cancelled), at least one unit shipped, and the last shipment or handover inside the window. Annotated with
    `completed_at`, `day` and `location_id`. Fully cancelled orders never complete; partly shipped orders
    complete only when their last unit ships (or the rest is cancelled)."""
    # One semi-join over the window's events (a UNION, not "IN … OR IN …", which PostgreSQL cannot hash).
    events = (
        _customer_shipments()
        .filter(shipped_at__gte=start, shipped_at__lt=end)
        .order_by()
        .values("fulfillment_order__order_id")
        .union(
            FulfillmentOrder.objects.filter(picked_up_at__gte=start, picked_up_at__lt=end).order_by().values("order_id")
        )
    )
    last_ship = Subquery(
        _customer_shipments()
        .filter(fulfillment_order__order_id=OuterRef("pk"), shipped_at__isnull=False)
        .order_by("-shipped_at")
        .values("shipped_at")[:1]
    )
    last_pick = Subquery(
        FulfillmentOrder.objects.filter(order_id=OuterRef("pk"), picked_up_at__isnull=False)
        .order_by("-picked_up_at")
        .values("picked_up_at")[:1]
    )
    open_units = OrderLine.objects.filter(
        order_id=OuterRef("pk"), quantity__gt=F("quantity_shipped") + F("quantity_cancelled")
    )
    # An order either ships parcels or is handed over at a store (ship-to-store's DC transfer is not a
    # customer shipment), so its completion is its last shipment, else its handover.
    return (
        Order.objects.filter(pk__in=events)
        .order_by()
        .annotate(last_ship=last_ship, completed_at=Coalesce(last_ship, last_pick))
        .filter(completed_at__gte=start, completed_at__lt=end)
        .exclude(Exists(open_units))
        .annotate(day=TruncDate("completed_at"), location_id=order_primary_location())
    )


def _observations(qs: QuerySet, *, num, den=None, order_id="pk") -> QuerySet:
    fields = ["day", "channel_id", "location_id"]
    extra = {"num": num, "den": den if den is not None else Value(1, output_field=IntegerField())}
    if order_id == "order_id":
        fields.append("order_id")  # a real column of the model
    else:
        extra["order_id"] = F(order_id)
    return qs.order_by().values(*fields, **extra)


def order_cycle_time_observations(*, start: datetime, end: datetime) -> QuerySet:
    """Order cycle time: placed → last shipment or handover, per completed order (num is a duration)."""
    qs = orders_completed(start=start, end=end)
    return _observations(qs, num=ExpressionWrapper(F("completed_at") - F("placed_at"), output_field=DurationField()))


def fulfillment_cost_observations(*, start: datetime, end: datetime) -> QuerySet:
    """Fulfilment cost per completed order: per fulfilment order that did work, the carrier charges recorded
    on its shipments when there are any, else the routing decision's estimate (shipping + handling)."""
    charged = Subquery(
        Shipment.objects.filter(fulfillment_order_id=OuterRef("pk"))
        .values("fulfillment_order_id")
        .annotate(total=Sum("cost"))
        .values("total")[:1]
    )
    per_fo = (
        FulfillmentOrder.objects.filter(order_id=OuterRef("pk"), status__in=WORKED)
        .annotate(charged=Coalesce(charged, ZERO_MONEY))
        .annotate(
            fo_cost=Case(
                When(charged__gt=0, then=F("charged")),
                default=F("estimated_cost"),
                output_field=DecimalField(max_digits=12, decimal_places=2),
            )
        )
        .values("order_id")
        .annotate(total=Sum("fo_cost"))
        .values("total")[:1]
    )
    qs = orders_completed(start=start, end=end)
    return _observations(qs, num=Coalesce(Subquery(per_fo), ZERO_MONEY))


def order_accuracy_observations(*, start: datetime, end: datetime) -> QuerySet:
    """Order accuracy: a completed order is accurate when every unit ordered reached the customer (nothing
    cancelled) and no location reported a line short or rejected its work (no short, no wrong pick)."""
    short = FulfillmentOrder.objects.filter(order_id=OuterRef("pk")).filter(
        Q(status=S.REJECTED) | Q(lines__quantity_short__gt=0)
    )
    cancelled_units = OrderLine.objects.filter(order_id=OuterRef("pk"), quantity_cancelled__gt=0)
    qs = orders_completed(start=start, end=end).annotate(
        hit=Case(
            When(Exists(short) | Exists(cancelled_units), then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        )
    )
    return _observations(qs, num=F("hit"))


def split_rate_observations(*, start: datetime, end: datetime) -> QuerySet:
    """Split rate: shipments per completed order that shipped (pickups and ship-to-store handovers excluded)."""
    packages = Subquery(
        _customer_shipments()
        .filter(fulfillment_order__order_id=OuterRef("pk"), shipped_at__isnull=False)
        .values("fulfillment_order__order_id")
        .annotate(n=Count("pk"))
        .values("n")[:1]
    )
    qs = orders_completed(start=start, end=end).filter(last_ship__isnull=False)
    return _observations(qs, num=packages)


def on_time_delivery_observations(*, start: datetime, end: datetime) -> QuerySet:
    """On-time delivery: orders whose last parcel was delivered in the window, every unit settled and every
    parcel delivered, with a promised date; on time when delivered on or before the promised date."""
    delivered_in = _customer_shipments().filter(delivered_at__gte=start, delivered_at__lt=end)
    last_delivered = Subquery(
        _customer_shipments()
        .filter(fulfillment_order__order_id=OuterRef("pk"), delivered_at__isnull=False)
        .order_by("-delivered_at")
        .values("delivered_at")[:1]
    )
    undelivered = _customer_shipments().filter(fulfillment_order__order_id=OuterRef("pk"), delivered_at__isnull=True)
    open_units = OrderLine.objects.filter(
        order_id=OuterRef("pk"), quantity__gt=F("quantity_shipped") + F("quantity_cancelled")
    )
    qs = (
        Order.objects.filter(
            pk__in=delivered_in.values("fulfillment_order__order_id"), promised_delivery_date__isnull=False
        )
        .annotate(delivered_at=last_delivered)
        .filter(delivered_at__gte=start, delivered_at__lt=end)
        .exclude(Exists(undelivered))
        .exclude(Exists(open_units))
        .annotate(day=TruncDate("delivered_at"), location_id=order_primary_location())
        .annotate(
            hit=Case(
                # Against the first promise: an order that routing had to re-date late is still late.
                When(day__lte=Coalesce("original_promised_delivery_date", "promised_delivery_date"), then=Value(1)),
                default=Value(0),
                output_field=IntegerField(),
            )
        )
    )
    return _observations(qs, num=F("hit"))


def _pickups():
    return FulfillmentOrder.objects.filter(method=M.PICKUP).annotate(channel_id=F("order__channel_id"))


def bopis_no_show_observations(*, start: datetime, end: datetime) -> QuerySet:
    """BOPIS no-show rate: pickups settled in the window (handed over or expired), 1 when expired."""
    qs = (
        _pickups()
        .filter(
            Q(picked_up_at__gte=start, picked_up_at__lt=end)
            | Q(picked_up_at__isnull=True, expired_at__gte=start, expired_at__lt=end)
        )
        .annotate(
            day=TruncDate(Coalesce("picked_up_at", "expired_at")),
            hit=Case(When(picked_up_at__isnull=True, then=Value(1)), default=Value(0), output_field=IntegerField()),
        )
    )
    return _observations(qs, num=F("hit"), order_id="order_id")


def bopis_time_to_ready_observations(*, start: datetime, end: datetime) -> QuerySet:
    """BOPIS time to ready: order placed → ready for pickup at the store, per pickup readied in the window."""
    qs = _pickups().filter(ready_at__gte=start, ready_at__lt=end).annotate(day=TruncDate("ready_at"))
    return _observations(
        qs,
        num=ExpressionWrapper(F("ready_at") - F("order__placed_at"), output_field=DurationField()),
        order_id="order_id",
    )
