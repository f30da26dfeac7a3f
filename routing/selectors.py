"""Reads for routing: the cached network (rules, rates, locations), order views, stock and capacity
snapshots, readable decisions and the storefront delivery promise."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.utils import timezone

from common.calendar import WorkCalendar
from common.geo import zip_centroid, zip_state
from inventory.models import ChannelAllocation, Location, LocationGroup, Product
from inventory.selectors import SafetyStock, channel_pool_caps, location_closures, sql_in_list, supply_arrivals
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
    RateCard,
    RoutingDecision,
    RoutingRule,
    RoutingSettings,
    RuleSetVersion,
)
from routing.ratecard import PriceRow, card_rates
from routing.ratecard import RateCard as RateCardData
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


def ratecard_effective(*, day: date | None = None) -> RateCard | None:
    """The rate card version routing prices with on `day` (today): the latest whose effective date has come."""
    day = day or timezone.localdate()
    return RateCard.objects.filter(effective_from__lte=day).order_by("-effective_from", "-version").first()


def ratecard_data(*, card: RateCard) -> RateCardData:
    """A stored rate card as the in-memory structure routing prices with (routing.ratecard.RateCard)."""
    rows = tuple(
        PriceRow(p.service, p.zone, p.max_lb, float(p.base), float(p.per_lb), p.transit_days) for p in card.prices.all()
    )
    zip3s = frozenset(z for z in card.remote_zip3s.replace(",", " ").split() if z)
    return RateCardData(
        carrier=card.carrier,
        version=card.version,
        effective_from=card.effective_from,
        rows=rows,
        fuel_pct=float(card.fuel_pct),
        residential=float(card.residential),
        remote_area=float(card.remote_area),
        remote_zip3s=zip3s,
        additional_handling=float(card.additional_handling),
        handling_over_lb=float(card.handling_over_lb),
        handling_over_in=float(card.handling_over_in),
        oversize=float(card.oversize),
        oversize_over_in=float(card.oversize_over_in),
        dim_divisor=float(card.dim_divisor),
        light_parcel_max_lb=float(card.light_parcel_max_lb),
        truck_run_cost=float(card.truck_run_cost),
        truck_units_per_run=card.truck_units_per_run,
    )


def rates_load(*, card: RateCardData | None = None) -> dict[str, ServiceRates]:
    """The rates routing prices with: the rate card's services by zone (`card`, else the shipped default card)
    and, for service levels the card does not carry (same day), the admin-editable distance tables."""
    rates = dict(DEFAULT_RATES)
    carried = set(rates) - {"same_day"}
    if card is not None:
        rates = {k: v for k, v in rates.items() if k not in carried}
        rates.update(card_rates(card))
        carried = set(rates) - {"same_day"}
    for svc in CarrierService.objects.prefetch_related("bands").exclude(service_level__in=carried):
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
        "handling_cost_per_line",
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
            postal_code=r[18] or "",
            handling_per_line=float(r[19] or 0),
            calendar=calendars[r[0]],
        )
        for r in rows
    }


_RISK_TTL_SECONDS = 600.0


def pick_risk_load(*, static: NetworkStatic, now: datetime | None = None) -> dict[int, float]:
    """Each store's pick-failure probability per unit: the posterior mean of a Beta(alpha, beta) prior
    (DOM["PICK_RISK_PRIOR"]) updated with its picked and short units over the last DOM["PICK_RISK_HISTORY_DAYS"]
    days: (alpha + short) / (alpha + beta + picked + short). A store without history gets the prior's mean."""
    from django.conf import settings

    from fulfillment.selectors import store_pick_outcomes

    alpha, beta = settings.DOM["PICK_RISK_PRIOR"]
    since = (now or timezone.now()) - timedelta(days=settings.DOM["PICK_RISK_HISTORY_DAYS"])
    seen = store_pick_outcomes(since=since)
    out = {}
    for loc in static.locations.values():
        if loc.kind == "store":
            picked, short = seen.get(loc.id, (0, 0))
            out[loc.id] = (alpha + short) / (alpha + beta + picked + short)
    return out


def _pick_risk_cached(static: NetworkStatic) -> dict[int, float]:
    """pick_risk_load, re-read at most every ten minutes per process (or when the network snapshot is new)."""
    import time as _t

    hit = _cache.get("pick_risk")
    if hit is not None and hit[0] is static and _t.monotonic() - hit[1] < _RISK_TTL_SECONDS:
        return hit[2]
    risk = pick_risk_load(static=static)
    _cache["pick_risk"] = (static, _t.monotonic(), risk)
    return risk


def network_static(*, revision: int | None = None) -> NetworkStatic:
    """The network snapshot with each store's learned pick-failure risk (`pick_risk_load`, refreshed every
    ten minutes) attached."""
    static = _network_static(revision=revision)
    static.pick_risk = _pick_risk_cached(static)
    return static


def _network_static(*, revision: int | None = None) -> NetworkStatic:
    """Rules, rates and locations, compiled once per process and rebuilt when the revision moves (any
    process that publishes rules or edits rates or locations bumps it, so every process sees the change
    on its next routing)."""
    rev = routing_revision() if revision is None else revision
    day = timezone.localdate()  # a rate card version dated today takes over at midnight without a revision
    cached = _cache.get("static")
    if cached is not None and cached.revision == rev and _cache.get("day") == day:
        return cached
    with _cache_lock:
        cached = _cache.get("static")
        if cached is not None and cached.revision == rev and _cache.get("day") == day:
            return cached
        settings_row = routing_settings()
        locations = locations_load()
        stored = ratecard_effective(day=day)
        card = ratecard_data(card=stored) if stored is not None else None
        static = NetworkStatic(
            revision=rev,
            locations=locations,
            card=card,
            rates=rates_load(card=card),
            split_penalty=float(settings_row.split_penalty if settings_row.pk else SPLIT_PENALTY_DEFAULT),
            late_penalty=float(settings_row.late_penalty),
            pickup_ready_hours=settings_row.pickup_ready_hours,
            rules=ruleset_compiled_for(version=ruleset_published(), locations=locations),
        )
        _cache["static"] = static
        _cache["day"] = day
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
        "product__length_in",
        "product__width_in",
        "product__height_in",
    )
    for pk, oid, pid, sku, qty, alloc, cancelled, hclass, grams, *dims in line_rows.order_by("order_id", "line_number"):
        want = quantities.get(pk, 0) if quantities is not None else qty - alloc - cancelled
        if want <= 0 or pid is None:
            continue
        size = tuple(float(d or 0) for d in dims)
        lines_by_order[oid].append(LineView(pk, pid, sku, want, hclass, (grams or 0) / 1000.0, size))
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
            residential=address_residential(address=addr or {}),
        )
    return views


def address_residential(*, address: dict) -> bool:
    """Whether a carrier bills an address as residential: as the address says (`residential`), else unless
    it names a company."""
    flag = address.get("residential")
    if isinstance(flag, bool):
        return flag
    return not str(address.get("company") or "").strip()


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


def _candidate_explain(
    *, row: list, locs: dict, lines: dict, line_ids: list[int], wanted: list[int], unit_kg: list[float]
) -> dict:
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
    fixed += (c.get("lookahead_slot") or 0.0) + (c.get("surcharge") or 0.0)
    c["fixed_cost"] = round(fixed, 2)
    extra = c.get("unit_extra") or [0.0] * len(line_ids)
    kgs = unit_kg or [lines.get(lid, ("", 0))[1] / 1000.0 for lid in line_ids]
    covers = bool(line_ids) and all(a >= q for a, q in zip(avail, wanted, strict=False))
    risk = c.get("pick_risk") or 0.0  # expected pick-failure cost per unit (older decisions: none)
    c["pick_risk"] = risk
    if covers:
        variable = sum(
            q * (c["per_kg"] * kg + c["handling_unit"] + b + x + risk)
            for q, b, x, kg in zip(wanted, bids, extra, kgs, strict=False)
        )
        c["cost_if_all_from_here"] = round(fixed + variable, 2)
    else:
        c["cost_if_all_from_here"] = None
    return c


# Each part of a shipment's price, in words (routing.ratecard.package_price names them).
CHARGE_WORDS = {
    "base": "Base rate",
    "residential": "Residential surcharge",
    "remote_area": "Remote-area surcharge",
    "additional_handling": "Additional handling",
    "oversize": "Oversize",
    "fuel": "Fuel surcharge",
    "truck": "Share of the truck run",
}
SERVICE_WORDS = {
    "light_parcel": "Light parcel",
    "ground": "Ground",
    "express": "Express (2 days)",
    "overnight": "Overnight",
    "truck": "Scheduled truck",
}


def charges_explain(*, charges: dict) -> dict:
    """A shipment's price parts as (label, amount) lines, every non-zero part named, and the carrier service,
    zone and billable weight in words."""
    lines = [(label, charges[key]) for key, label in CHARGE_WORDS.items() if charges.get(key)]
    summary = []
    if charges.get("service"):
        summary.append(SERVICE_WORDS.get(charges["service"], str(charges["service"])))
    if charges.get("zone"):
        summary.append(f"zone {charges['zone']}")
    if charges.get("billable_lb"):
        summary.append(f"{charges['billable_lb']} lb billable")
    return {"charge_lines": lines, "charge_summary": ", ".join(summary)}


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
    unit_kg = cand.get("unit_kg") or []
    candidates = [
        _candidate_explain(row=row, locs=locs, lines=lines, line_ids=line_ids, wanted=wanted, unit_kg=unit_kg)
        for row in rows
    ]
    plan = []
    for s in decision.plan:
        plan.append(
            {
                **s,
                **charges_explain(charges=s.get("charges") or {}),
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
    """A request the promise cannot answer; `field` names the parameter at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


PROMISE_HORIZON_DAYS = 366  # how far ahead a promise counts on inbound supply and transfers
PROMISE_MAX_UNITS = 10_000


def promise_for(
    *, sku: str, quantity: int, postal_code: str, channel: Channel | None = None, now: datetime | None = None
) -> dict:
    """Per service level the earliest delivery date the network can keep for `quantity` of `sku` to
    `postal_code`, and the nearest pickup store with its ready-by time. Reserves nothing.

    Stock on hand answers as now. A level that on-hand stock cannot serve counts on supply over time: open
    inbound lines (less what backorders already hold) and transfers in transit, each available at its
    location from its expected date; the answer is the earliest date by which the network can send every
    unit, and each level says which supply it counts on (`supply`)."""
    if not 0 < quantity <= PROMISE_MAX_UNITS:
        raise PromiseError("quantity", f"quantity must be 1 to {PROMISE_MAX_UNITS}.")
    product = (
        Product.objects.filter(sku=sku)
        .values_list("pk", "handling_class", "weight_grams", "length_in", "width_in", "height_in")
        .first()
    )
    if product is None:
        raise PromiseError("sku", f"Unknown SKU {sku!r}.")
    centroid = zip_centroid(postal_code=postal_code)
    if centroid is None:
        raise PromiseError("postal_code", f"Unknown US postal code {postal_code!r}.")
    now = now or timezone.now()
    static = network_static()
    state, _ = network_state_load(product_ids=[product[0]], static=static, clock=now)
    if channel is not None:
        state.pool_left = pools_load(channel_codes={channel.code}, stock=state.stock, static=static).get(
            channel.code, {}
        )
    dims = tuple(float(d) for d in product[3:])
    line = LineView(0, product[0], sku, quantity, product[1], (product[2] or 0) / 1000.0, dims)
    view = partial(_promise_view, channel=channel, postal_code=postal_code, centroid=centroid, line=line)
    options = promise_options(order=view(clock=now), static=static, state=state)
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
    levels = options["service_levels"]
    on_hand = state.stock.get(product[0], {})
    for v in levels.values():
        v["supply"] = _supply_named(units_from=v.pop("units_from"), on_hand=on_hand, arrivals=[], static=static)
    if not all(v["available"] for v in levels.values()):
        _promise_dated(levels=levels, view=view, static=static, state=state, product_id=product[0], now=now)
    return {
        "sku": sku,
        "quantity": quantity,
        "postal_code": postal_code,
        "service_levels": levels,
        "pickup": pickup,
    }


def _promise_view(
    *, clock: datetime, channel: Channel | None, postal_code: str, centroid: tuple, line: LineView
) -> OrderView:
    return OrderView(
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
        clock=clock,
        promise=None,
        placed_at=clock,
        pickup_location_id=None,
        lines=(line,),
    )


def _promise_dated(
    *, levels: dict, view: Callable[..., OrderView], static: NetworkStatic, state: NetworkState, product_id: int, now
) -> None:
    """The levels on-hand stock cannot serve, answered from supply over time: for each, the first arrival
    date from which some plan sends every unit (found by bisection over the arrival dates: more supply never
    places fewer units), with the supply it counts on. A level nothing can serve within the horizon says so."""
    today = timezone.localdate(now)
    arrivals = supply_arrivals(product_id=product_id, until=today + timedelta(days=PROMISE_HORIZON_DAYS))
    on_hand = state.stock.get(product_id, {})
    days = sorted({a.on for a in arrivals})
    memo: dict[date, dict] = {}

    def options_on(day: date) -> dict:
        if day not in memo:
            stock = dict(on_hand)
            for a in arrivals:
                if a.on <= day:
                    stock[a.location_id] = stock.get(a.location_id, 0) + a.units
            dated = NetworkState(
                stock={product_id: stock},
                capacity_used=state.capacity_used,
                capacity_limit=state.capacity_limit,
                pool_left=state.pool_left,
            )
            clock = now if day <= today else datetime.combine(day, time(14, 0), tzinfo=UTC)
            memo[day] = promise_options(order=view(clock=clock), static=static, state=dated)["service_levels"]
        return memo[day]

    for service, level in levels.items():
        if level["available"]:
            continue
        lo, hi = 0, len(days)
        while lo < hi:  # the first arrival date from which this level can be served
            mid = (lo + hi) // 2
            if options_on(days[mid])[service]["available"]:
                hi = mid
            else:
                lo = mid + 1
        if lo == len(days):
            level["reason"] = (
                "not enough stock on hand, inbound or in transit within "
                f"{PROMISE_HORIZON_DAYS} days for this service level"
            )
            continue
        found = dict(options_on(days[lo])[service])
        found["supply"] = _supply_named(
            units_from=found.pop("units_from"),
            on_hand=on_hand,
            arrivals=[a for a in arrivals if a.on <= days[lo]],
            static=static,
        )
        found["ready_on"] = days[lo]
        levels[service] = found


def _supply_named(*, units_from: dict[int, int], on_hand: dict[int, int], arrivals: list, static) -> list[dict]:
    """Which supply the units of each location come from: on hand first, then arrivals by date."""
    out = []
    for lid, units in sorted(units_from.items(), key=lambda kv: static.locations[kv[0]].code):
        code = static.locations[lid].code
        take = min(units, on_hand.get(lid, 0))
        if take > 0:
            out.append({"source": "on_hand", "location": code, "quantity": take})
        left = units - take
        for a in arrivals:
            if left <= 0:
                break
            if a.location_id != lid:
                continue
            take = min(left, a.units)
            left -= take
            row = {"source": a.source, "reference": a.reference, "expected_date": a.on, "location": code}
            if a.inbound_line_id is not None:
                row["inbound_line"] = a.inbound_line_id
            out.append({**row, "quantity": take})
    return out


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


# The PostgreSQL advisory lock a routing drain holds while it runs (routing.services.drain).
DRAIN_LOCK = 21_000_001


def routing_drain_active() -> bool:
    """True while a routing drain runs (PostgreSQL): it will look for waiting orders again before it stops,
    so an order committed now needs no drain of its own. Always False elsewhere."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cur:
        cur.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = 0 AND objid = %s"
            " AND objsubid = 1 AND granted)",
            [DRAIN_LOCK],
        )
        return bool(cur.fetchone()[0])
