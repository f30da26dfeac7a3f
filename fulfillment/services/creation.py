"""Fulfilment orders created in bulk for a routing batch, and units taken back from a line."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import F

from common.bulk import model_rows_insert
from fulfillment.models import (
    FulfillmentLine,
    FulfillmentOrder,
)
from fulfillment.services.workflow import S


@dataclass(frozen=True, slots=True)
class FulfillmentOrderNew:
    """A fulfilment order routing decided: where, how, which order lines and units, and the reservation."""

    order_id: int
    location_id: int
    method: str
    reservation_id: int | None
    carrier_service: str
    ship_by: datetime
    estimated_cost: Decimal
    lines: list[tuple[int, int]]  # (order line id, units)


def fulfillment_orders_create_bulk(*, orders: list[FulfillmentOrderNew], now: datetime | None = None) -> list[int]:
    """Create fulfilment orders (status created) and their lines set-based (COPY on PostgreSQL), in the
    caller's transaction; returns the new ids in order."""
    fo_ids = model_rows_insert(
        model=FulfillmentOrder,
        rows=[
            {
                "order_id": n.order_id,
                "location_id": n.location_id,
                "method": n.method,
                "status": S.CREATED.value,
                "reservation_id": n.reservation_id,
                "carrier_service": n.carrier_service,
                "ship_by": n.ship_by,
                "estimated_cost": n.estimated_cost,
            }
            for n in orders
        ],
        now=now,
    )
    model_rows_insert(
        model=FulfillmentLine,
        rows=[
            {"fulfillment_order_id": fo_id, "order_line_id": line_id, "quantity": q}
            for fo_id, n in zip(fo_ids, orders, strict=True)
            for line_id, q in n.lines
        ],
        now=now,
    )
    return fo_ids


def fulfillment_line_take_back(*, line: FulfillmentLine, quantity: int) -> None:
    """Take `quantity` unpicked units off a fulfilment line (a stock shortage moves them elsewhere): the line
    shrinks or goes, and a fulfilment order left without lines is cancelled. The caller releases the stock."""
    fo_id = line.fulfillment_order_id
    if quantity >= line.quantity:
        line.delete()
    else:
        FulfillmentLine.objects.filter(pk=line.pk).update(quantity=F("quantity") - quantity)
    if not FulfillmentLine.objects.filter(fulfillment_order_id=fo_id).exists():
        FulfillmentOrder.objects.filter(pk=fo_id).update(status=S.CANCELLED)
