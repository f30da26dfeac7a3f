"""Reads for routing: the cached network (rules, rates, locations), order views, stock and capacity
snapshots, readable decisions and the storefront delivery promise."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.utils import timezone

from common.calendar import WorkCalendar
from common.geo import zip_centroid, zip_state
from inventory.models import ChannelAllocation, Location, LocationGroup, Product
from inventory.selectors import SafetyStock, channel_pool_caps, location_closures, sql_in_list
from orders.models import Channel, Order, OrderLine
from routing.core import (
    CANDIDATE_COLUMNS,
    LineView,
    LocationView,
    NetworkState,
    NetworkStatic,
    OrderView,
    promise_options,
)
from routing.costs import DEFAULT_RATES, SPLIT_PENALTY_DEFAULT, RateBand, ServiceRates
from routing.models import (
    CarrierService,
    LocationCapacity,
    RoutingDecision,
    RoutingRule,
    RoutingSettings,
    RuleSetVersion,
)
from routing.rules import CompiledRuleSet, Resolver, ruleset_compile

_cache: dict[str, NetworkStatic] = {}
_cache_lock = threading.Lock()


def ids_in(ids: Iterable[int]) -> list[int] | RawSQL:
    """The right-hand side of an `__in` lookup over many ids. PostgreSQL gets one array parameter: with
    client-side binding psycopg renders a query of thousands of placeholders value by value in Python."""
    ids = list(ids)
    if connection.vendor == "postgresql":
        return RawSQL("SELECT unnest(%s::bigint[])", (ids,))
    return ids


def routing_revision() -> int:
    """The counter every change to rules, rates or locations bumps (one tiny indexed read)."""
    return RoutingSettings.objects.filter(pk=1).values_list("revision", flat=True).first() or 0


def routing_settings() -> RoutingSettings:
    return RoutingSettings.objects.filter(pk=1).first() or RoutingSettings(pk=1)


def rates_load() -> dict[str, ServiceRates]:
    """The rate tables from the database (admin-editable); the shipped defaults for service levels without one."""
    rates = dict(DEFAULT_RATES)
    for svc in CarrierService.objects.prefetch_related("bands"):
        bands = sorted(svc.bands.all(), key=lambda b: (b.max_km is None, b.max_km or 0))
        if bands:
            rates[svc.service_level] = ServiceRates(
                service_level=svc.service_level,
                bands=tuple(RateBand(b.max_km, float(b.base), float(b.per_kg), b.transit_days) for b in bands),
                max_km=svc.max_km,
            )
    return rates


def ruleset_published() -> RuleSetVersion | None:
    """The published version of the active rule set, if any."""
    return (
        RuleSetVersion.objects.filter(rule_set__is_active=True, status=RuleSetVersion.Status.PUBLISHED)
        .select_related("rule_set")
        .first()
    )


def ruleset_compiled_for(*, version: RuleSetVersion | None, locations: dict[int, LocationView]) -> CompiledRuleSet:
    groups: dict[str, set[int]] = defaultdict(set)
    for code, loc_id in LocationGroup.locations.through.objects.values_list("locationgroup__code", "location_id"):
        groups[code].add(loc_id)
    resolver = Resolver(
        location_ids={loc.code: loc.id for loc in locations.values()},
        group_members={k: frozenset(v) for k, v in groups.items()},
    )
    if version is None:
        return ruleset_compile(version_id=None, label="no published rules", rules=[], resolver=resolver)
    rows = RoutingRule.objects.filter(version=version, enabled=True).values_list(
        "pk", "name", "priority", "conditions", "action"
    )
    return ruleset_compile(version_id=version.pk, label=str(version), rules=list(rows), resolver=resolver)


def _location_calendars(rows: list[tuple]) -> dict[int, WorkCalendar]:
    """Each location's working-day calendar: its country and state (from its ZIP when the state is blank) and
    its closures. Equal calendars are one shared object, so per-order memos keyed on it stay small."""
    closures = location_closures()
    shared: dict[WorkCalendar, WorkCalendar] = {}
    out = {}
    for pk, country_code, region_code, postal in rows:
        country = (country_code or "US").upper()
        region = region_code or ""
        if not region and country == "US" and postal:
            region = zip_state(postal_code=postal) or ""
        cal = WorkCalendar(country=country, subdivision=region.upper(), closures=closures.get(pk, frozenset()))
        out[pk] = shared.setdefault(cal, cal)
    return out


def locations_load() -> dict[int, LocationView]:
    rows = Location.objects.values_list(
        "pk",
        "code",
        "kind",
        "latitude",
        "longitude",
        "timezone",
        "cutoff_time",
        "handling_classes",
        "is_active",
        "can_ship",
        "can_pickup",
        "can_same_day",
        "sell_online",
        "handling_cost_per_order",
        "handling_cost_per_unit",
        "daily_capacity",
        "country",
        "region",
        "postal_code",
    )
    rows = list(rows)
    calendars = _location_calendars([(r[0], r[16], r[17], r[18]) for r in rows])
    return {
        r[0]: LocationView(
            id=r[0],
            code=r[1],
            kind=r[2],
            latitude=r[3],
            longitude=r[4],
            timezone=r[5] or "America/New_York",
            cutoff=r[6],
            handling_classes=frozenset(r[7] or ()),
            is_active=r[8],
            can_ship=r[9],
            can_pickup=r[10],
            can_same_day=r[11],
            sell_online=r[12],
            handling_per_order=float(r[13]),
            handling_per_unit=float(r[14]),
            daily_capacity=r[15],
            country=r[16],
            calendar=calendars[r[0]],
        )
        for r in rows
    }


def network_static(*, revision: int | None = None) -> NetworkStatic:
    """Rules, rates and locations, compiled once per process and rebuilt when the revision moves (any
    process that publishes rules or edits rates or locations bumps it, so every process sees the change
    on its next routing)."""
    rev = routing_revision() if revision is None else revision
    cached = _cache.get("static")
    if cached is not None and cached.revision == rev:
        return cached
    with _cache_lock:
        cached = _cache.get("static")
        if cached is not None and cached.revision == rev:
            return cached
        settings_row = routing_settings()
        locations = locations_load()
        static = NetworkStatic(
            revision=rev,
            locations=locations,
            rates=rates_load(),
            split_penalty=float(settings_row.split_penalty if settings_row.pk else SPLIT_PENALTY_DEFAULT),
            late_penalty=float(settings_row.late_penalty),
            pickup_ready_hours=settings_row.pickup_ready_hours,
            rules=ruleset_compiled_for(version=ruleset_published(), locations=locations),
        )
        _cache["static"] = static
        return static


# ---------------------------------------------------------------------------------------------------------
# Orders as the core sees them


def _address_point(address: dict) -> tuple[str, str, str, float | None, float | None]:
    postal = str(address.get("postal_code") or address.get("zip") or "").strip()
    country = str(address.get("country") or address.get("country_code") or "US").upper()[:2]
    region = str(address.get("region") or address.get("state") or address.get("province_code") or "")
    lat, lon = address.get("latitude"), address.get("longitude")
    if (lat is None or lon is None) and country == "US" and postal:
        c = zip_centroid(postal_code=postal)
        if c:
            lat, lon = c
    if not region and country == "US" and postal:
        region = zip_state(postal_code=postal) or ""
    return postal, country, region, (float(lat) if lat is not None else None), (float(lon) if lon is not None else None)


def order_views_load(
    *, order_ids: list[int], now: datetime | None = None, quantities: dict[int, int] | None = None
) -> dict[int, OrderView]:
    """Order views for the core, in two queries. `quantities` ({line id: units}) narrows the lines
    (re-routing); otherwise each line asks for what is not yet allocated, cancelled or shipped."""
    now = now or timezone.now()
    orders = Order.objects.filter(pk__in=ids_in(order_ids)).values_list(
        "pk",
        "channel__code",
        "channel__kind",
        "fulfillment_method",
        "service_level",
        "total",
        "customer__loyalty_tier",
        "shipping_address",
        "promised_delivery_date",
        "placed_at",
        "pickup_location_id",
    )
    lines_by_order: dict[int, list[LineView]] = defaultdict(list)
    line_rows = OrderLine.objects.filter(order_id__in=ids_in(order_ids)).values_list(
        "pk",
        "order_id",
        "product_id",
        "sku",
        "quantity",
        "quantity_allocated",
        "quantity_cancelled",
        "product__handling_class",
        "product__weight_grams",
    )
    for pk, oid, pid, sku, qty, alloc, cancelled, hclass, grams in line_rows.order_by("order_id", "line_number"):
        want = quantities.get(pk, 0) if quantities is not None else qty - alloc - cancelled
        if want <= 0 or pid is None:
            continue
        lines_by_order[oid].append(LineView(pk, pid, sku, want, hclass, (grams or 0) / 1000.0))
    views = {}
    for pk, ch, kind, method, svc, total, tier, addr, promised, placed_at, pickup_id in orders:
        postal, country, region, lat, lon = _address_point(addr or {})
        views[pk] = OrderView(
            id=pk,
            channel=ch,
            channel_online=kind != Channel.Kind.POS,
            method=method,
            service_level=svc,
            total=float(total or 0),
            customer_tier=tier or "standard",
            country=country,
            region=region,
            postal_code=postal,
            latitude=lat,
            longitude=lon,
            clock=max(now, placed_at),
            promise=promised,
            placed_at=placed_at,
            pickup_location_id=pickup_id,
            lines=tuple(lines_by_order.get(pk, ())),
        )
    return views


# ---------------------------------------------------------------------------------------------------------
# Stock and capacity snapshots


def stock_state_load(
    *, product_ids: list[int], static: NetworkStatic, lock: bool = False
) -> tuple[dict[int, dict[int, int]], list[int]]:
    """ATS per product × location (after safety stock; only positive figures) in one query, plus the stock
    row ids read. With `lock` the rows are locked in primary-key order (callers run in a transaction)."""
    if not product_ids:
        return {}, []
    # Raw SQL: this read runs once per routing batch over tens of thousands of rows.
    where, params = sql_in_list("product_id", product_ids)
    sql = f"SELECT id, product_id, location_id, on_hand, reserved FROM inventory_stocklevel WHERE {where}"
    if lock:
        sql += " ORDER BY id" + (" FOR UPDATE" if connection.features.has_select_for_update else "")
    else:
        sql += " AND on_hand > reserved"
    with connection.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    safety = SafetyStock(product_ids=product_ids).quantity
    kinds = {loc.id: loc.kind for loc in static.locations.values()}
    stock: dict[int, dict[int, int]] = {pid: {} for pid in product_ids}
    pks = []
    for pk, pid, lid, on_hand, reserved in rows:
        pks.append(pk)
        kind = kinds.get(lid)
        if kind is None:
            continue
        a = on_hand - reserved - safety(product_id=pid, location_id=lid, kind=kind)
        if a > 0:
            stock[pid][lid] = a
    return stock, pks


def pools_load(
    *, channel_codes: set[str], stock: dict[int, dict[int, int]], static: NetworkStatic
) -> dict[str, dict[int, int]]:
    """Units each channel may still sell per product, for channels with allocation pools (others absent)."""
    with_pools = set(
        ChannelAllocation.objects.filter(channel__code__in=channel_codes).values_list("channel__code", flat=True)
    )
    result: dict[str, dict[int, int]] = {}
    for code in with_pools:
        channel = Channel.objects.get(code=code)
        online = channel.kind != Channel.Kind.POS
        network = {
            pid: sum(
                a
                for lid, a in at.items()
                if static.locations[lid].is_active and (static.locations[lid].sell_online or not online)
            )
            for pid, at in stock.items()
        }
        result[code] = channel_pool_caps(channel=channel, product_ids=list(stock), network_ats=network)
    return result


def capacity_load(*, days_from: date, days_to: date) -> tuple[dict[tuple[int, date], int], dict]:
    """Capacity used and limits per (location, day) for a range of days (rows that exist)."""
    used, limit = {}, {}
    for lid, day, cap, u in LocationCapacity.objects.filter(day__gte=days_from, day__lte=days_to).values_list(
        "location_id", "day", "capacity", "used"
    ):
        used[(lid, day)] = u
        limit[(lid, day)] = cap
    return used, limit


def network_state_load(
    *, product_ids: list[int], static: NetworkStatic, clock: datetime, lock: bool = False
) -> tuple[NetworkState, list[int]]:
    stock, pks = stock_state_load(product_ids=product_ids, static=static, lock=lock)
    d = clock.date()
    used, limit = capacity_load(days_from=d - timedelta(days=1), days_to=d + timedelta(days=10))
    return NetworkState(stock=stock, capacity_used=used, capacity_limit=limit), pks


# ---------------------------------------------------------------------------------------------------------
# Decisions, readably


def decision_latest(*, order_id: int) -> RoutingDecision | None:
    return RoutingDecision.objects.filter(order_id=order_id).order_by("-id").first()


def decisions_of_order(*, order_id: int, limit: int = 20) -> list[RoutingDecision]:
    """An order's routing decisions, newest first (a re-route adds one)."""
    return list(RoutingDecision.objects.filter(order_id=order_id).order_by("-id")[:limit])


def _candidate_explain(*, row: list, locs: dict, lines: dict, line_ids: list[int], wanted: list[int]) -> dict:
    """One stored candidate row as an object with its cost breakdown (and the cost of sending every unit
    from that one location, when it could)."""
    c = dict(zip(CANDIDATE_COLUMNS, row, strict=False))
    c["location"] = locs.get(c["location_id"], c["location_id"])
    avail = c["available"]
    c["available"] = {
        lines.get(lid, (str(lid), 0))[0]: a for lid, a in zip(line_ids, avail, strict=False) if lid in lines
    }
    bids = c.get("lookahead") or [0.0] * len(line_ids)  # look-ahead bid price per unit, per line
    c["lookahead"] = {
        lines.get(lid, (str(lid), 0))[0]: b for lid, b in zip(line_ids, bids, strict=False) if lid in lines and b
    }
    fixed = c["shipping_base"] + c["handling_order"] + c["adjustment"] + c["late_penalty"]
    fixed += c.get("lookahead_slot") or 0.0
    c["fixed_cost"] = round(fixed, 2)
    covers = bool(line_ids) and all(a >= q for a, q in zip(avail, wanted, strict=False))
    if covers:
        variable = sum(
            q * (c["per_kg"] * lines.get(lid, ("", 0))[1] / 1000.0 + c["handling_unit"] + b)
            for lid, q, b in zip(line_ids, wanted, bids, strict=False)
        )
        c["cost_if_all_from_here"] = round(fixed + variable, 2)
    else:
        c["cost_if_all_from_here"] = None
    return c


# What each rule action did, in words, for the explanation (the stored decision keeps the codes).
RULE_ACTION_WORDS = {
    "restrict": "only these locations",
    "exclude": "not these locations",
    "prefer": "preference",
    "ship_complete": "ship complete",
    "max_shipments": "at most N packages",
    "pickup_fallback": "pickup fallback",
    "stop": "stop",
    "max_distance": "distance limit",
    "protect_store_stock": "protect store stock",
}


def decision_explain(*, decision: RoutingDecision) -> dict:
    """A decision with location codes and SKUs filled in, candidates as objects with their cost breakdown
    (including the cost of sending every unit from that one location when it could)."""
    excluded_map: dict = decision.excluded.get("by_reason", {})
    cand = decision.candidates or {}
    rows = cand.get("rows", [])
    line_ids = cand.get("line_ids", [])
    wanted = cand.get("quantities", [])
    loc_ids = {row[0] for row in rows}
    loc_ids |= {lid for ids in excluded_map.values() for lid in ids}
    loc_ids |= {s["location_id"] for s in decision.plan}
    locs = dict(Location.objects.filter(pk__in=loc_ids).values_list("pk", "code"))
    lines = {
        pk: (sku, w or 0)
        for pk, sku, w in OrderLine.objects.filter(order_id=decision.order_id).values_list(
            "pk", "sku", "product__weight_grams"
        )
    }
    candidates = [_candidate_explain(row=row, locs=locs, lines=lines, line_ids=line_ids, wanted=wanted) for row in rows]
    plan = []
    for s in decision.plan:
        plan.append(
            {
                **s,
                "location": locs.get(s["location_id"], s["location_id"]),
                "lines": [
                    {"order_line_id": lid, "sku": lines.get(lid, ("?", 0))[0], "quantity": q} for lid, q in s["lines"]
                ],
            }
        )
    return {
        "id": decision.pk,
        "order_id": decision.order_id,
        "kind": decision.kind,
        "outcome": decision.outcome,
        "reason": decision.reason,
        "created_at": decision.created_at,
        "rule_set_version": str(decision.rule_set_version) if decision.rule_set_version_id else None,
        "service_level": decision.service_level,
        "method": decision.method,
        "rules_fired": [
            {**r, "action": RULE_ACTION_WORDS.get(r.get("action"), r.get("action"))} for r in decision.rules_fired
        ],
        "candidates": sorted(
            candidates, key=lambda c: (c["cost_if_all_from_here"] is None, c["cost_if_all_from_here"] or 0)
        ),
        "excluded": [
            {"reason": reason, "locations": sorted(locs.get(i, str(i)) for i in ids)}
            for reason, ids in sorted(excluded_map.items())
        ],
        "other_locations_without_stock": decision.excluded.get("others_without_stock", 0),
        "plan": plan,
        "unplaced": [
            {"order_line_id": int(lid), "sku": lines.get(int(lid), ("?", 0))[0], "quantity": q}
            for lid, q in decision.unplaced.items()
        ],
        "cost": float(decision.cost),
        "model_cost": float(decision.model_cost),
        "oracle_cost": float(decision.oracle_cost) if decision.oracle_cost is not None else None,
        "optimal": decision.optimal,
        "compute_ms": decision.compute_ms,
        "notes": decision.notes,
    }


# ---------------------------------------------------------------------------------------------------------
# Delivery promise


class PromiseError(ValueError):
    pass


def promise_for(
    *, sku: str, quantity: int, postal_code: str, channel: Channel | None = None, now: datetime | None = None
) -> dict:
    """Per service level the earliest delivery date the network can keep for `quantity` of `sku` to
    `postal_code`, and the nearest pickup store with its ready-by time. Reserves nothing."""
    if quantity <= 0:
        raise PromiseError("quantity must be at least 1.")
    product = Product.objects.filter(sku=sku).values_list("pk", "handling_class", "weight_grams").first()
    if product is None:
        raise PromiseError(f"Unknown SKU {sku!r}.")
    centroid = zip_centroid(postal_code=postal_code)
    if centroid is None:
        raise PromiseError(f"Unknown US postal code {postal_code!r}.")
    now = now or timezone.now()
    static = network_static()
    state, _ = network_state_load(product_ids=[product[0]], static=static, clock=now)
    if channel is not None:
        state.pool_left = pools_load(channel_codes={channel.code}, stock=state.stock, static=static).get(
            channel.code, {}
        )
    order = OrderView(
        id=0,
        channel=channel.code if channel else "",
        channel_online=channel is None or channel.kind != Channel.Kind.POS,
        method="ship",
        service_level="standard",
        total=0.0,
        customer_tier="standard",
        country="US",
        region=zip_state(postal_code=postal_code) or "",
        postal_code=postal_code,
        latitude=centroid[0],
        longitude=centroid[1],
        clock=now,
        promise=None,
        placed_at=now,
        pickup_location_id=None,
        lines=(LineView(0, product[0], sku, quantity, product[1], (product[2] or 0) / 1000.0),),
    )
    options = promise_options(order=order, static=static, state=state)
    pickup = options.pop("pickup")
    if pickup:
        loc = static.locations[pickup["location_id"]]
        ready = _pickup_ready_by(now=now, loc=loc, hours=static.pickup_ready_hours)
        pickup = {
            "location": loc.code,
            "distance_km": round(pickup["distance_km"], 1),
            "available": pickup["available"],
            "ready_by": ready,
        }
    return {
        "sku": sku,
        "quantity": quantity,
        "postal_code": postal_code,
        "service_levels": options["service_levels"],
        "pickup": pickup,
    }


def _pickup_ready_by(*, now: datetime, loc: LocationView, hours: int) -> datetime:
    from routing.costs import next_business_day

    tz = ZoneInfo(loc.timezone)
    local = now.astimezone(tz)
    ready = local + timedelta(hours=hours)
    if local.weekday() < 5 and ready.time() <= loc.cutoff and ready.date() == local.date():
        return ready
    day = next_business_day(local.date())
    return datetime.combine(day, loc.cutoff, tzinfo=tz).replace(hour=10, minute=0) + timedelta(hours=hours)


def order_ids_pending(*, limit: int) -> list[int]:
    from routing.services import ROUTABLE_STATUSES

    return list(
        Order.objects.filter(status__in=ROUTABLE_STATUSES)
        .order_by("-priority", "placed_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def orders_backordered(*, limit: int) -> list[int]:
    return list(
        Order.objects.filter(status=Order.Status.BACKORDERED)
        .filter(Q(lines__quantity__gt=0))
        .order_by("-priority", "placed_at", "pk")
        .values_list("pk", flat=True)
        .distinct()[:limit]
    )
