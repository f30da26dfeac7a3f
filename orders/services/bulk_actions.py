"""Operations' saved order filters and bulk actions (release holds, cancel) on up to BULK_MAX orders."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError

from orders.models import Order, OrderHold, SavedOrderFilter
from orders.services.cancellation import NOT_CANCELLABLE, order_cancel
from orders.services.holds import order_hold_release
from orders.services.lifecycle import Status

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


SAVED_FILTER_FIELDS = ("q", "channel", "status", "fulfillment_method", "hold", "placed_from", "placed_to")


BULK_MAX = 500


def order_filter_save(*, user: AbstractBaseUser, name: str, query: dict[str, str]) -> SavedOrderFilter:
    """Save (or replace) the user's filter `name` with the list's filter fields only (no page, no junk)."""
    from urllib.parse import urlencode

    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": ["Name the filter, e.g. “Web orders on hold”."]})
    if len(name) > 80:
        raise ValidationError({"name": ["A filter name has at most 80 characters."]})
    kept = {k: str(query[k])[:200] for k in SAVED_FILTER_FIELDS if query.get(k)}
    saved, _ = SavedOrderFilter.objects.update_or_create(user=user, name=name, defaults={"query": urlencode(kept)})
    return saved


def order_filter_delete(*, user: AbstractBaseUser, filter_id: int) -> None:
    SavedOrderFilter.objects.filter(user=user, pk=filter_id).delete()


@dataclass(slots=True)
class BulkResult:
    done: list[str]
    skipped: list[tuple[str, str]]  # (order number, why)


def _bulk_orders(order_ids: list[int]) -> list[Order]:
    if not order_ids:
        raise ValidationError({"order": ["Tick at least one order."]})
    if len(order_ids) > BULK_MAX:
        raise ValidationError({"order": [f"At most {BULK_MAX} orders at a time."]})
    return list(Order.objects.filter(pk__in=order_ids).order_by("placed_at", "pk"))


def orders_bulk_holds_release(*, order_ids: list[int], actor: AbstractBaseUser | None) -> BulkResult:
    """Release every active hold of each order (each through order_hold_release, so the last release
    routes the order). An order whose hold cannot be released yet is skipped with the reason."""
    result = BulkResult(done=[], skipped=[])
    for order in _bulk_orders(order_ids):
        holds = list(OrderHold.objects.filter(order=order, released_at__isnull=True))
        if not holds:
            result.skipped.append((order.number, "no active hold"))
            continue
        try:
            for hold in holds:
                order_hold_release(hold=hold, actor=actor, note="released from the orders list")
        except ValidationError as exc:
            result.skipped.append((order.number, " ".join(exc.messages)))
        else:
            result.done.append(order.number)
    return result


def orders_bulk_cancel(*, order_ids: list[int], actor: AbstractBaseUser | None, reason: str) -> BulkResult:
    """Cancel each order through order_cancel; orders that cannot be cancelled are skipped with why."""
    if not (reason or "").strip():
        raise ValidationError({"reason": ["Say why the orders are cancelled."]})
    result = BulkResult(done=[], skipped=[])
    for order in _bulk_orders(order_ids):
        if order.status in NOT_CANCELLABLE or order.status == Status.CANCELLED:
            result.skipped.append((order.number, f"it is {order.get_status_display().lower()}"))
            continue
        try:
            order_cancel(order=order, actor=actor, reason=reason)
        except ValidationError as exc:
            result.skipped.append((order.number, " ".join(exc.messages)))
        else:
            result.done.append(order.number)
    return result
