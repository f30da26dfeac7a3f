"""The order's timeline: every event is written through `order_event_add` (one) or `order_events_add_bulk`
(a batch), with its type checked against the choices; outbound webhook events are emitted in the same
transaction."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.db.models import F
from django.utils import timezone

from common.bulk import model_rows_insert
from orders.models import Order, OrderEvent
from webhooks.services import TimelineRow, webhook_events_emit

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


def _event_type(type: str) -> str:
    if type not in _EVENT_TYPES:
        raise ValueError(f"Unknown order event type {type!r}: add it to OrderEvent.Type.")
    return type


_EVENT_TYPES = frozenset(OrderEvent.Type.values)


def order_event_add(
    *, order: Order, type: str, message: str = "", data: dict | None = None, actor: AbstractBaseUser | None = None
) -> OrderEvent:
    """Append an entry to the order's timeline (any app may call this); `type` is one of OrderEvent.Type."""
    event = OrderEvent.objects.create(
        order=order,
        type=_event_type(type),
        message=message[:500],
        data=data or {},
        actor=actor if getattr(actor, "pk", None) else None,
    )
    # Every change writes its timeline entry, so this is where the order's `updated_at` and `version` move.
    Order.objects.filter(pk=order.pk).update(updated_at=event.created_at, version=F("version") + 1)
    webhook_events_emit(rows=[TimelineRow(order_id=order.pk, type=event.type, data=event.data)])
    return event


def order_events_add_bulk(*, events: list[dict], now: datetime | None = None) -> None:
    """Append many timeline entries in one set-based insert (COPY on PostgreSQL): each event is a dict with
    `order_id`, `type`, and optionally `message`, `data`, `actor_id` (the same rules as `order_event_add`)."""
    rows = [
        {
            "order_id": e["order_id"],
            "type": _event_type(e["type"]),
            "message": (e.get("message") or "")[:500],
            "data": e.get("data") or {},
            "actor_id": e.get("actor_id"),
        }
        for e in events
    ]
    if not rows:
        return
    now = now or timezone.now()
    model_rows_insert(model=OrderEvent, rows=rows, now=now, returning=False)
    Order.objects.filter(pk__in={r["order_id"] for r in rows}).update(updated_at=now, version=F("version") + 1)
    webhook_events_emit(
        rows=[TimelineRow(order_id=r["order_id"], type=r["type"], data=r["data"]) for r in rows], now=now
    )
