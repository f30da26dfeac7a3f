"""The order's lifecycle: its status changes only here, through `_transition` (one order) or
`orders_status_set_bulk` (a batch), which refuse moves not in ALLOWED_TRANSITIONS. Order-line counters
(allocated, shipped, cancelled, returned) change only through the `order_lines_*` services; priorities are
refreshed here; routing is enqueued here."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date, datetime
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Exists, F, Max, OuterRef
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.module_loading import import_string

from common.bulk import values_cte
from orders.checks import (
    priority_score,
)
from orders.models import Order, OrderHold, OrderLine
from orders.services.timeline import order_event_add

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


logger = logging.getLogger(__name__)


Status = Order.Status


HoldKind = OrderHold.Kind


# Which status may follow which. Everything else is refused.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    Status.CREATED: frozenset({Status.VALIDATED, Status.ON_HOLD, Status.CANCELLED}),
    Status.VALIDATED: frozenset({Status.ROUTED, Status.BACKORDERED, Status.ON_HOLD, Status.CANCELLED}),
    Status.ON_HOLD: frozenset({Status.VALIDATED, Status.CANCELLED}),
    # DELIVERED straight from ROUTED: a pickup order handed over at the counter never "ships".
    Status.ROUTED: frozenset(
        {
            Status.PARTIALLY_SHIPPED,
            Status.SHIPPED,
            Status.DELIVERED,
            Status.BACKORDERED,
            Status.VALIDATED,
            Status.CANCELLED,
        }
    ),
    # A partly backordered order ships what was placed while the rest waits for stock.
    Status.BACKORDERED: frozenset(
        {Status.ROUTED, Status.VALIDATED, Status.ON_HOLD, Status.CANCELLED, Status.PARTIALLY_SHIPPED}
    ),
    Status.PARTIALLY_SHIPPED: frozenset({Status.SHIPPED, Status.DELIVERED, Status.BACKORDERED, Status.ROUTED}),
    Status.SHIPPED: frozenset({Status.DELIVERED, Status.PARTIALLY_RETURNED, Status.RETURNED, Status.CLOSED}),
    Status.DELIVERED: frozenset({Status.PARTIALLY_RETURNED, Status.RETURNED, Status.CLOSED}),
    Status.PARTIALLY_RETURNED: frozenset({Status.RETURNED, Status.CLOSED}),
    Status.RETURNED: frozenset({Status.CLOSED}),
    Status.CLOSED: frozenset(),
    Status.CANCELLED: frozenset(),
}


def _transition(
    *, order: Order, to: str, actor: AbstractBaseUser | None = None, message: str = "", data: dict | None = None
) -> bool:
    """Move a (locked or just created) order to `to`, writing the timeline; False when already there."""
    frm = order.status
    if frm == to:
        return False
    if to not in ALLOWED_TRANSITIONS[frm]:
        raise ValidationError(
            f"Order {order.number} cannot go from {Status(frm).label.lower()} to {Status(to).label.lower()}."
        )
    order.status = to
    Order.objects.filter(pk=order.pk).update(status=to, updated_at=timezone.now())
    order_event_add(
        order=order,
        type="status_changed",
        message=message or f"{Status(frm).label} → {Status(to).label}.",
        data={"from": frm, "to": to, **(data or {})},
        actor=actor,
    )
    if to == Status.VALIDATED:
        order_routing_enqueue(order_id=order.pk)
    return True


def _lock(order: Order) -> Order:
    return Order.objects.select_for_update(of=("self",)).get(pk=order.pk)


def order_status_set(
    *, order: Order, status: str, actor: AbstractBaseUser | None = None, message: str = "", data: dict | None = None
) -> Order:
    """Move an order to `status` if the lifecycle allows it (routing and fulfilment call this).

    Raises ValidationError for a move the lifecycle forbids, and when leaving a hold while holds are active.
    Setting the status the order already has changes nothing and writes no event.
    """
    with transaction.atomic():
        locked = _lock(order)
        if (
            locked.status == Status.ON_HOLD
            and status != Status.CANCELLED
            and locked.holds.filter(released_at__isnull=True).exists()
        ):
            raise ValidationError(f"Order {locked.number} has active holds; release them first.")
        _transition(order=locked, to=status, actor=actor, message=message, data=data)
    order.status = locked.status
    return locked


def orders_status_set_bulk(*, paths: dict[int, tuple[str, ...]], now: datetime | None = None) -> int:
    """Move many (already locked) orders along their paths of statuses (usually one step; routing takes a
    created order through validated), every step checked against ALLOWED_TRANSITIONS, in one statement per
    final status; a step to the status the order is already in is skipped. Writes no timeline entry: the
    caller writes the one event that explains the move (routing's "routed"/"backordered").
    Raises ValidationError naming every refused move, before anything is written. Returns orders moved."""
    current = dict(Order.objects.filter(pk__in=list(paths)).values_list("pk", "status"))
    refused, by_target = [], {}
    for pk, path in paths.items():
        frm = start = current.get(pk)
        if frm is None:
            refused.append(f"Order {pk} does not exist.")
            continue
        for to in path:
            if frm != to and to not in ALLOWED_TRANSITIONS[frm]:
                label = f"{Status(frm).label.lower()} to {Status(to).label.lower()}"
                refused.append(f"Order {pk} cannot go from {label}.")
                break
            frm = to
        else:
            if frm != start:
                by_target.setdefault(frm, []).append(pk)
    if refused:
        raise ValidationError(refused)
    stamp = now or timezone.now()
    return sum(
        Order.objects.filter(pk__in=pks).update(status=to, updated_at=stamp) for to, pks in sorted(by_target.items())
    )


def orders_allocation_status_apply(
    *, order_ids: list[int], statuses_from: tuple[str, ...], now: datetime = None
) -> int:
    """After allocation changed: each order in one of `statuses_from` becomes backordered while any unit is
    neither allocated nor cancelled, else routed (through `orders_status_set_bulk`; a created order passes
    through validated)."""
    open_line = OrderLine.objects.filter(
        order_id=OuterRef("pk"), quantity__gt=F("quantity_allocated") + F("quantity_cancelled")
    )
    rows = (
        Order.objects.filter(pk__in=order_ids, status__in=statuses_from)
        .annotate(open=Exists(open_line))
        .values_list("pk", "status", "open")
    )
    paths = {}
    for pk, status, is_open in rows:
        target = Status.BACKORDERED if is_open else Status.ROUTED
        paths[pk] = (Status.VALIDATED, target) if status == Status.CREATED else (target,)
    return orders_status_set_bulk(paths=paths, now=now)


def _order_lines_add(*, column: str, amounts: dict[int, int]) -> int:
    """column += amount for each order line id (negative amounts subtract), one statement per 1,000 lines;
    returns lines updated. The table's check constraints keep every counter within the line's quantity."""
    table = connection.ops.quote_name(OrderLine._meta.db_table)
    col = connection.ops.quote_name(column)
    done = 0
    items = sorted((k, v) for k, v in amounts.items() if v)
    for start in range(0, len(items), 1000):
        chunk = items[start : start + 1000]
        cte, params = values_cte(rows=chunk, columns=("id", "amount"))
        with connection.cursor() as cur:
            cur.execute(f"{cte} UPDATE {table} SET {col} = {col} + v.amount FROM v WHERE {table}.id = v.id", params)
            done += cur.rowcount if cur.rowcount >= 0 else len(chunk)
    return done


def order_lines_allocated_add(*, amounts: dict[int, int]) -> int:
    """Allocated units go up (routing placed them) or down (negative: released from a location)."""
    return _order_lines_add(column="quantity_allocated", amounts=amounts)


def order_lines_allocated_release(*, amounts: dict[int, int]) -> None:
    """Allocated units go down, never below zero (units reported short are no longer allocated anywhere)."""
    for pk, q in sorted(amounts.items()):
        OrderLine.objects.filter(pk=pk).update(quantity_allocated=Greatest(F("quantity_allocated") - q, 0))


def order_lines_expected_dates_set(*, dates: dict[int, date | None]) -> dict[int, date | None]:
    """Store when each order line's backordered units are expected (None: no date). Returns, per order whose
    latest expected date changed, that order's new expected date (the latest over its lines; None when no
    line has one) so the caller can tell the order's timeline."""
    if not dates:
        return {}
    rows = list(OrderLine.objects.filter(pk__in=dates).values_list("pk", "order_id", "expected_date"))
    changed = {pk: dates[pk] for pk, _, old in rows if old != dates[pk]}
    if not changed:
        return {}
    order_ids = {oid for pk, oid, _ in rows if pk in changed}
    before = _orders_expected(order_ids=order_ids)
    by_date: dict[date | None, list[int]] = defaultdict(list)
    for pk, d in changed.items():
        by_date[d].append(pk)
    for d, pks in by_date.items():
        OrderLine.objects.filter(pk__in=pks).update(expected_date=d)
    after = _orders_expected(order_ids=order_ids)
    return {oid: after.get(oid) for oid in sorted(order_ids) if before.get(oid) != after.get(oid)}


def _orders_expected(*, order_ids: set[int]) -> dict[int, date | None]:
    return dict(
        OrderLine.objects.filter(order_id__in=order_ids)
        .values("order_id")
        .annotate(d=Max("expected_date"))
        .values_list("order_id", "d")
    )


def order_lines_cancelled_add(*, amounts: dict[int, int]) -> None:
    """Cancelled units go up (per order line id)."""
    for pk, q in sorted(amounts.items()):
        if q > 0:
            OrderLine.objects.filter(pk=pk).update(quantity_cancelled=F("quantity_cancelled") + q)


def order_lines_shipped_set(*, shipped: dict[int, int]) -> None:
    """Set each order line's shipped units (derived by fulfilment from its fulfilment orders)."""
    for pk, q in sorted(shipped.items()):
        OrderLine.objects.filter(pk=pk).update(quantity_shipped=q)


def order_lines_returned_add(*, amounts: dict[int, int]) -> None:
    """Returned units go up (per order line id), never past shipped (the table's check constraint)."""
    for pk, q in sorted(amounts.items()):
        if q > 0:
            OrderLine.objects.filter(pk=pk).update(quantity_returned=F("quantity_returned") + q)


def order_routing_task() -> str | None:
    """The dotted path of the routing task when it is configured and importable, else None (orders wait)."""
    path = settings.DOM.get("ROUTE_ORDER_TASK")
    if not path:
        return None
    try:
        import_string(path)
    except ImportError:
        return None
    return path


def order_routing_enqueue(*, order_id: int) -> bool:
    """Queue routing for the order once the current transaction commits; False when no routing task exists.

    With a cluster (not inline tasks) and DOM ROUTE_PENDING_TASK set, the commit kicks this process's
    batching enqueuer (`orders.services.routing_kick`): about one drain task per interval for every order
    taken meanwhile, instead of a broker round trip and a task per order. Inline (tests), one per order."""
    path = order_routing_task()
    if path is None:
        return False
    from django_q.conf import Conf
    from django_q.tasks import async_task

    drain = settings.DOM.get("ROUTE_PENDING_TASK") or ""
    if drain and not Conf.SYNC:
        from orders.services.routing_kick import routing_kick

        interval = int(settings.DOM.get("ROUTE_ENQUEUE_INTERVAL_MS", 1000))
        transaction.on_commit(lambda: routing_kick(path=drain, interval_ms=interval))
    else:
        transaction.on_commit(lambda: async_task(path, order_id))
    return True


def order_priorities_refresh(*, now: datetime | None = None, batch: int = 5000) -> int:
    """Recompute the priority of orders waiting for routing (time to ship-by shrinks as they wait).
    Idempotent; returns how many changed."""
    now = now or timezone.now()
    waiting = (
        Order.objects.filter(status__in=[Status.VALIDATED, Status.ON_HOLD, Status.BACKORDERED])
        .select_related("customer")
        .only("pk", "priority", "ship_by", "total", "customer__loyalty_tier")
        .order_by("pk")[:batch]
    )
    changed = []
    for order in waiting:
        p = priority_score(
            ship_by=order.ship_by,
            now=now,
            tier=order.customer.loyalty_tier if order.customer else "standard",
            total=order.total,
        )
        if p != order.priority:
            order.priority = p
            changed.append(order)
    Order.objects.bulk_update(changed, ["priority"], batch_size=500)
    return len(changed)
