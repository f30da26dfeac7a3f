"""Reads for returns: what may still be returned, when each line's return window started, the return network
(rules, ATS, recent sales), RMA lists scoped by role, and readable return decisions."""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from common.roles import OPERATIONS, user_has_role
from fulfillment.models import FulfillmentLine, FulfillmentOrder, ShipmentLine
from inventory.models import InventoryMovement, Location, LocationKind
from orders.models import Order, OrderLine
from orders.selectors import channel_for_client
from returns.models import OPEN_STATUSES, ReturnAuthorization, ReturnLine, ReturnRoutingDecision
from routing.models import RuleSetVersion
from routing.network import CompiledRuleSet, NetworkStatic
from routing.selectors import ruleset_compiled_for, stock_state_load

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

RETURNS_RULE_SET = "returns"

_cache: dict[str, tuple[int, CompiledRuleSet]] = {}
_cache_lock = threading.Lock()


# --- Eligibility facts -------------------------------------------------------------------------------------


def open_return_quantities(*, order_line_ids: list[int], exclude_rma_id: int | None = None) -> dict[int, int]:
    """Units on open RMAs (requested, approved, in transit) per order line: promised back, not yet received."""
    qs = ReturnLine.objects.filter(order_line_id__in=order_line_ids, rma__status__in=OPEN_STATUSES)
    if exclude_rma_id is not None:
        qs = qs.exclude(rma_id=exclude_rma_id)
    return dict(qs.values_list("order_line_id").annotate(n=Sum("quantity")).values_list("order_line_id", "n"))


def returnable_quantities(*, order: Order) -> dict[int, int]:
    """Per order line: shipped − already returned − on open RMAs (never below zero)."""
    lines = list(order.lines.all())
    open_q = open_return_quantities(order_line_ids=[ln.pk for ln in lines])
    return {
        ln.pk: max(0, ln.quantity_shipped - ln.quantity_returned - open_q.get(ln.pk, 0))
        for ln in lines
        if ln.product_id is not None
    }


def return_window_starts(*, order: Order) -> dict[int, datetime]:
    """When each order line's units reached the customer: the latest delivery (or, failing that, shipping)
    time of the parcels that carried it, or the pickup handover time. Lines with no record start at the
    order's placed time (the earliest possible, so a missing record never lengthens a window)."""
    starts: dict[int, datetime] = {}
    rows = ShipmentLine.objects.filter(fulfillment_line__fulfillment_order__order=order).values_list(
        "fulfillment_line__order_line_id", "shipment__delivered_at", "shipment__shipped_at"
    )
    for line_id, delivered, shipped in rows:
        at = delivered or shipped
        if at and (line_id not in starts or at > starts[line_id]):
            starts[line_id] = at
    handed = FulfillmentLine.objects.filter(
        fulfillment_order__order=order,
        fulfillment_order__method=FulfillmentOrder.Method.PICKUP,
        fulfillment_order__picked_up_at__isnull=False,
        quantity_shipped__gt=0,
    ).values_list("order_line_id", "fulfillment_order__picked_up_at")
    for line_id, at in handed:
        if line_id not in starts or at > starts[line_id]:
            starts[line_id] = at
    for line_id in order.lines.values_list("pk", flat=True):
        starts.setdefault(line_id, order.placed_at)
    return starts


# --- The return network ------------------------------------------------------------------------------------


def returns_rule_version() -> RuleSetVersion | None:
    """The published version of the returns rule set (a routing RuleSet with code "returns")."""
    return (
        RuleSetVersion.objects.filter(rule_set__code=RETURNS_RULE_SET, status=RuleSetVersion.Status.PUBLISHED)
        .select_related("rule_set")
        .first()
    )


def returns_rules_compiled(*, static: NetworkStatic) -> CompiledRuleSet:
    """The returns rules compiled with routing's compiler, cached per routing revision (publishing a version
    or editing locations and groups bumps it, exactly as for the order rules)."""
    hit = _cache.get("rules")
    if hit is not None and hit[0] == static.revision:
        return hit[1]
    with _cache_lock:
        compiled = ruleset_compiled_for(version=returns_rule_version(), locations=static.locations)
        _cache["rules"] = (static.revision, compiled)
        return compiled


def locations_accepting_returns() -> frozenset[int]:
    return frozenset(Location.objects.filter(accepts_returns=True, is_active=True).values_list("pk", flat=True))


def recent_sales(*, product_ids: list[int], days: int, now: datetime | None = None) -> dict[int, dict[int, int]]:
    """Units that left each location per product over the last `days` days (shipped or handed over: the
    ledger's consume movements), in one grouped query."""
    since = (now or timezone.now()) - timedelta(days=days)
    rows = (
        InventoryMovement.objects.filter(
            product_id__in=product_ids, reason=InventoryMovement.Reason.CONSUME, created_at__gte=since
        )
        .values_list("product_id", "location_id")
        .annotate(n=Sum("delta_on_hand"))
        .values_list("product_id", "location_id", "n")
    )
    out: dict[int, dict[int, int]] = defaultdict(dict)
    for pid, lid, n in rows:
        if n:
            out[pid][lid] = -n
    return dict(out)


def return_network_load(*, product_ids: list[int], static: NetworkStatic, sales_days: int) -> dict:
    """ATS per product × location (after safety stock), recent sales and the locations accepting returns."""
    ats, _ = stock_state_load(product_ids=product_ids, static=static)
    return {
        "ats": ats,
        "sales": recent_sales(product_ids=product_ids, days=sales_days),
        "accepting": locations_accepting_returns(),
    }


# --- Lists and scope ---------------------------------------------------------------------------------------


def staff_store_ids(*, user: AbstractBaseUser) -> list[int]:
    """The stores a user works at; superusers every store."""
    if user.is_superuser:
        return list(Location.objects.filter(kind=LocationKind.STORE).values_list("pk", flat=True))
    return list(Location.objects.filter(staff=user).values_list("pk", flat=True))


def rmas_visible_to(*, user: AbstractBaseUser) -> QuerySet[ReturnAuthorization]:
    """Operations see every RMA; API clients their channel's; store staff the RMAs returned to their stores."""
    qs = ReturnAuthorization.objects.select_related("order", "order__customer", "order__channel", "return_location")
    if user.is_superuser or user_has_role(user=user, roles=[OPERATIONS]):
        return qs
    channel = channel_for_client(user=user)
    if channel is not None:
        return qs.filter(order__channel=channel)
    return qs.filter(return_location_id__in=staff_store_ids(user=user))


def rma_list(
    *, user: AbstractBaseUser, status: str | None = None, order_id: int | None = None
) -> QuerySet[ReturnAuthorization]:
    qs = rmas_visible_to(user=user)
    if status:
        qs = qs.filter(status=status)
    if order_id:
        qs = qs.filter(order_id=order_id)
    return qs.order_by("-created_at", "-pk")


def rma_get(*, number: str) -> ReturnAuthorization:
    """One RMA with its lines (DoesNotExist when unknown); scope is checked by the caller or the service."""
    return (
        ReturnAuthorization.objects.select_related("order", "order__customer", "order__channel", "return_location")
        .prefetch_related("lines__order_line", "lines__product")
        .get(number=number)
    )


def rma_search(*, query: str, user: AbstractBaseUser, limit: int = 20) -> list[ReturnAuthorization]:
    """RMAs by RMA number, order number or customer email, among those the user may see (a store's staff:
    their stores' returns only, so a search never shows another store's return or its customer)."""
    q = query.strip()
    if not q:
        return []
    cond = Q(number__iexact=q) | Q(order__number__iexact=q) | Q(order__customer__email__iexact=q)
    return list(rmas_visible_to(user=user).filter(cond).order_by("-created_at")[:limit])


RETURNABLE_ORDER_STATUSES = (
    Order.Status.PARTIALLY_SHIPPED,
    Order.Status.SHIPPED,
    Order.Status.DELIVERED,
    Order.Status.PARTIALLY_RETURNED,
)


def orders_for_return(*, query: str, limit: int = 10) -> list[Order]:
    """Orders a customer might bring back, by order number or customer email (shipped or delivered). For
    Operations, who see every order; store staff find an order with `order_for_counter_return`."""
    q = query.strip()
    if not q:
        return []
    return list(
        Order.objects.select_related("customer", "channel")
        .filter(Q(number__iexact=q) | Q(customer__email__iexact=q))
        .filter(status__in=RETURNABLE_ORDER_STATUSES)
        .order_by("-placed_at")[:limit]
    )


def postal_code_normalised(*, value: str) -> str:
    """A postal code compared the way a counter clerk would: case, spaces and hyphens do not matter."""
    return "".join(ch for ch in str(value or "").upper() if ch.isalnum())


def order_for_counter_return(*, number: str, proof: str) -> Order | None:
    """The returnable order with this number whose customer's e-mail, or whose shipping or billing postal
    code, is `proof` (e-mail compared case-insensitively, postal codes normalised). None for an unknown
    number and for a wrong or missing proof alike, so the answer never tells which one was wrong."""
    number, proof = (number or "").strip(), (proof or "").strip()
    if not number or not proof:
        return None
    order = (
        Order.objects.select_related("customer", "channel")
        .filter(number__iexact=number, status__in=RETURNABLE_ORDER_STATUSES)
        .first()
    )
    if order is None:
        return None
    email = (order.customer.email if order.customer_id else "") or ""
    if email and email.casefold() == proof.casefold():
        return order
    wanted = postal_code_normalised(value=proof)
    postcodes = {
        postal_code_normalised(value=address.get("postal_code") or address.get("zip") or "")
        for address in (order.shipping_address, order.billing_address)
        if isinstance(address, dict)
    }
    return order if wanted and wanted in postcodes else None


def order_lines_for_return(*, order: Order) -> list[dict]:
    """The order's lines with how many units may still come back, for the create-return forms."""
    can = returnable_quantities(order=order)
    return [
        {"line": ln, "returnable": can.get(ln.pk, 0)}
        for ln in OrderLine.objects.filter(order=order).select_related("product").order_by("line_number")
    ]


def returns_awaiting(*, location_ids: list[int] | None = None) -> QuerySet[ReturnAuthorization]:
    qs = ReturnAuthorization.objects.filter(status__in=OPEN_STATUSES)
    if location_ids is not None:
        qs = qs.filter(return_location_id__in=location_ids)
    return qs


def decision_explain(*, decision: ReturnRoutingDecision | None) -> dict | None:
    """A return decision for templates and the API, with location codes filled in."""
    if decision is None:
        return None
    ids = {i for v in decision.excluded.values() for i in v}
    codes = dict(Location.objects.filter(pk__in=ids).values_list("pk", "code"))
    return {
        "id": decision.pk,
        "method": decision.method,
        "location": decision.location.code if decision.location_id else None,
        "rule_set_version": str(decision.rule_set_version) if decision.rule_set_version_id else None,
        "rules_fired": decision.rules_fired,
        "candidates": decision.candidates,
        "excluded": [
            {"reason": reason, "locations": sorted(codes.get(i, str(i)) for i in loc_ids)}
            for reason, loc_ids in sorted(decision.excluded.items())
        ],
        "notes": decision.notes,
        "cost": float(decision.cost),
        "created_at": decision.created_at,
    }


def decision_latest(*, rma: ReturnAuthorization) -> ReturnRoutingDecision | None:
    return rma.routing_decisions.select_related("location", "rule_set_version__rule_set").order_by("-pk").first()


def rmas_of_customer(*, customer_id: int, limit: int = 50) -> QuerySet[ReturnAuthorization]:
    """A customer's returns, newest first (the customer page of Operations)."""
    return (
        ReturnAuthorization.objects.filter(order__customer_id=customer_id)
        .select_related("order", "return_location")
        .order_by("-created_at", "-pk")[:limit]
    )
