"""Outbound events: every write of this app's tables.

Emission: `webhook_events_emit` turns order-timeline entries into outbound events. It is called by
`orders.services` from the one timeline writer (`order_event_add`, `order_events_add_bulk` and intake), so
an event is written in the same transaction as the change it describes: a change that rolls back leaves no
event, and no change is written without one. One `Delivery` row per event and matching subscription
(unique), inserted in bulk for a batch.

Delivery: webhooks.delivery (`deliveries_deliver_due` and `delivery_deliver` call it): each event once per
subscription, an order's events in order, failures retried with exponential backoff (DOM["OUTBOX_BACKOFF_
SECONDS"], doubling, at most an hour) until DOM["OUTBOX_MAX_ATTEMPTS"], then dead. Every POST goes through
common.netguard.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django_q.tasks import async_task

from inventory.selectors import low_stock_state
from orders.models import Channel, Order
from webhooks.models import Delivery, Event, EventType, LowStockMark, Subscription
from webhooks.signals import events_written
from webhooks.signing import webhook_secret_generate

SCHEMA_VERSION = 1
OPEN = (Delivery.Status.PENDING, Delivery.Status.SENDING)
ROTATION_OVERLAP = timedelta(hours=24)


def _dom(name: str):
    return settings.DOM[name]


# --- Subscriptions ---------------------------------------------------------------------------------------


def subscription_create(
    *,
    name: str,
    url: str,
    event_types: list[str],
    channel: Channel | None = None,
    is_active: bool = True,
    kind: str = Subscription.Kind.WEBHOOK,
    access_token: str = "",
) -> tuple[Subscription, str]:
    """Create a subscription with a new secret; returns it with the secret (shown once, never again).
    Kind "shopify" takes the shop's Admin API access token instead (write-only; docs/shopify.md).
    Raises ValidationError naming the field (URL refused by the outbound guard, unknown event type)."""
    secret = webhook_secret_generate()
    sub = Subscription(
        name=(name or "").strip(),
        kind=kind,
        url=(url or "").strip(),
        event_types=sorted(set(event_types or [])),
        channel=channel,
        is_active=is_active,
        secret=secret,
        access_token=(access_token or "").strip(),
    )
    sub.full_clean()
    sub.save()
    return sub, secret


UPDATABLE = ("name", "url", "event_types", "is_active", "access_token")


def subscription_update(*, subscription: Subscription, changes: dict) -> Subscription:
    """Change a subscription's name, URL, event types, active flag or (Shopify) access token; the same
    validation as on creation, nothing written when anything is refused. Keys outside UPDATABLE are refused."""
    unknown = sorted(set(changes) - set(UPDATABLE))
    if unknown:
        raise ValidationError({k: ["This field cannot be changed."] for k in unknown})
    with transaction.atomic():
        sub = Subscription.objects.select_for_update().get(pk=subscription.pk)
        for key, raw in changes.items():
            if key == "event_types":
                setattr(sub, key, sorted(set(raw or [])))
            else:
                setattr(sub, key, raw.strip() if isinstance(raw, str) else raw)
        sub.full_clean()
        sub.save()
    return sub


def subscription_delete(*, subscription: Subscription) -> None:
    """Delete a subscription with its deliveries (the events stay: other subscriptions may have them)."""
    Subscription.objects.filter(pk=subscription.pk).delete()


def subscription_active_set(*, subscription: Subscription, is_active: bool) -> Subscription:
    """Pause or resume. A paused subscription still collects deliveries; they go out once it resumes."""
    Subscription.objects.filter(pk=subscription.pk).update(is_active=is_active)
    subscription.is_active = is_active
    return subscription


def subscription_secret_rotate(
    *, subscription: Subscription, overlap: timedelta = ROTATION_OVERLAP, now: datetime | None = None
) -> str:
    """A new secret (returned once). The previous one keeps signing alongside it until the overlap ends,
    so the receiver can switch without losing a message."""
    now = now or timezone.now()
    with transaction.atomic():
        sub = Subscription.objects.select_for_update().get(pk=subscription.pk)
        sub.previous_secret, sub.secret = sub.secret, webhook_secret_generate()
        sub.previous_secret_expires_at = now + overlap
        sub.save(update_fields=["previous_secret", "secret", "previous_secret_expires_at"])
    subscription.secret = sub.secret
    subscription.previous_secret, subscription.previous_secret_expires_at = sub.previous_secret, now + overlap
    return sub.secret


def subscription_signing_secrets(*, subscription: Subscription, now: datetime) -> list[str]:
    """The secrets that sign now: the current one, and the previous one during the rotation overlap."""
    out = [subscription.secret]
    expires = subscription.previous_secret_expires_at
    if subscription.previous_secret and expires and now < expires:
        out.append(subscription.previous_secret)
    return out


# --- Emission: timeline entries become events ------------------------------------------------------------


@dataclass
class TimelineRow:
    order_id: int
    type: str
    data: dict = field(default_factory=dict)


def _fo(data: dict) -> dict:
    return {"fulfillment_order": data.get("fulfillment_order"), "location": data.get("location")}


def _change_data(d: dict) -> dict:
    if d.get("change") == "promise":  # routing placed the order late: the new delivery date
        return {"change": "promise", "promised_delivery_date": d.get("to")}
    return {"change": d.get("change")}


def _translate(row: TimelineRow) -> tuple[str, dict] | None:
    """(event type, event data) for a timeline entry that is announced outside, else None."""
    t, d = row.type, row.data or {}
    if t == "received":
        return EventType.ORDER_ACCEPTED, {"source": d.get("source")}
    if t == "status_changed" and d.get("to") == "on_hold":
        return EventType.ORDER_ON_HOLD, {}
    if t == "status_changed" and d.get("to") == "delivered":
        return EventType.ORDER_DELIVERED, {}
    if t == "routed":
        return EventType.ORDER_ROUTED, {"fulfillment_orders": d.get("fulfillment_orders")}
    if t in ("backordered", "partial"):
        return EventType.ORDER_BACKORDERED, {"partial": t == "partial", "expected_date": d.get("expected_date")}
    if t in ("rerouted", "hold_released"):
        return EventType.ORDER_CHANGED, {"change": t}
    if t == "changed":
        return EventType.ORDER_CHANGED, _change_data(d)
    if t == "cancelled":
        return EventType.ORDER_CANCELLED, {k: d.get(k) for k in ("reason", "lines", "units")}
    if t == "fulfillment.released":
        return EventType.FULFILLMENT_RELEASED, _fo(d)
    if t == "fulfillment.shipped":
        keys = ("carrier", "service", "tracking_number", "tracking_url", "lines", "units")
        return EventType.FULFILLMENT_SHIPPED, {**_fo(d), **{k: d.get(k) for k in keys}}
    if t == "fulfillment.ready_for_pickup":
        return EventType.ORDER_READY_FOR_PICKUP, _fo(d)
    if t == "fulfillment.picked_up":
        return EventType.ORDER_PICKED_UP, _fo(d)
    if t == "return_received":
        return EventType.RETURN_RECEIVED, {"rma": d.get("rma"), "location": d.get("location")}
    if t == "refund_issued":
        return EventType.REFUND_ISSUED, {k: d.get(k) for k in ("rma", "amount", "currency", "reference")}
    return None


def webhook_events_emit(
    *, rows: list[TimelineRow], now: datetime | None = None, orders: dict[int, dict] | None = None
) -> list[Event]:
    """Write the outbound events for these timeline entries, and one pending delivery per matching
    subscription; must run inside the transaction of the change (the callers in orders.services do).
    A batch costs one query for the orders, one for the subscriptions and one insert per table. `orders`
    ({pk: {"pk", "number", "external_id", "channel_id", "channel__code"}}), when the caller has every
    row's order at hand (intake, which just wrote it), saves the read of the orders."""
    translated = [(r, tr) for r in rows if (tr := _translate(r)) is not None]
    if not translated:
        return []
    now = now or timezone.now()
    if orders is None or not {r.order_id for r, _ in translated} <= orders.keys():
        orders = {
            o["pk"]: o
            for o in Order.objects.filter(pk__in={r.order_id for r, _ in translated}).values(
                "pk", "number", "external_id", "channel_id", "channel__code"
            )
        }
    events = []
    for r, (etype, data) in translated:
        o = orders[r.order_id]
        ref = {"id": o["pk"], "number": o["number"], "external_id": o["external_id"], "channel": o["channel__code"]}
        events.append(
            Event(
                uid=f"evt_{uuid.uuid4().hex}",
                type=etype,
                order_id=o["pk"],
                channel_id=o["channel_id"],
                data={"order": ref, **data},
                created_at=now,
            )
        )
    return _events_store(events=events, now=now)


def _events_store(*, events: list[Event], now: datetime) -> list[Event]:
    """Insert events, their deliveries, and tell the listeners (`webhooks.signals.events_written`), all in
    the caller's transaction."""
    events = Event.objects.bulk_create(events)
    _deliveries_create(events=events, now=now)
    events_written.send(sender=Event, events=events)
    return events


def _deliveries_create(*, events: list[Event], now: datetime) -> None:
    channel_ids = {e.channel_id for e in events}
    subs = Subscription.objects.all()
    if None not in channel_ids:
        subs = subs.filter(Q(channel__isnull=True) | Q(channel_id__in=channel_ids))
    subs = list(subs.values("pk", "channel_id", "event_types"))
    deliveries = [
        Delivery(event=e, subscription_id=s["pk"], order_id=e.order_id, created_at=now)
        for e in events
        for s in subs
        # An event of no channel (stock.low) goes to every subscription that asked for its type.
        if e.type in s["event_types"] and (e.channel_id is None or s["channel_id"] in (None, e.channel_id))
    ]
    if not deliveries:
        return
    Delivery.objects.bulk_create(deliveries)
    # robust: the rows are stored; if enqueueing fails the every-minute sweep delivers them.
    transaction.on_commit(lambda: async_task("webhooks.tasks.deliver_due"), robust=True)


def stock_low_check(
    *,
    product_ids: set[int] | None = None,
    location_ids: set[int] | None = None,
    lowered_ids: set[int] | None = None,
    now: datetime | None = None,
) -> list[Event]:
    """Announce what crossed below its low-stock threshold (`stock.low`, network or per location) among
    these products (None: all), and re-arm what is back at its threshold. Runs inside the transaction of
    the stock write that may have caused the crossing (the `inventory.signals.stock_levels_changed`
    receiver), so a rolled-back change announces nothing. Once per crossing: a LowStockMark (unique per
    product and location) remembers an announcement until the ATS recovers; two concurrent writers insert
    the same mark with ON CONFLICT DO NOTHING and only the one that inserted it announces. Cost: one read
    of the marks, one of the low state (set-based), writes only for crossings. `lowered_ids` (when known)
    are the products whose stock went down; the others can only recover, so only their marked ones are read."""
    now = now or timezone.now()
    marks = LowStockMark.objects.all()
    if product_ids is not None:
        marks = marks.filter(product_id__in=list(product_ids))
    known = {(p, loc): pk for pk, p, loc in marks.values_list("pk", "product_id", "location_id")}
    if product_ids is not None and lowered_ids is not None:
        product_ids = set(lowered_ids) | {p for p, _ in known}
        if not product_ids:
            return []
    low = {
        (r.product_id, r.location_id): r for r in low_stock_state(product_ids=product_ids, location_ids=location_ids)
    }
    recovered = [
        pk
        for key, pk in known.items()
        if key not in low and (key[1] is None or location_ids is None or key[1] in location_ids)
    ]
    if recovered:
        LowStockMark.objects.filter(pk__in=recovered).delete()
    new = [low[k] for k in sorted(set(low) - set(known), key=lambda k: (k[0], k[1] or 0))]
    if not new:
        return []
    inserted = _marks_insert(rows=new, now=now)
    events = [
        Event(
            uid=f"evt_{uuid.uuid4().hex}",
            type=EventType.STOCK_LOW,
            data={
                "product": {"id": r.product_id, "sku": r.sku},
                "scope": "location" if r.location_id else "network",
                "location": r.location_code,
                "ats": r.ats,
                "threshold": r.threshold,
            },
            created_at=now,
        )
        for r in new
        if (r.product_id, r.location_id) in inserted
    ]
    return _events_store(events=events, now=now) if events else []


def _marks_insert(*, rows: list, now: datetime) -> set[tuple[int, int | None]]:
    """Insert marks, skipping any another transaction holds; returns the (product, location) inserted."""
    table = LowStockMark._meta.db_table
    values = ", ".join(["(%s, %s, %s, %s, %s)"] * len(rows))
    params = [v for r in rows for v in (r.product_id, r.location_id, r.ats, r.threshold, now)]
    with connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO {table} (product_id, location_id, ats, threshold, since) VALUES {values}"
            " ON CONFLICT DO NOTHING RETURNING product_id, location_id",
            params,
        )
        return {(p, loc) for p, loc in cur.fetchall()}


def stock_low_scan(*, now: datetime | None = None) -> int:
    """Reconciliation safety net, every minute: the whole-network check of `stock_low_check`. Stock writes
    announce their crossings in their own transaction; this catches what changes ATS without a stock write
    (a safety-stock rule, a location switched off, a threshold edited) and crossings two concurrent writers
    each missed (each saw the other's rows before commit). Returns events written."""
    with transaction.atomic():
        return len(stock_low_check(now=now))


# --- Delivery --------------------------------------------------------------------------------------------


def event_body(*, event: Event) -> str:
    """The JSON body of an event (docs/api.md "Outbound events"): the same bytes on every attempt."""
    envelope = {
        "type": event.type,
        "version": SCHEMA_VERSION,
        "id": event.uid,
        "timestamp": event.created_at.isoformat().replace("+00:00", "Z"),
        "data": event.data,
    }
    return json.dumps(envelope, sort_keys=True, separators=(",", ":"))


def delivery_deliver(*, delivery_id: int, now: datetime | None = None) -> Delivery:
    """Try one delivery once (webhooks.delivery.delivery_deliver)."""
    from webhooks import delivery

    return delivery.delivery_deliver(delivery_id=delivery_id, now=now)


def deliveries_deliver_due(*, now: datetime | None = None, batch: int | None = None) -> int:
    """Deliver every due delivery: the delivery loop of webhooks.delivery (lanes, chain claims, keep-alive
    connections). Safe to run concurrently and repeatedly. Returns deliveries made."""
    from webhooks import delivery

    return delivery.deliveries_drain(now=now, batch=batch)


def delivery_resend(*, delivery: Delivery, now: datetime | None = None) -> Delivery:
    """ "Send again": a delivered or dead delivery goes back to pending with a fresh retry budget (same
    webhook-id, so a receiver that already has it can tell). One still pending or sending is left alone."""
    if delivery.status in OPEN:
        raise ValidationError({"delivery": [f"Delivery {delivery.pk} is still {delivery.status}; wait for it."]})
    Delivery.objects.filter(pk=delivery.pk, status__in=(Delivery.Status.DELIVERED, Delivery.Status.DEAD)).update(
        status=Delivery.Status.PENDING, attempts=0, next_attempt_at=None, claimed_until=None
    )
    transaction.on_commit(lambda: async_task("webhooks.tasks.deliver_due"), robust=True)
    delivery.refresh_from_db()
    return delivery
