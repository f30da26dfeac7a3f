"""Reads for fulfilment: what a user may see, store queues, handover search, same-day candidates."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Case, Count, Exists, IntegerField, OuterRef, Q, QuerySet, Value, When
from django.utils import timezone

from common.geo import haversine_km, zip_centroid
from common.roles import OPERATIONS, user_has_role
from fulfillment.carriers import CarrierService, carrier_services
from fulfillment.models import (
    CancelRequest,
    FulfillmentLine,
    FulfillmentOrder,
    RejectionReason,
    Shipment,
    StoreSettings,
)
from inventory.models import Location, LocationKind, Product, StockLevel
from inventory.selectors import ats_for_products

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

S = FulfillmentOrder.Status
M = FulfillmentOrder.Method


def carrier_service_find(*, code: str) -> CarrierService | None:
    """The carrier service with this code (built in or configured), None when there is none."""
    return carrier_services().get(code)


def staff_stores(*, user: AbstractBaseUser) -> QuerySet[Location]:
    """The stores a user works at (`Location.staff`); superusers see every store."""
    if user.is_superuser:
        return Location.objects.filter(kind=LocationKind.STORE, is_active=True)
    return Location.objects.filter(staff=user, is_active=True)


def fulfillment_orders_visible_to(*, user: AbstractBaseUser) -> QuerySet[FulfillmentOrder]:
    """Fulfilment orders a user may see: operations all; everyone else only their own locations' work,
    plus transfers heading to one of their stores."""
    qs = FulfillmentOrder.objects.all()
    if user.is_superuser or user_has_role(user=user, roles=[OPERATIONS]):
        return qs
    mine = Location.objects.filter(staff=user).values("pk")
    return qs.filter(Q(location__in=mine) | Q(method=M.TRANSFER, order__pickup_location__in=mine))


# Tabs of the store queue: (key, label, method, statuses).
TABS = [
    ("pickup_open", "Pickup · Open", M.PICKUP, [S.CREATED, S.PICKING]),
    ("pickup_ready", "Pickup · Ready", M.PICKUP, [S.READY_FOR_PICKUP]),
    ("pickup_done", "Pickup · Completed", M.PICKUP, [S.PICKED_UP]),
    ("ship_open", "Ship · Open", None, [S.CREATED, S.RELEASED]),
    ("ship_picking", "Ship · In progress", None, [S.PICKING]),
    ("ship_packed", "Ship · Packed", None, [S.PACKED]),
    ("ship_shipped", "Ship · Shipped", None, [S.SHIPPED, S.DELIVERED]),
]
SHIP_METHODS = [M.SHIP, M.SAME_DAY]
DONE_RECENT_DAYS = 2


@dataclass
class CardLine:
    sku: str
    name: str
    quantity: int
    picked: int
    short: int
    open: int
    store_on_hand: int
    handling_class: str
    image_url: str = ""


@dataclass
class Card:
    fo: FulfillmentOrder
    customer: str
    deadline: datetime | None
    late: bool
    handling: list[str]
    lines: list[CardLine] = field(default_factory=list)
    here: bool = False  # the customer checked in and waits at the store

    @property
    def age(self) -> timedelta:
        return timezone.now() - self.fo.created_at


def _tab_filter(key: str) -> Q:
    for k, _label, method, statuses in TABS:
        if k == key:
            q = Q(status__in=statuses) & (Q(method=method) if method else Q(method__in=SHIP_METHODS))
            if k in ("pickup_done", "ship_shipped"):
                q &= Q(updated_at__gte=timezone.now() - timedelta(days=DONE_RECENT_DAYS))
            return q
    raise ValueError(f"Unknown tab {key!r}")


def store_queue_counts(*, location: Location) -> dict[str, int]:
    """How many fulfilment orders sit in each tab of the store's queue, and how many customers checked in
    and wait ("here"), in one query."""
    qs = FulfillmentOrder.objects.filter(location=location)
    return qs.aggregate(
        **{k: Count("pk", filter=_tab_filter(k)) for k, *_ in TABS},
        here=Count("pk", filter=_WAITING_CUSTOMER & Q(method=M.PICKUP)),
    )


def _search(qs: QuerySet[FulfillmentOrder], query: str) -> QuerySet[FulfillmentOrder]:
    query = (query or "").strip()
    if not query:
        return qs
    return qs.filter(
        Q(order__number__icontains=query)
        | Q(order__customer__name__icontains=query)
        | Q(order__customer__email__icontains=query)
        | Q(order__customer__phone__icontains=query)
        | Q(pickup_code__iexact=query)
        | Q(collected_by_name__icontains=query)
        | Q(lines__order_line__sku__iexact=query)
        | Q(lines__order_line__product__name__icontains=query)
    ).distinct()


# A customer who checked in ("I'm here") on a pickup still to hand over: their card goes first.
_WAITING_CUSTOMER = Q(
    customer_arrived_at__isnull=False, status__in=[S.CREATED, S.RELEASED, S.PICKING, S.READY_FOR_PICKUP]
)


def store_queue(*, location: Location, tab: str, query: str = "", limit: int = 100) -> list[Card]:
    """The cards of one tab: customers who said "I'm here" first (earliest arrival first), then orders whose
    cancellation is asked of the store (`fo.cancel_asked`), then most urgent
    (higher order priority, then the earliest deadline, then the oldest), with each line's quantity and the
    store's stock."""
    qs = (
        _search(FulfillmentOrder.objects.filter(location=location).filter(_tab_filter(tab)), query)
        .select_related("order", "order__customer")
        .prefetch_related("lines__order_line__product")
        .annotate(here=Case(When(_WAITING_CUSTOMER, then=Value(0)), default=Value(1), output_field=IntegerField()))
        .annotate(
            cancel_asked=Exists(
                CancelRequest.objects.filter(fulfillment_order=OuterRef("pk"), status=CancelRequest.Status.REQUESTED)
            )
        )
        .order_by(
            "here",
            "-cancel_asked",
            "customer_arrived_at",
            "-order__priority",
            "pickup_by",
            "ship_by",
            "created_at",
            "pk",
        )[:limit]
    )
    fos = list(qs)
    product_ids = {ln.order_line.product_id for fo in fos for ln in fo.lines.all() if ln.order_line.product_id}
    on_hand = dict(
        StockLevel.objects.filter(location=location, product_id__in=product_ids).values_list("product_id", "on_hand")
    )
    now = timezone.now()
    cards = []
    for fo in fos:
        deadline = fo.pickup_by if fo.method == M.PICKUP and fo.pickup_by else fo.ship_by
        lines = [
            CardLine(
                sku=ln.order_line.sku,
                name=ln.order_line.product.name if ln.order_line.product else "",
                quantity=ln.quantity,
                picked=ln.quantity_picked,
                short=ln.quantity_short,
                open=ln.quantity_open,
                store_on_hand=on_hand.get(ln.order_line.product_id, 0),
                handling_class=ln.order_line.product.handling_class if ln.order_line.product else "ambient",
                image_url=ln.order_line.product.image_url if ln.order_line.product else "",
            )
            for ln in fo.lines.all()
        ]
        cards.append(
            Card(
                fo=fo,
                customer=(fo.order.customer.name or fo.order.customer.email)
                if fo.order.customer_id
                else fo.order.number,
                deadline=deadline,
                late=bool(deadline and deadline < now and fo.status not in (S.PICKED_UP, S.SHIPPED, S.DELIVERED)),
                here=fo.here == 0,
                handling=sorted({cl.handling_class for cl in lines if cl.handling_class != "ambient"}),
                lines=lines,
            )
        )
    return cards


def store_incoming_transfers(*, location: Location) -> QuerySet[FulfillmentOrder]:
    """Ship-to-store parcels on their way to (or just received at) this store."""
    return (
        FulfillmentOrder.objects.filter(method=M.TRANSFER, order__pickup_location=location, status=S.IN_TRANSIT)
        .select_related("order", "order__customer", "location")
        .prefetch_related("lines__order_line", "shipments")
        .order_by("created_at")
    )


def store_handoff_shipments(*, location: Location) -> QuerySet[Shipment]:
    """Shipped packages still waiting for the carrier to collect them."""
    return (
        Shipment.objects.filter(
            fulfillment_order__location=location, shipped_at__isnull=False, handed_off_at__isnull=True
        )
        .select_related("fulfillment_order__order")
        .order_by("carrier", "shipped_at")
    )


def store_released_today(*, location: Location, now: datetime | None = None) -> QuerySet[FulfillmentOrder]:
    """No-show pickups cancelled today (store's local day): their stock went back on sale."""
    now = now or timezone.now()
    tz = ZoneInfo(location.timezone)
    start = datetime.combine(now.astimezone(tz).date(), time.min, tzinfo=tz)
    return (
        FulfillmentOrder.objects.filter(location=location, status=S.EXPIRED, expired_at__gte=start)
        .select_related("order", "order__customer")
        .prefetch_related("lines__order_line")
    )


def handover_search(*, location: Location, query: str) -> list[FulfillmentOrder]:
    """Ready pickups at this store matching an order number, pickup code, or the customer's name, phone or
    email."""
    qs = FulfillmentOrder.objects.filter(location=location, status=S.READY_FOR_PICKUP)
    if not (query or "").strip():
        return []
    return list(_search(qs, query).select_related("order", "order__customer")[:20])


def store_settings_of(*, location: Location) -> StoreSettings:
    """The store's settings, or unsaved defaults when none were saved yet."""
    return StoreSettings.objects.filter(location=location).first() or StoreSettings(
        location=location,
        pickup_hold_days=settings.DOM["PICKUP_HOLD_DAYS"],
        reminder_days_before=settings.DOM["PICKUP_REMINDER_DAYS_BEFORE"],
    )


def rejection_reasons() -> list[RejectionReason]:
    return list(RejectionReason.objects.filter(is_active=True))


def same_day_locations(*, postal_code: str, now: datetime | None = None) -> list[tuple[Location, float]]:
    """Locations that can still deliver today to a US ZIP: same-day capable, within the configured radius,
    and before their local cut-off. Nearest first, with the distance in km."""
    origin = zip_centroid(postal_code=postal_code)
    if origin is None:
        return []
    now = now or timezone.now()
    radius = float(settings.DOM["SAME_DAY_RADIUS_KM"])
    found = []
    for loc in Location.objects.filter(is_active=True, can_same_day=True, latitude__isnull=False):
        d = haversine_km(origin[0], origin[1], loc.latitude, loc.longitude)
        if d > radius:
            continue
        local_now = now.astimezone(ZoneInfo(loc.timezone))
        cutoff = loc.cutoff_time if isinstance(loc.cutoff_time, time) else time.fromisoformat(str(loc.cutoff_time))
        if local_now.time() >= cutoff:
            continue
        found.append((loc, round(d, 1)))
    found.sort(key=lambda x: (x[1], x[0].code))
    return found


def fulfillment_order_timeline(*, fo: FulfillmentOrder) -> list:
    """The customer order's timeline events that concern this fulfilment order (newest last)."""
    return [e for e in fo.order.events.order_by("created_at", "pk") if e.data.get("fulfillment_order") in (fo.pk, None)]


# --- Words for the store screens: what a short pick does to stock, what happened to each line -------------

_REROUTED_AWAY = (S.REJECTED, S.CANCELLED, S.EXPIRED)


def short_pick_effect(*, line: FulfillmentLine, reason: RejectionReason, quantity: int) -> str:
    """What reporting `quantity` units of `line` short for `reason` does to stock, in the clerk's words,
    computed as `fulfillment.services` will apply it (the units are released first, then the effect)."""
    fo = line.fulfillment_order
    sku, where = line.order_line.sku, fo.location.code
    units = "the unit is" if quantity == 1 else f"the {quantity} units are"
    reroute = f"{units} re-routed to another location"
    level = (
        StockLevel.objects.filter(product_id=line.order_line.product_id, location=fo.location).first()
        if line.order_line.product_id
        else None
    )
    if reason.stock_effect == RejectionReason.StockEffect.NONE or level is None:
        return f"No stock change at {where}; {reroute}."
    if reason.stock_effect == RejectionReason.StockEffect.ZERO:
        target = min(level.on_hand, max(level.reserved - quantity, 0))
        held = f" ({target} still held for orders here)" if target else ""
        if target == level.on_hand:
            return f"On hand of {sku} at {where} stays {level.on_hand}{held}; {reroute}."
        return f"Sets on hand of {sku} at {where} from {level.on_hand} to {target}{held}; {reroute}."
    target = level.on_hand - min(quantity, level.on_hand)
    how = " (written off as damaged)" if reason.stock_effect == RejectionReason.StockEffect.DAMAGED else ""
    return f"Lowers on hand of {sku} at {where} from {level.on_hand} to {target}{how}; {reroute}."


def _units(n: int) -> str:
    return f"{n} unit{'s' if n != 1 else ''}"


def _rerouted_to(line: FulfillmentLine) -> list[FulfillmentLine]:
    """Later fulfilment lines of the same order line elsewhere: where short units went."""
    fo = line.fulfillment_order
    return list(
        FulfillmentLine.objects.filter(
            order_line_id=line.order_line_id, fulfillment_order__created_at__gte=fo.created_at
        )
        .exclude(fulfillment_order=fo)
        .exclude(fulfillment_order__status__in=_REROUTED_AWAY)
        .select_related("fulfillment_order__location")
        .order_by("fulfillment_order__created_at", "pk")
    )


def fulfillment_line_outcomes(*, fo: FulfillmentOrder, lines: list[FulfillmentLine]) -> dict[int, list[str]]:
    """For each line, in words, what happened to its units: picked, handed over or shipped, reported short
    (and where they were re-routed), not collected."""
    labels = dict(RejectionReason.objects.values_list("code", "label"))
    outcomes: dict[int, list[str]] = {}
    for ln in lines:
        said: list[str] = []
        if ln.quantity_shipped:
            said.append(
                f"{_units(ln.quantity_shipped)} handed over"
                + (f" to {fo.collected_by_name}" if fo.collected_by_name else "")
                if fo.method == M.PICKUP
                else f"{_units(ln.quantity_shipped)} shipped"
            )
        elif ln.quantity_picked and fo.status in (S.CREATED, S.RELEASED, S.PICKING, S.PACKED, S.READY_FOR_PICKUP):
            said.append(f"{_units(ln.quantity_picked)} picked")
        if ln.quantity_open and fo.status in (S.CREATED, S.RELEASED, S.PICKING):
            said.append(f"{_units(ln.quantity_open)} still to pick")
        if ln.quantity_short:
            reason = labels.get(ln.short_reason, "reported short")
            moved = _rerouted_to(ln)
            if moved:
                where = ", ".join(
                    f"{m.fulfillment_order.location.name} ({m.fulfillment_order.get_method_display().lower()}, "
                    f"{m.fulfillment_order.get_status_display().lower()})"
                    for m in moved
                )
                said.append(f"{_units(ln.quantity_short)} reported short ({reason}): re-routed to {where}")
            else:
                said.append(f"{_units(ln.quantity_short)} reported short ({reason}): waiting for a new location")
        if ln.quantity_cancelled:
            why = "not collected by the pickup date" if fo.status == S.EXPIRED else "not taken"
            said.append(f"{_units(ln.quantity_cancelled)} {why}: cancelled and back on sale")
        outcomes[ln.pk] = said
    return outcomes


def orders_holding_stock(*, pairs: list[tuple[int, int]]) -> dict[tuple[int, int], list[tuple[int, str]]]:
    """For (product_id, location_id) pairs: the orders whose open, unpicked fulfilment lines hold that
    product there (id, number), newest first: the orders a shortage at that location affects."""
    from orders.models import OrderLine

    if not pairs:
        return {}
    wanted = set(pairs)
    rows = (
        FulfillmentLine.objects.filter(
            fulfillment_order__location_id__in={loc for _, loc in wanted},
            order_line__product_id__in={p for p, _ in wanted},
            fulfillment_order__status__in=[FulfillmentOrder.Status.CREATED, FulfillmentOrder.Status.RELEASED],
            quantity_picked=0,
        )
        .order_by("-fulfillment_order__created_at")
        .values_list("order_line__product_id", "fulfillment_order__location_id", "order_line__order_id")
    )
    ids = {(p, loc): [] for p, loc in wanted}
    for p, loc, oid in rows:
        if (p, loc) in ids and oid not in ids[(p, loc)]:
            ids[(p, loc)].append(oid)
    numbers = dict(
        OrderLine.objects.filter(order_id__in={o for v in ids.values() for o in v})
        .values_list("order_id", "order__number")
        .distinct()
    )
    return {k: [(o, numbers.get(o, str(o))) for o in v] for k, v in ids.items()}


# --- Stock lookup across nearby stores (store staff, read-only) --------------------------------------------

LOOKUP_NEARBY_STORES = 5


@dataclass(frozen=True)
class StoreStock:
    """One store's stock of a product as the lookup screen shows it."""

    location: Location
    on_hand: int
    available: int
    distance_km: float | None  # from the clerk's store; None for the store itself or without coordinates
    own: bool


def products_search(*, query: str, limit: int = 20) -> list[Product]:
    """Active products whose SKU is `query` (first) or whose SKU or name contains it."""
    query = (query or "").strip()[:100]
    if not query:
        return []
    exact = list(Product.objects.filter(sku__iexact=query, is_active=True))
    rest = (
        Product.objects.filter(Q(sku__icontains=query) | Q(name__icontains=query), is_active=True)
        .exclude(pk__in=[p.pk for p in exact])
        .order_by("sku")[: max(0, limit - len(exact))]
    )
    return exact + list(rest)


def store_stock_nearby(*, product: Product, location: Location, limit: int = LOOKUP_NEARBY_STORES) -> list[StoreStock]:
    """The product's on hand and available (ATS, after reservations and safety stock) at `location` and at
    the `limit` nearest other active stores, nearest first (stores without coordinates last)."""
    stores = list(Location.objects.filter(kind=LocationKind.STORE, is_active=True).exclude(pk=location.pk))

    def distance(other: Location) -> float | None:
        if None in (location.latitude, location.longitude, other.latitude, other.longitude):
            return None
        return round(haversine_km(location.latitude, location.longitude, other.latitude, other.longitude), 1)

    ranked = sorted(((s, distance(s)) for s in stores), key=lambda x: (x[1] is None, x[1] or 0.0, x[0].code))[:limit]
    wanted = [location, *(s for s, _ in ranked)]
    on_hand = dict(
        StockLevel.objects.filter(product=product, location__in=wanted).values_list("location_id", "on_hand")
    )
    ats = ats_for_products(product_ids=[product.pk], location_ids=[w.pk for w in wanted]).get(product.pk)
    available = {la.location_id: la.available for la in (ats.locations if ats else [])}
    rows = [StoreStock(location, on_hand.get(location.pk, 0), available.get(location.pk, 0), None, True)]
    rows += [StoreStock(s, on_hand.get(s.pk, 0), available.get(s.pk, 0), d, False) for s, d in ranked]
    return rows


def store_count_lines(*, location: Location, skus: list[str]) -> tuple[list[tuple[Product, int]], list[str]]:
    """For a cycle count at `location`: each known SKU (in the order given, once) with its on hand now, and
    the SKUs that are not products."""
    wanted = list(dict.fromkeys(s.strip() for s in skus if s and s.strip()))
    by_sku = {p.sku.lower(): p for p in Product.objects.filter(sku__in=wanted)}
    for p in Product.objects.filter(
        Q(*[Q(sku__iexact=s) for s in wanted if s.lower() not in by_sku], _connector=Q.OR)
        if any(s.lower() not in by_sku for s in wanted)
        else Q(pk__in=[])
    ):
        by_sku[p.sku.lower()] = p
    on_hand = dict(
        StockLevel.objects.filter(location=location, product__in=by_sku.values()).values_list("product_id", "on_hand")
    )
    found, missing, seen = [], [], set()
    for s in wanted:
        p = by_sku.get(s.lower())
        if p is None:
            missing.append(s)
        elif p.pk not in seen:
            seen.add(p.pk)
            found.append((p, on_hand.get(p.pk, 0)))
    return found, missing


def store_pick_outcomes(*, since: datetime) -> dict[int, tuple[int, int]]:
    """Per store, over its fulfilment work created since `since`: (units picked, units reported short) — what
    routing learns each store's pick-failure rate from. Stores without such work are absent."""
    from django.db.models import Sum

    rows = (
        FulfillmentLine.objects.filter(
            fulfillment_order__location__kind=LocationKind.STORE, fulfillment_order__created_at__gte=since
        )
        .exclude(fulfillment_order__method=M.TRANSFER)
        .values_list("fulfillment_order__location_id")
        .annotate(picked=Sum("quantity_picked"), short=Sum("quantity_short"))
        .order_by()
    )
    return {loc: (int(picked or 0), int(short or 0)) for loc, picked, short in rows}
