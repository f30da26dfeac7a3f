"""A channel's changes to its orders (Shopify orders/cancelled, orders/updated, orders/edited) mapped onto the
order-change services. Each delivery is kept as a ChannelOrderUpdate: deduplicated by webhook id, ordered by the
channel's own `updated_at` (an update older than, or as old as, the newest one applied is ignored, and the
timeline says so), refused changes kept with the reason, and topics for orders never received kept for the
channel updates screen."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils.dateparse import parse_datetime

from orders.models import Channel, ChannelOrderUpdate, Order
from orders.services.changes import (
    OrderChangeConflict,
    order_address_change,
    order_line_add,
    order_line_quantity_set,
    order_units_cancel,
)
from orders.services.lifecycle import Status, _lock
from orders.services.timeline import order_event_add
from orders.shopify import ShopifyOrderUpdate

Outcome = ChannelOrderUpdate.Outcome
_ADDRESS_KEYS = ("line1", "line2", "city", "region", "postal_code", "country")


def _utc(when: datetime) -> str:
    return f"{when.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


@dataclass(frozen=True, slots=True)
class ChannelUpdateResult:
    update: ChannelOrderUpdate
    duplicate: bool


def _baseline(order: Order) -> datetime | None:
    """When the channel last changed the order as far as we know: the newest update applied (or found
    already in place), else the order as received."""
    seen = order.channel_updates.filter(outcome__in=[Outcome.APPLIED, Outcome.NO_CHANGE]).aggregate(
        m=Max("source_updated_at")
    )["m"]
    raw = (order.raw_payload or {}).get("updated_at")
    received = parse_datetime(raw) if isinstance(raw, str) else None
    candidates = [t for t in (seen, received) if t is not None and t.tzinfo is not None]
    return max(candidates) if candidates else None


def _apply_state(*, order: Order, update: ShopifyOrderUpdate, why: str) -> list[str]:
    """orders/updated and orders/cancelled: bring the order to the state Shopify describes; what changed."""
    done = []
    if update.cancelled:
        if order.status != Status.CANCELLED:
            r = order_units_cancel(
                order=order, lines=None, reason=f"{why}: {update.cancel_reason or 'cancelled'}", actor=None
            )
            done.append(r.message)
        return done
    new = update.shipping_address
    if new and any(str(new.get(k) or "") != str((order.shipping_address or {}).get(k) or "") for k in _ADDRESS_KEYS):
        done.append(order_address_change(order=order, address=new, reason=why, actor=None).message)
    if update.lines is not None:
        done += _apply_lines(order=order, wanted=update.lines, why=why)
    return done


def _apply_lines(*, order: Order, wanted: dict[str, tuple[int, Decimal, str]], why: str) -> list[str]:
    done = []
    ours = {}
    for ln in order.lines.order_by("line_number"):
        ours.setdefault(ln.sku, ln)
    for sku, (qty, price, _name) in sorted(wanted.items()):
        ln = ours.get(sku)
        if ln is None:
            if qty > 0:
                done.append(
                    order_line_add(order=order, sku=sku, quantity=qty, unit_price=price, reason=why, actor=None).message
                )
            continue
        have = ln.quantity - ln.quantity_cancelled
        if qty != have and (qty > 0 or ln.quantity_open > 0):
            if qty == 0:
                done.append(
                    order_units_cancel(
                        order=order, lines={ln.line_number: ln.quantity_open}, reason=why, actor=None
                    ).message
                )
            else:
                done.append(
                    order_line_quantity_set(
                        order=order, line_number=ln.line_number, quantity=qty, reason=why, actor=None
                    ).message
                )
    for sku, ln in ours.items():
        if sku not in wanted and ln.quantity_open > 0:
            done.append(
                order_units_cancel(
                    order=order, lines={ln.line_number: ln.quantity_open}, reason=why, actor=None
                ).message
            )
    return done


def _apply_edit(*, order: Order, update: ShopifyOrderUpdate, why: str) -> list[str]:
    """orders/edited: removals and additions on Shopify line items we know (through the order as received);
    new line items arrive with the orders/updated Shopify sends after every edit."""
    by_id = {
        str(item.get("id")): str(item.get("sku") or "")
        for item in (order.raw_payload or {}).get("line_items") or []
        if isinstance(item, dict)
    }
    lines = {ln.sku: ln for ln in order.lines.order_by("-line_number")}
    done, unknown = [], []
    for item_id, delta in sorted(update.edit_deltas.items()):
        ln = lines.get(by_id.get(item_id, "\x00"))
        if ln is None:
            unknown.append(item_id)
            continue
        target = ln.quantity - ln.quantity_cancelled - delta
        if delta > 0:
            done.append(
                order_units_cancel(
                    order=order, lines={ln.line_number: min(delta, ln.quantity_open)}, reason=why, actor=None
                ).message
            )
        elif delta < 0:
            done.append(
                order_line_quantity_set(
                    order=order, line_number=ln.line_number, quantity=target, reason=why, actor=None
                ).message
            )
    if unknown:
        done.append(f"Line items {', '.join(unknown)} are new: they arrive with orders/updated.")
    return done


def channel_order_update_receive(
    *, channel: Channel, update: ShopifyOrderUpdate, webhook_id: str, payload: dict
) -> ChannelUpdateResult:
    """Record and apply one delivery (see the module docstring). Never raises for the order's state: a change
    the order refuses (work a location has, shipped units, a bad address) is kept as REFUSED with the reason."""
    webhook_id = (webhook_id or "").strip()[:200]
    if webhook_id and (dup := ChannelOrderUpdate.objects.filter(channel=channel, webhook_id=webhook_id).first()):
        return ChannelUpdateResult(dup, True)
    try:
        with transaction.atomic():
            return ChannelUpdateResult(
                _receive(channel=channel, update=update, webhook_id=webhook_id, payload=payload), False
            )
    except IntegrityError:  # the same webhook id, delivered twice at once: the other delivery kept it
        dup = ChannelOrderUpdate.objects.filter(channel=channel, webhook_id=webhook_id).first()
        if dup is None:
            raise
        return ChannelUpdateResult(dup, True)


def _receive(*, channel: Channel, update: ShopifyOrderUpdate, webhook_id: str, payload: dict) -> ChannelOrderUpdate:
    row = ChannelOrderUpdate(
        channel=channel,
        topic=update.topic,
        webhook_id=webhook_id,
        external_id=update.external_id,
        source_updated_at=update.updated_at,
        payload=payload,
    )
    order = Order.objects.filter(channel=channel, external_id=update.external_id).first()
    if order is None:
        row.outcome, row.detail = Outcome.UNKNOWN_ORDER, f"No order {update.external_id} from {channel.code}."
        row.save()
        return row
    order = _lock(order)
    row.order = order
    baseline = _baseline(order)
    stamp = _utc(update.updated_at)
    if baseline is not None and update.updated_at <= baseline:
        row.outcome = Outcome.IGNORED_OLDER
        row.detail = f"{channel.name} sent {update.topic} as of {stamp}; we already have {_utc(baseline)}."
        order_event_add(
            order=order,
            type="channel_update_ignored",
            message=f"{row.detail} Ignored.",
            data={"topic": update.topic, "updated_at": update.updated_at.isoformat(), "have": baseline.isoformat()},
        )
        row.save()
        return row
    why = f"{channel.name} {update.topic} ({stamp})"
    try:
        with transaction.atomic():
            done = (
                _apply_edit(order=order, update=update, why=why)
                if update.topic == "orders/edited"
                else _apply_state(order=order, update=update, why=why)
            )
    except (OrderChangeConflict, ValidationError) as exc:
        row.outcome, row.detail = Outcome.REFUSED, " ".join(exc.messages)[:1000]
        order_event_add(
            order=order,
            type="channel_update_ignored",
            message=f"{why} not applied: {row.detail}"[:500],
            data={"topic": update.topic, "updated_at": update.updated_at.isoformat(), "refused": row.detail},
        )
    else:
        row.outcome = Outcome.APPLIED if done else Outcome.NO_CHANGE
        row.detail = " ".join(done)[:1000] or "Already as Shopify has it."
    row.save()
    return row
