"""Dated backorders: backordered units of order lines allocated against specific open inbound lines.

The only writer of InboundAllocation. Every plan keeps each inbound line's `quantity_promised` equal to the
sum of its allocations plus any units promised outside an allocation (`inventory.inbound.inbound_line_promise`),
and allocates only what is open and not otherwise promised. Order lines are read from orders.models (read
only) and referred to by a typed reference; inventory never writes them: the callers (routing) pass the
expected dates this module returns to the orders service.

Priority among backorders of one product: earliest ship-by first (none last), then the customer's tier
(platinum, gold, silver, standard), then the order's value (highest first), then age (oldest first).
Supply is taken earliest expected date first.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import F, Sum

from inventory.models import InboundAllocation, InboundLine, RefType
from orders.models import Customer, Order, OrderLine

_TIER_RANK = {
    Customer.Tier.PLATINUM: 0,
    Customer.Tier.GOLD: 1,
    Customer.Tier.SILVER: 2,
    Customer.Tier.STANDARD: 3,
}
_FAR = datetime.max.replace(tzinfo=None)


@dataclass(frozen=True, slots=True)
class BackorderDemand:
    order_line_id: int
    order_id: int
    product_id: int
    units: int
    ship_by: datetime | None
    tier: str
    value: Decimal
    placed_at: datetime


def backorder_priority_key(d: BackorderDemand) -> tuple:
    """Sort key: ship-by, tier, value (descending), age, then the line id for a stable order."""
    ship_by = d.ship_by.replace(tzinfo=None) if d.ship_by else _FAR
    return (ship_by, _TIER_RANK.get(d.tier, 9), -d.value, d.placed_at, d.order_line_id)


def backorder_demands(*, product_ids: set[int]) -> dict[int, list[BackorderDemand]]:
    """Per product, the backordered units of open (backordered) orders, highest priority first."""
    rows = (
        OrderLine.objects.filter(order__status=Order.Status.BACKORDERED, product_id__in=product_ids)
        .annotate(units=F("quantity") - F("quantity_allocated") - F("quantity_cancelled"))
        .filter(units__gt=0)
        .values_list(
            "pk",
            "order_id",
            "product_id",
            "units",
            "order__ship_by",
            "order__customer__loyalty_tier",
            "order__total",
            "order__placed_at",
        )
    )
    out: dict[int, list[BackorderDemand]] = defaultdict(list)
    for pk, oid, pid, units, ship_by, tier, total, placed in rows:
        out[pid].append(BackorderDemand(pk, oid, pid, units, ship_by, tier or Customer.Tier.STANDARD, total, placed))
    for demands in out.values():
        demands.sort(key=backorder_priority_key)
    return out


def _plan_product(
    *, lines: list[InboundLine], demands: list[BackorderDemand], others: dict[int, int]
) -> tuple[list, dict[int, date | None]]:
    """Greedy: each demand in priority order takes the earliest supply still free. A line fully covered
    gets the latest date it counts on; a line only partly covered gets no date (it waits)."""
    free = [[ln, ln.quantity_open - others.get(ln.pk, 0)] for ln in lines]
    made: list[InboundAllocation] = []
    dates: dict[int, date | None] = {}
    for rank, d in enumerate(demands):
        need, last = d.units, None
        for slot in free:
            if need == 0:
                break
            take = min(need, slot[1])
            if take <= 0:
                continue
            slot[1] -= take
            need -= take
            last = slot[0].expected_date
            made.append(
                InboundAllocation(
                    inbound_line=slot[0],
                    product_id=d.product_id,
                    ref_type=RefType.ORDER_LINE,
                    ref_id=d.order_line_id,
                    order_id=d.order_id,
                    quantity=take,
                    rank=rank,
                )
            )
        dates[d.order_line_id] = last if need == 0 else None
    return made, dates


def inbound_allocations_replan(*, product_ids: set[int]) -> dict[int, date | None]:
    """Allocate (again) every backordered unit of these products against their open inbound lines by
    priority, replacing the previous plan, and set each line's `quantity_promised` to its allocations.
    Returns {order line id: expected date or None} for every order line that had or has an allocation or
    a backorder of these products (the caller stores them through the orders service)."""
    if not product_ids:
        return {}
    with transaction.atomic():
        lines = list(
            InboundLine.objects.select_for_update()
            .filter(product_id__in=product_ids, is_open=True)
            .order_by("product_id", "expected_date", "pk")
        )
        # Every order line dated before (allocated, or dated by an allocation a receipt has since released).
        before = set(
            InboundAllocation.objects.filter(product_id__in=product_ids).values_list("ref_id", flat=True)
        ) | set(
            OrderLine.objects.filter(product_id__in=product_ids, expected_date__isnull=False).values_list(
                "pk", flat=True
            )
        )
        old_sums = _alloc_sums(lines=lines)
        InboundAllocation.objects.filter(product_id__in=product_ids).delete()
        # Units promised outside any allocation (inbound_line_promise) stay promised and are not free.
        others = {ln.pk: max(ln.quantity_promised - old_sums.get(ln.pk, 0), 0) for ln in lines}
        by_product: dict[int, list[InboundLine]] = defaultdict(list)
        for ln in lines:
            by_product[ln.product_id].append(ln)
        demands = backorder_demands(product_ids=product_ids)
        made: list[InboundAllocation] = []
        dates: dict[int, date | None] = dict.fromkeys(before)
        for pid in product_ids:
            m, d = _plan_product(lines=by_product.get(pid, []), demands=demands.get(pid, []), others=others)
            made += m
            dates.update(d)
        InboundAllocation.objects.bulk_create(made)
        _promised_sync(lines=lines, others=others)
    return dates


def _alloc_sums(*, lines: list[InboundLine]) -> dict[int, int]:
    return dict(
        InboundAllocation.objects.filter(inbound_line__in=lines)
        .values("inbound_line_id")
        .annotate(s=Sum("quantity"))
        .values_list("inbound_line_id", "s")
    )


def _promised_sync(*, lines: list[InboundLine], others: dict[int, int]) -> None:
    """Each line's quantity_promised := its allocations plus what was promised outside them (`others`)."""
    sums = _alloc_sums(lines=lines)
    changed = []
    for ln in lines:
        want = sums.get(ln.pk, 0) + others.get(ln.pk, 0)
        if ln.quantity_promised != want:
            ln.quantity_promised = want
            changed.append(ln)
    InboundLine.objects.bulk_update(changed, ["quantity_promised"])


def inbound_allocations_release(*, line_ids: list[int]) -> list[int]:
    """Supply arrived on these inbound lines: their allocations end (the units are on hand now, to be
    reserved by routing) and their promised units return to 0. Returns the orders that waited on them,
    highest priority first (by the plan's rank)."""
    with transaction.atomic():
        lines = list(InboundLine.objects.select_for_update().filter(pk__in=line_ids).order_by("pk"))
        allocs = list(
            InboundAllocation.objects.filter(inbound_line_id__in=line_ids)
            .order_by("rank", "pk")
            .values_list("order_id", flat=True)
        )
        old_sums = _alloc_sums(lines=lines)
        InboundAllocation.objects.filter(inbound_line_id__in=line_ids).delete()
        others = {ln.pk: max(ln.quantity_promised - old_sums.get(ln.pk, 0), 0) for ln in lines}
        _promised_sync(lines=lines, others=others)
    return list(dict.fromkeys(allocs))


def products_with_inbound_plans(*, product_ids: set[int] | None = None) -> set[int]:
    """Products (of these, or all) that have an open inbound line or a standing allocation: the ones whose
    backorders can be, or were, dated."""
    open_lines = InboundLine.objects.filter(is_open=True)
    allocs = InboundAllocation.objects.all()
    if product_ids is not None:
        open_lines, allocs = open_lines.filter(product_id__in=product_ids), allocs.filter(product_id__in=product_ids)
    return set(open_lines.values_list("product_id", flat=True).distinct()) | set(
        allocs.values_list("product_id", flat=True).distinct()
    )


BOARD_GROUPS = ("product", "inbound", "date")


@dataclass(frozen=True, slots=True)
class BackorderRow:
    """One backordered piece of an order line: the units, and the inbound line they wait for (or none)."""

    sku: str
    order_id: int
    order_number: str
    line_number: int
    units: int
    inbound_number: str = ""
    location_code: str = ""
    expected_date: date | None = None


def backorders_board(*, by: str, limit: int = 2000) -> list[tuple[str, list[BackorderRow]]]:
    """The backorders screen: every backordered unit with what it waits for (an inbound line and its date,
    or nothing yet), grouped by product, by inbound shipment or by expected date. Read only."""
    if by not in BOARD_GROUPS:
        raise ValueError(f"Group by one of {', '.join(BOARD_GROUPS)}.")
    allocs = list(
        InboundAllocation.objects.select_related(
            "inbound_line__shipment", "inbound_line__location", "product"
        ).order_by("product__sku", "rank", "pk")[:limit]
    )
    waiting = list(
        OrderLine.objects.filter(order__status=Order.Status.BACKORDERED, product__isnull=False)
        .annotate(units=F("quantity") - F("quantity_allocated") - F("quantity_cancelled"))
        .filter(units__gt=0)
        .values_list("pk", "order_id", "order__number", "line_number", "product__sku", "units")[:limit]
    )
    line_of = {pk: (oid, number, line_no, sku, units) for pk, oid, number, line_no, sku, units in waiting}
    rows: list[BackorderRow] = []
    covered: dict[int, int] = defaultdict(int)
    for a in allocs:
        oid, number, line_no, _, _ = line_of.get(a.ref_id, (a.order_id, "", 0, "", 0))
        covered[a.ref_id] += a.quantity
        ln = a.inbound_line
        rows.append(
            BackorderRow(
                a.product.sku,
                oid,
                number or str(oid),
                line_no,
                a.quantity,
                ln.shipment.number,
                ln.location.code,
                ln.expected_date,
            )
        )
    for pk, (oid, number, line_no, sku, units) in line_of.items():
        if units > covered.get(pk, 0):
            rows.append(BackorderRow(sku, oid, number, line_no, units - covered.get(pk, 0)))
    key = {
        "product": lambda r: r.sku,
        "inbound": lambda r: r.inbound_number or "No inbound supply",
        "date": lambda r: r.expected_date.isoformat() if r.expected_date else "No date",
    }[by]
    groups: dict[str, list[BackorderRow]] = defaultdict(list)
    for r in sorted(rows, key=lambda r: (key(r), r.expected_date or date.max, r.order_number)):
        groups[key(r)].append(r)
    return sorted(groups.items(), key=lambda kv: (kv[0].startswith("No "), kv[0]))
