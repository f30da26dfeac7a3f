"""The pure routing core: given an order view and a network snapshot, decide where each unit comes from.

No database access and no writes: live routing (`routing.services`), the delivery promise, the what-if
simulation and the benchmark all call `order_decide` with data they loaded. Rules narrow and shape the
candidate set (`routing.rules`), the cost model prices each candidate (`routing.costs`), the optimizer picks
the cheapest feasible plan (`routing.optimizer`), and the returned `Decision` explains all of it.
"""

from __future__ import annotations

import math
import time as _time
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from functools import partial
from zoneinfo import ZoneInfo

import numpy as np

from common.calendar import NATIONAL_US, WorkCalendar, carrier_calendar
from common.geo import EARTH_RADIUS_KM
from routing.costs import (
    ServiceRates,
    delivery_date,
    next_business_day,
    promise_date,
    rate_for,
    ship_date,
)
from routing.lookahead import Lookahead, lookahead_premiums
from routing.optimizer import Candidate, Plan, Problem, plan_from_set, plan_optimize
from routing.ratecard import (
    KG_PER_LB,
    SERVICE_OF_LEVEL,
    RateBand,
    RateCard,
    billable_lb,
    package_price,
    unit_billable_lb,
    unit_surcharge,
    unit_surcharge_cost,
)
from routing.rules import CompiledRuleSet, RuleContext
from routing.zip3 import OFFSHORE_AREAS, OFFSHORE_KM, zip3_centroids, zip3_of

HARD_PROMISE = ("express", "overnight")


@dataclass(frozen=True, slots=True)
class LocationView:
    id: int
    code: str
    kind: str
    latitude: float | None
    longitude: float | None
    timezone: str
    cutoff: time
    handling_classes: frozenset[str]
    is_active: bool
    can_ship: bool
    can_pickup: bool
    can_same_day: bool
    sell_online: bool
    handling_per_order: float
    handling_per_unit: float
    daily_capacity: int
    country: str = "US"
    postal_code: str = ""  # the origin ZIP of its carrier zones
    handling_per_line: float = 0.0  # labour per order line picked here
    # The days it dispatches: weekdays less the public holidays of its country and state, less its closures.
    calendar: WorkCalendar = NATIONAL_US


@dataclass(frozen=True, slots=True)
class LineView:
    id: int
    product_id: int
    sku: str
    quantity: int
    handling_class: str
    weight_kg: float
    dims_in: tuple[float, float, float] = (0.0, 0.0, 0.0)  # length, width, height of one unit (inches)


@dataclass(frozen=True, slots=True)
class OrderView:
    id: int
    channel: str
    channel_online: bool
    method: str
    service_level: str
    total: float
    customer_tier: str
    country: str
    region: str
    postal_code: str
    latitude: float | None
    longitude: float | None
    clock: datetime  # when it is being routed (aware): drives cut-offs and the ship day
    promise: date | None  # the promised delivery date, None = derive from placed time and service level
    placed_at: datetime
    pickup_location_id: int | None
    lines: tuple[LineView, ...]
    residential: bool = True  # the carrier's residential surcharge applies to its parcels

    @property
    def line_count(self) -> int:
        return len(self.lines)

    @property
    def units(self) -> int:
        return sum(ln.quantity for ln in self.lines)


@dataclass(slots=True)
class NetworkStatic:
    """What changes rarely: cached per process, invalidated by RoutingSettings.revision."""

    revision: int
    locations: dict[int, LocationView]
    rates: dict[str, ServiceRates]
    split_penalty: float
    late_penalty: float
    pickup_ready_hours: int
    rules: CompiledRuleSet
    card: RateCard | None = None  # surcharges, light parcel and the store truck; None = zone bands alone
    _dist_cache: OrderedDict = field(default_factory=OrderedDict)
    _zone_cache: dict = field(default_factory=dict)
    _zone_geo: tuple = ()
    truck_rates: ServiceRates | None = None
    _geo: tuple | None = None
    _zones: dict = field(default_factory=dict)
    _bounds_cache: OrderedDict = field(default_factory=OrderedDict)
    _ship_arrays: tuple = ()
    unit_handling_min: float = 0.0  # the least handling per unit of any location (a floor on every unit's cost)
    # Pick-failure risk: per store, the probability that a unit sent to be picked there is short (learned from
    # its short picks, routing.selectors.pick_risk_load). Each unit from a store then also pays the expected cost
    # of its failure: p × (a new package from elsewhere + one day's late penalty). Empty: no risk term.
    pick_risk: dict[int, float] = field(default_factory=dict)
    # When a location's capacity for its ship day is used up: how many later business days to try (the first
    # with capacity left prices the location, late penalty included when it misses the promise).
    capacity_days_ahead: int = 1
    late_penalty_per_day: float = 0.0  # added per business day late beyond the first (0: a flat late_penalty)

    def __post_init__(self) -> None:
        located = [loc for loc in self.locations.values() if loc.latitude is not None and loc.longitude is not None]
        self._geo = (
            [loc.id for loc in located],
            np.radians(np.array([loc.latitude for loc in located], dtype=float)),
            np.radians(np.array([loc.longitude for loc in located], dtype=float)),
        )
        # Strong references keep zoneinfo's own cache warm (it otherwise re-reads tz files on every miss).
        self._zones = {loc.timezone: ZoneInfo(loc.timezone) for loc in self.locations.values()}
        self.unit_handling_min = min((loc.handling_per_unit for loc in self.locations.values()), default=0.0)
        cents = zip3_centroids()
        zips = [zip3_of(loc.postal_code) for loc in located]
        points = [cents.get(z) or (loc.latitude, loc.longitude) for z, loc in zip(zips, located, strict=True)]
        self._zone_geo = (
            np.array(zips, dtype=object),
            np.array([OFFSHORE_AREAS.get(z, "") for z in zips], dtype=object),
            np.radians(np.array([p[0] for p in points], dtype=float)),
            np.radians(np.array([p[1] for p in points], dtype=float)),
        )
        ground = self.rates.get("standard")
        if self.card is not None and ground is not None:  # transfers to stores ride the scheduled truck
            bands = tuple(RateBand(b.max_km, 0.0, 0.0, b.transit_days, b.zone) for b in ground.bands)
            self.truck_rates = ServiceRates(service_level="standard", bands=bands, zoned=ground.zoned)
        self._ship_arrays = (
            np.array([loc.id for loc in located], dtype=np.int64),
            np.array([loc.is_active and loc.can_ship for loc in located], dtype=bool),
            np.array([loc.sell_online for loc in located], dtype=bool),
            np.array([loc.handling_per_order for loc in located], dtype=float),
        )

    def distances(self, lat: float, lon: float) -> dict[int, float]:
        """km from (lat, lon) to every located location (haversine, vectorised), memoised per destination."""
        key = (round(lat, 4), round(lon, 4))
        hit = self._dist_cache.get(key)
        if hit is None:
            self.distances_prime(points=[(lat, lon)])
            hit = self._dist_cache[key]
        return hit

    def distances_prime(self, *, points: list[tuple[float, float]]) -> None:
        """Memoise `distances` for many destinations in one vectorised pass (elementwise, so each row is what
        one destination alone gives; a destination already memoised, or repeated, keeps its first figures)."""
        todo: dict[tuple[float, float], tuple[float, float]] = {}
        for lat, lon in points:
            key = (round(lat, 4), round(lon, 4))
            if key not in self._dist_cache and key not in todo:
                todo[key] = (lat, lon)
        if not todo:
            return
        ids, lats, lons = self._geo
        p1 = np.array([math.radians(lat) for lat, _ in todo.values()])[:, None]
        l1 = np.array([math.radians(lon) for _, lon in todo.values()])[:, None]
        cos_p1 = np.array([math.cos(p) for p in p1[:, 0].tolist()])[:, None]
        a = np.sin((lats - p1) / 2) ** 2 + cos_p1 * np.cos(lats) * np.sin((lons - l1) / 2) ** 2
        km = 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(a)))
        for key, row in zip(todo, km.tolist(), strict=True):
            self._dist_cache[key] = dict(zip(ids, row, strict=True))
            if len(self._dist_cache) > 4096:
                self._dist_cache.popitem(last=False)

    def zone_distances(self, zip3: str, lat: float | None, lon: float | None) -> dict[int, float]:
        """km every located location's ZIP3 centroid is from the destination's (what carrier zones are read
        from: 0 within one ZIP3, OFFSHORE_KM to or from Alaska, Hawaii or a territory outside its own area),
        memoised per ZIP3; the plain distances when the destination has no known ZIP3."""
        hit = self._zone_cache.get(zip3) if zip3 else None
        if hit is not None:
            return hit
        centroid = zip3_centroids().get(zip3) if zip3 else None
        if centroid is None:
            return self.distances(lat, lon) if lat is not None and lon is not None else {}
        zips, areas, lats, lons = self._zone_geo
        p1, l1 = math.radians(centroid[0]), math.radians(centroid[1])
        a = np.sin((lats - p1) / 2) ** 2 + math.cos(p1) * np.cos(lats) * np.sin((lons - l1) / 2) ** 2
        km = 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(a)))
        km[zips == zip3] = 0.0
        km[areas != OFFSHORE_AREAS.get(zip3, "")] = OFFSHORE_KM
        hit = self._zone_cache[zip3] = dict(zip(self._geo[0], km.tolist(), strict=True))
        return hit

    def rate_distances(self, lat: float, lon: float, rates: ServiceRates, zip3: str = "") -> dict[int, float]:
        """The distances `rates` bands are read from: ZIP3 zone distances for a zoned service, else plain km."""
        return self.zone_distances(zip3, lat, lon) if rates.zoned else self.distances(lat, lon)

    def ship_bounds_prime(
        self, *, points: list[tuple[float, float]], rates: ServiceRates, online: bool, zips: list[str] | None = None
    ) -> None:
        """Memoise `ship_bounds` for many destinations (with their ZIP3s, `zips`, for zoned services) at one
        service and channel kind in one vectorised pass (elementwise, so each row is what one destination alone
        gives)."""
        todo: dict[tuple, tuple[dict[int, float], dict[int, float]]] = {}
        for (lat, lon), dest_zip3 in zip(points, zips or [""] * len(points), strict=True):
            zip3 = dest_zip3 if rates.zoned else ""
            key = (round(lat, 4), round(lon, 4), id(rates), online, zip3)
            hit = self._bounds_cache.get(key)
            if (hit is None or hit[0] is not rates) and key not in todo:
                todo[key] = (self.rate_distances(lat, lon, rates, zip3), self.distances(lat, lon))
        if not todo:
            return
        km = np.array([list(d.values()) for d, _ in todo.values()], dtype=float)
        ids, can_ship, sells_online, per_order = self._ship_arrays
        n_bands = len(rates.bands)
        band = np.full(km.shape, n_bands)
        for i in range(n_bands - 1, -1, -1):  # the first band whose upper bound holds the distance
            top = rates.bands[i].max_km
            band[km <= (math.inf if top is None else top)] = i
        ok = (band < n_bands) & can_ship
        if online:
            ok &= sells_online
        if rates.max_km is not None:  # reach is plain distance
            ok &= np.array([list(d.values()) for _, d in todo.values()], dtype=float) <= rates.max_km
        base = np.array([b.base for b in rates.bands] + [0.0])[band] + per_order
        for key, ok_row, base_row in zip(todo, ok, base, strict=True):
            self._bounds_cache[key] = (rates, dict(zip(ids[ok_row].tolist(), base_row[ok_row].tolist(), strict=True)))
            if len(self._bounds_cache) > 2048:
                self._bounds_cache.popitem(last=False)

    def ship_bounds(
        self, lat: float, lon: float, rates: ServiceRates, online: bool, zip3: str = ""
    ) -> dict[int, float]:
        """Every location that may ship to (lat, lon) at `rates` — active, shipping, within the service's reach
        and, for online channels (`online`), selling online — mapped to the least fixed cost of a shipment from
        it (its band's package base + handling per order, as `rate_for` bands it: by ZIP3 zone, `zip3`, for
        a zoned service); memoised per destination."""
        zip3 = zip3 if rates.zoned else ""
        key = (round(lat, 4), round(lon, 4), id(rates), online, zip3)
        hit = self._bounds_cache.get(key)
        if hit is None or hit[0] is not rates:
            self.ship_bounds_prime(points=[(lat, lon)], rates=rates, online=online, zips=[zip3])
            hit = self._bounds_cache[key]
        return hit[1]


@dataclass(slots=True)
class NetworkState:
    """What routing consumes: ATS per product × location (for the order's channel, after safety stock),
    the channel pool's remaining units per product (absent = no pool) and capacity left per location × day."""

    stock: dict[int, dict[int, int]]
    capacity_used: dict[tuple[int, date], int] = field(default_factory=dict)
    capacity_limit: dict[tuple[int, date], int] = field(default_factory=dict)
    pool_left: dict[int, int] = field(default_factory=dict)
    lookahead: Lookahead | None = None  # bid prices on scarce store units (routing.lookahead), per batch

    def capacity_left(self, loc: LocationView, day: date) -> int:
        key = (loc.id, day)
        return self.capacity_limit.get(key, loc.daily_capacity) - self.capacity_used.get(key, 0)

    def apply(self, decision: Decision) -> None:
        """Take a decision's units and capacity out of this state (in-memory replays and batches)."""
        for shp in decision.shipments:
            key = (shp.location_id, shp.ship_date)
            self.capacity_used[key] = self.capacity_used.get(key, 0) + 1
            for line_id, qty in shp.lines:
                pid = decision.line_products[line_id]
                at = self.stock.setdefault(pid, {})
                at[shp.location_id] = at.get(shp.location_id, 0) - qty
                if pid in self.pool_left:
                    self.pool_left[pid] -= qty


@dataclass(slots=True)
class CandidateInfo:
    """One eligible location and the numbers that priced it (stored in the decision, compactly)."""

    location_id: int
    distance_km: float
    method: str  # ship / pickup / transfer / same_day / dropship
    service: str
    transit_days: int
    ship_date: date
    delivery_date: date
    promise_met: bool
    shipping_base: float
    per_kg: float
    handling_order: float
    handling_unit: float
    adjustment: float
    late_penalty: float
    available: tuple[int, ...]
    lookahead: tuple[float, ...] = ()  # look-ahead bid price per unit, per line (objective only)
    lookahead_slot: float = 0.0  # look-ahead bid price of the order slot (store capacity; objective only)
    surcharge: float = 0.0  # per package: residential and remote-area surcharges with fuel (rate card)
    unit_extra: tuple[float, ...] = ()  # per unit, per line: handling/oversize surcharges or the truck, labour per line
    zone: int = 0  # carrier zone (0: not zone-priced)
    pick_risk: float = 0.0  # expected pick-failure cost per unit (objective only; see NetworkStatic.pick_risk)

    def row(self) -> list:
        return [
            self.location_id,
            round(self.distance_km, 1),
            self.method,
            self.service,
            self.transit_days,
            self.ship_date.isoformat(),
            self.delivery_date.isoformat(),
            self.promise_met,
            round(self.shipping_base, 2),
            round(self.per_kg, 2),
            round(self.handling_order, 2),
            round(self.handling_unit, 2),
            round(self.adjustment, 2),
            round(self.late_penalty, 2),
            list(self.available),
            [round(x, 2) for x in self.lookahead],
            round(self.lookahead_slot, 2),
            round(self.surcharge, 2),
            [round(x, 4) for x in self.unit_extra],
            self.zone,
            round(self.pick_risk, 2),
        ]


CANDIDATE_COLUMNS = [
    "location_id",
    "distance_km",
    "method",
    "service",
    "transit_days",
    "ship_date",
    "delivery_date",
    "promise_met",
    "shipping_base",
    "per_kg",
    "handling_order",
    "handling_unit",
    "adjustment",
    "late_penalty",
    "available",
    "lookahead",
    "lookahead_slot",
    "surcharge",
    "unit_extra",
    "zone",
    "pick_risk",
]


@dataclass(slots=True)
class Shipment:
    location_id: int
    method: str
    service: str
    lines: list[tuple[int, int]]  # (order line id, units)
    ship_date: date
    delivery_date: date
    promise_met: bool
    shipping: float
    handling: float
    adjustment: float
    charges: dict = field(default_factory=dict)  # the shipping price part by part (base, fuel, residential…)


@dataclass(slots=True)
class Decision:
    order_id: int
    method: str
    service_level: str
    rule_set_version_id: int | None
    rules_fired: list[dict]
    candidates: list[CandidateInfo]
    excluded: dict[str, list[int]]
    unlisted_locations: int  # locations holding none of the order's products (not listed one by one)
    shipments: list[Shipment]
    unplaced: dict[int, int]  # order line id → units not placed
    cost: float  # objective: cost model + rule adjustments + late penalties
    model_cost: float  # cost model only (shipping + handling + split penalty)
    optimal: bool
    compute_ms: float  # optimizer time only
    promise: date | None
    notes: list[str]
    problem: Problem | None
    plan: Plan | None
    line_products: dict[int, int]
    unit_kg: tuple[float, ...] = ()  # per line: one unit's weight as priced (the explanation's per-kg figures)
    # The promise could no longer be kept and the order was placed late: the new promise (the latest delivery
    # of the late shipments), for the order to carry; None when the promise stands.
    repromise: date | None = None
    priced: int = 0  # locations fully priced into a candidate (the rest were ruled out or cut by a cost bound)

    @property
    def outcome(self) -> str:
        if not self.unplaced:
            return "routed"
        return "partial" if self.shipments else "backordered"

    @property
    def promise_met(self) -> bool:
        return all(s.promise_met for s in self.shipments)


@dataclass(slots=True)
class _Built:
    problem: Problem
    infos: list[CandidateInfo]
    excluded: dict[str, list[int]]
    considered: int
    ctx: RuleContext
    quantities: tuple[int, ...]
    promised: date
    unit_kg: tuple[float, ...] = ()  # per line: one unit's weight as priced (billable, whole pounds, with a card)
    priced: int = 0  # locations fully priced into a candidate


def _ship_day(loc: LocationView, clock: datetime, memo: dict) -> date:
    key = (loc.timezone, loc.cutoff, id(loc.calendar))  # equal calendars are one object (`locations_load`)
    d = memo.get(key)
    if d is None:
        d = memo[key] = ship_date(placed_at=clock, tz=loc.timezone, cutoff=loc.cutoff, calendar=loc.calendar)
    return d


COST_CUT = "cost:"  # the prefix of the reason a location gets when a cost bound rules it out unpriced


def _cost_reason(best: float, code: str) -> str:
    return f"{COST_CUT} cannot beat ${best:.2f} for the whole order from {code}"


def _split_reason(best: float, codes: str) -> str:
    return f"{COST_CUT} cannot beat ${best:.2f} for the whole order split between {codes}"


def _exclude(excluded: dict[str, list[int]], reason: str, loc_id: int) -> None:
    excluded.setdefault(reason, []).append(loc_id)


@dataclass(slots=True)
class _Order:
    """What pricing a location for one order needs, worked out once per order."""

    order: OrderView
    static: NetworkStatic
    state: NetworkState
    ctx: RuleContext
    service: str
    method: str
    exclude_ids: frozenset[int]
    exclude_reason: str
    policy_mode: bool
    pickup_store: LocationView | None
    dist: dict
    promised: date
    quantities: tuple[int, ...]
    same_day_rates: object
    ship_rates: object
    ship_memo: dict = field(default_factory=dict)
    deliver_memo: dict = field(default_factory=dict)
    zone_dist: dict = field(default_factory=dict)  # the distances zoned rates are read from (routing.zip3)
    dest_zip3: str = ""
    unit_kg: tuple[float, ...] = ()  # per line: one unit's billable weight in kg (whole pounds with a rate card)
    unit_extra: tuple[float, ...] = ()  # per line: per-unit surcharges of a parcel (rate card, fuel included)
    truck_unit: float = 0.0  # a transfer's share of the truck run per unit
    parcel_fixed: float = 0.0  # per parcel: residential and remote-area surcharges with fuel
    late_ok: bool = False  # the promise can no longer be kept: a late hard-promise shipment pays the late penalty
    upgrade_far: bool = False  # express: a shipment express cannot keep (reach, promise) is priced overnight
    carrier_country: str = "US"  # where the packages go (the pickup store's country for a transfer)


@dataclass(slots=True)
class _Floors:
    """Lower bounds on what placing the order's units costs anywhere (see `_visit_order`)."""

    unit: float = 0.0
    kg: float = 0.0
    per_kg: float = 0.0
    handling_unit: float = 0.0


def _order_context(
    *,
    order: OrderView,
    static: NetworkStatic,
    state: NetworkState,
    ctx: RuleContext,
    service: str,
    method: str,
    exclude_ids: frozenset[int],
    exclude_reason: str,
    policy_mode: bool,
) -> _Order:
    locs = static.locations
    pickup_store = locs.get(order.pickup_location_id) if method == "pickup" else None
    if pickup_store is not None:
        dest_lat, dest_lon = pickup_store.latitude, pickup_store.longitude
    else:
        dest_lat, dest_lon = order.latitude, order.longitude
    dist = static.distances(dest_lat, dest_lon) if dest_lat is not None and dest_lon is not None else {}
    promised = order.promise or promise_date(
        placed_at=order.placed_at, service_level=order.service_level, country=order.country
    )
    # Quantities after the channel pool (units beyond the pool cannot be sold to this channel).
    quantities = tuple(
        min(ln.quantity, max(0, state.pool_left[ln.product_id])) if ln.product_id in state.pool_left else ln.quantity
        for ln in order.lines
    )
    same_day_rates = static.rates.get("same_day")
    ship_rates = same_day_rates if method == "same_day" and same_day_rates else static.rates.get(service)
    if pickup_store is not None:
        ship_rates = static.truck_rates or static.rates.get("standard")
    o = _Order(
        order=order,
        static=static,
        state=state,
        ctx=ctx,
        service=service,
        method=method,
        exclude_ids=exclude_ids,
        exclude_reason=exclude_reason,
        policy_mode=policy_mode,
        pickup_store=pickup_store,
        dist=dist,
        promised=promised,
        quantities=quantities,
        same_day_rates=same_day_rates,
        ship_rates=ship_rates,
        carrier_country=(pickup_store.country if pickup_store is not None else order.country) or "US",
    )
    _card_context(o, dest_lat, dest_lon)
    return o


def _card_context(o: _Order, dest_lat: float | None, dest_lon: float | None) -> None:
    """What the rate card adds to pricing this order: ZIP3 zone distances, each unit's billable weight and
    surcharges, the per-parcel surcharges, light parcel for a standard order under the limit, the truck."""
    order, static, card = o.order, o.static, o.static.card
    o.dest_zip3 = zip3_of(o.pickup_store.postal_code if o.pickup_store is not None else order.postal_code)
    if o.ship_rates is not None and o.ship_rates.zoned:
        o.zone_dist = static.zone_distances(o.dest_zip3, dest_lat, dest_lon)
    if card is None:
        o.unit_kg = tuple(ln.weight_kg for ln in order.lines)
        o.unit_extra = (0.0,) * len(order.lines)
        return
    o.unit_kg = tuple(
        billable_lb(weight_kg=ln.weight_kg, dims_in=ln.dims_in, dim_divisor=card.dim_divisor) * KG_PER_LB
        for ln in order.lines
    )
    parcel = o.pickup_store is None and o.method != "same_day"
    o.unit_extra = tuple(
        unit_surcharge_cost(card=card, kind=unit_surcharge(card=card, weight_kg=ln.weight_kg, dims_in=ln.dims_in))
        if parcel
        else 0.0
        for ln in order.lines
    )
    if not parcel:
        o.truck_unit = card.truck_per_unit() if o.pickup_store is not None else 0.0
        return
    fees = (card.residential if order.residential else 0.0) + (
        card.remote_area if o.dest_zip3 in card.remote_zip3s else 0.0
    )
    o.parcel_fixed = fees * card.fuel
    light = static.rates.get("light_parcel")
    if o.service == "standard" and light is not None:
        total = sum(
            q * unit_billable_lb(weight_kg=ln.weight_kg, dims_in=ln.dims_in, dim_divisor=card.dim_divisor)
            for ln, q in zip(order.lines, o.quantities, strict=True)
        )
        if total <= card.light_parcel_max_lb:  # every package of it is a light parcel
            o.ship_rates = light


def _pickup_store_bound(o: _Order, first: set[int]) -> float | None:
    """The pickup store's own bound (no package, only its handling), or None when it is out (then in `first`)."""
    store = o.pickup_store
    ctx = o.ctx
    if (
        store.id in o.exclude_ids
        or not store.is_active
        or (o.order.channel_online and not store.sell_online)
        or ((ctx.allowed or ctx.excluded) and ctx.exclusion_reason(store))
    ):
        first.add(store.id)
        return None
    return store.handling_per_order


def _visit_order(o: _Order, ids: set[int], prune: bool) -> tuple[list[tuple[float, int]], _Floors]:
    """The locations in the order of a lower bound on the cost of any plan that ships from them, so that once
    the bound exceeds the best whole-order cost found so far, the rest can be dropped unpriced (exact: every
    optimal plan then places every unit and costs at most that). The bound is the location's least fixed cost
    (package base + handling per order, less any preference) plus `unit_floor`, what placing every unit costs
    at the least: each unit pays at least the cheapest per-kg rate of any source and the network's least
    handling per unit. Ineligible or unreachable locations come first (bound -inf) so they get their own reason."""
    floors = _Floors(handling_unit=o.static.unit_handling_min)
    if not (prune and o.ship_rates is not None and o.dist):
        return [(-math.inf, i) for i in sorted(ids)], floors
    quantities, ctx, locs = o.quantities, o.ctx, o.static.locations
    floors.per_kg = 0.0 if o.pickup_store is not None else min(b.per_kg for b in o.ship_rates.bands)
    floors.kg = min((kg for kg, q in zip(o.unit_kg, quantities, strict=True) if q), default=0.0)
    floors.unit = sum(
        q * (floors.per_kg * kg + floors.handling_unit) for kg, q in zip(o.unit_kg, quantities, strict=True)
    )
    dest = o.pickup_store if o.pickup_store is not None else o.order
    fixed_floor = o.static.ship_bounds(dest.latitude, dest.longitude, o.ship_rates, o.order.channel_online, o.dest_zip3)
    first = ids.difference(fixed_floor)
    fit = ids.intersection(fixed_floor)
    if o.exclude_ids:
        first |= fit & o.exclude_ids
        fit -= o.exclude_ids
    if ctx.allowed or ctx.excluded:
        ruled = {i for i in fit if ctx.exclusion_reason(locs[i])}
        first |= ruled
        fit -= ruled
    store_bound = None
    if o.pickup_store is not None:
        first.discard(o.pickup_store.id)
        fit.discard(o.pickup_store.id)
        store_bound = _pickup_store_bound(o, first)
    ranked = [(fixed_floor[i] + o.parcel_fixed, i) for i in fit]
    if store_bound is not None:
        ranked.append((store_bound, o.pickup_store.id))
    if ctx.adjustments:
        ranked = [(max(0.0, b + min(0.0, ctx.adjustment(locs[i]))), i) for b, i in ranked]
    ranked.sort()
    return [(-math.inf, i) for i in sorted(first)] + ranked, floors


def _method_reason(o: _Order, loc: LocationView, at_store: bool) -> str | None:
    """Why the location cannot serve the order's method (pickup, same day, shipping), or None."""
    if o.pickup_store is not None and not at_store:
        if o.ctx.pickup_fallback != "ship_to_store":
            return "method: pickup orders are fulfilled only at their store"
        if not loc.can_ship:
            return "method: cannot ship to the pickup store"
    elif at_store and not loc.can_pickup:
        return "method: store does not offer pickup"
    elif o.method == "same_day" and not loc.can_same_day:
        return "method: no same-day delivery here"
    elif o.method in ("ship", "ship_to_store") and not loc.can_ship:
        return "method: does not ship"
    return None


def _eligibility_reason(o: _Order, loc: LocationView, loc_id: int, at_store: bool) -> str | None:
    """Why the location is out before looking at its stock (exclusions, activity, channel, method, rules)."""
    if loc_id in o.exclude_ids:
        return o.exclude_reason
    if not loc.is_active:
        return "inactive"
    if o.order.channel_online and not loc.sell_online:
        return "method: does not sell to online channels"
    return _method_reason(o, loc, at_store) or o.ctx.exclusion_reason(loc)


def _distance(o: _Order, loc_id: int, at_store: bool) -> tuple[float | None, str | None]:
    """The distance to the destination, or the reason there is none usable."""
    km = 0.0 if at_store else o.dist.get(loc_id)
    if km is None:
        return (
            None,
            "distance: location has no coordinates" if o.dist else "destination: the address could not be located",
        )
    max_km = o.ctx.max_km
    if max_km is not None and km > max_km[1] and not at_store:
        return None, f"rule “{max_km[0]}”: farther than {max_km[1]:g} km"
    return km, None


def _available(o: _Order, loc: LocationView, loc_id: int, at_store: bool) -> tuple[list[int], str | None]:
    """Units per line the location can send (handling classes, handling rules per line, protected store
    units), or why none."""
    protect = o.ctx.protect_store_units if (loc.kind == "store" and not at_store) else 0
    stock = o.state.stock
    line_rules = o.ctx.line_rules
    avail = []
    handled_any = stocked_any = False
    ruled = None
    for ln in o.order.lines:
        a = stock.get(ln.product_id, {}).get(loc_id, 0)
        if ln.handling_class not in loc.handling_classes:
            avail.append(0)
            stocked_any |= a > 0
            continue
        if line_rules and a > 0:
            why = o.ctx.line_exclusion(loc, ln.handling_class)
            if why:
                avail.append(0)
                ruled = ruled or why
                continue
        handled_any = True
        a -= protect
        avail.append(a if a > 0 else 0)
    if any(avail):
        return avail, None
    if ruled:
        return avail, ruled
    if stocked_any and not handled_any:
        return avail, "handling class: cannot handle these items"
    if protect:
        return avail, "no stock: only protected store units left"
    return avail, "no stock"


def _rate_km(o: _Order, rates: ServiceRates, loc_id: int, km: float) -> float:
    """The distance `rates` bands are read from: the ZIP3 zone distance for a zoned service, else `km`."""
    if rates.zoned:
        return o.zone_dist.get(loc_id, km)
    return km


def _shipping(o: _Order, loc: LocationView, km: float, band) -> tuple[str, str, object, str | None]:
    """(fulfilment method, service, rate band, reason) for shipping from the location (not the pickup store)."""
    svc = "standard" if o.pickup_store is not None else o.service
    if band is None:
        rates = o.ship_rates
        band = rate_for(rates=rates, distance_km=_rate_km(o, rates, loc.id, km)) if rates else None
    if band is None and (o.policy_mode or o.upgrade_far) and svc == "express":
        # Beyond express reach (baselines ignore reach): this shipment only is priced and sent overnight.
        svc = "overnight"
        rates = o.static.rates["overnight"]
        band = rate_for(rates=rates, distance_km=_rate_km(o, rates, loc.id, km))
    if band is None:
        return "", svc, None, f"service: {svc} cannot reach {km:.0f} km away"
    if o.pickup_store is not None:
        fmethod = "transfer"
    elif o.method == "same_day":
        fmethod = "same_day"
    elif loc.kind == "dropship":
        fmethod = "dropship"
    else:
        fmethod = "ship"
    return fmethod, svc, band, None


def _price(
    o: _Order, *, loc: LocationView, loc_id: int, at_store: bool, km: float, band, avail: list[int], day: date
) -> tuple[Candidate, CandidateInfo] | str:
    """Price the location: shipping band (none for the pickup store itself), handling, rule adjustments,
    promise, look-ahead premiums. Returns the candidate and its explanation, or why it is out."""
    zone = 0
    if at_store:
        fmethod, svc, base, per_kg, transit = "pickup", "pickup", 0.0, 0.0, 0
    else:
        fmethod, svc, band, reason = _shipping(o, loc, km, band)
        if reason:
            return reason
        base, per_kg, transit, zone = band.base, band.per_kg, band.transit_days, band.zone
    dkey = (day, transit)
    arrive = o.deliver_memo.get(dkey)
    if arrive is None:
        arrive = o.deliver_memo[dkey] = delivery_date(ship_date=day, transit_days=transit, country=o.carrier_country)
    met = at_store or arrive <= o.promised  # a pickup waiting for a transfer is ready when it arrives
    if not met and o.upgrade_far and svc == "express":  # express by road misses the promise: this one overnight
        rates = o.static.rates["overnight"]
        band = rate_for(rates=rates, distance_km=_rate_km(o, rates, loc.id, km))
        if band is not None:
            svc, base, per_kg, transit, zone = "overnight", band.base, band.per_kg, band.transit_days, band.zone
            arrive = delivery_date(ship_date=day, transit_days=transit, country=o.carrier_country)
            met = arrive <= o.promised
    late = 0.0 if met else _late_cost(o, svc, arrive)
    if isinstance(late, str):
        return late
    adjustment = o.ctx.adjustment(loc) if o.ctx.adjustments else 0.0
    surcharge = 0.0 if at_store else o.parcel_fixed
    fixed = base + surcharge + loc.handling_per_order + adjustment + late
    lines = o.order.lines
    extra = _unit_extra(o, loc, at_store)
    unit_costs = tuple(
        (per_kg * kg + loc.handling_per_unit + x) if a > 0 else math.inf
        for kg, x, a in zip(o.unit_kg, extra, avail, strict=True)
    )
    bids, slot = (), 0.0
    if o.state.lookahead is not None:  # bid prices on scarce store units and slots (routing.lookahead)
        bids, slot = _bids_clamped(
            *lookahead_premiums(
                lookahead=o.state.lookahead,
                location_id=loc_id,
                lines=lines,
                available=avail,
                quantities=o.quantities,
                day=day,
                state=o.state,
            )
        )
        unit_costs = tuple(u + b for u, b in zip(unit_costs, bids, strict=True)) if bids else unit_costs
        fixed += slot
    risk = _pick_risk(o, loc_id, base + loc.handling_per_order)
    if risk:
        unit_costs = tuple(u + risk for u in unit_costs)
    fixed = max(0.0, fixed)
    info = CandidateInfo(
        location_id=loc_id,
        distance_km=km,
        method=fmethod,
        service=svc,
        transit_days=transit,
        ship_date=day,
        delivery_date=arrive,
        promise_met=met,
        shipping_base=base,
        per_kg=per_kg,
        handling_order=loc.handling_per_order,
        handling_unit=loc.handling_per_unit,
        adjustment=adjustment,
        late_penalty=late,
        available=tuple(avail),
        lookahead=bids,
        lookahead_slot=slot,
        surcharge=surcharge,
        unit_extra=extra,
        zone=zone,
        pick_risk=risk,
    )
    return Candidate(key=loc_id, fixed_cost=fixed, unit_costs=unit_costs, available=tuple(avail)), info


def _bids_clamped(bids: tuple[float, ...], slot: float) -> tuple[tuple[float, ...], float]:
    """Look-ahead bid prices never below zero: the floors `_visit` cuts locations by count each as ≥ 0."""
    if bids and min(bids) < 0.0:
        bids = tuple(b if b > 0.0 else 0.0 for b in bids)
    return bids, (slot if slot > 0.0 else 0.0)


def _unit_extra(o: _Order, loc: LocationView, at_store: bool) -> tuple[float, ...]:
    """Per unit, per line, beyond weight and handling per unit: the parcel's unit surcharges (or the truck's
    share for a transfer) and the location's labour per line spread over the line's units (exact when a line
    is picked at one location, as it nearly always is)."""
    per_line = loc.handling_per_line
    move = o.truck_unit if not at_store else 0.0
    surcharges = (0.0,) * len(o.unit_extra) if at_store else o.unit_extra
    if not per_line:
        return tuple(x + move for x in surcharges)
    return tuple(x + move + (per_line / q if q else 0.0) for x, q in zip(surcharges, o.quantities, strict=True))


def _late_cost(o: _Order, svc: str, arrive: date) -> float | str:
    """The penalty of a shipment arriving after the promise, or why it is out (a hard promise that still
    stands)."""
    if svc in HARD_PROMISE and not (o.policy_mode or o.late_ok):
        return f"promise: {svc} would arrive {arrive.isoformat()}, after {o.promised}"
    late = o.static.late_penalty
    if o.static.late_penalty_per_day:
        late += o.static.late_penalty_per_day * (_days_late(o.promised, arrive, o.carrier_country) - 1)
    return late


def _days_late(promised: date, arrive: date, country: str) -> int:
    """Carrier business days from the promised date to a later arrival."""
    calendar = carrier_calendar(country)
    n, d = 0, promised
    while d < arrive:
        d = next_business_day(d, calendar)
        n += 1
    return n


def _pick_risk(o: _Order, loc_id: int, package: float) -> float:
    """Expected failure cost per unit picked at the location: p_fail × (re-route: another package of about
    this one's fixed cost, plus one business day's late penalty). Zero where no risk is known."""
    risk = o.static.pick_risk
    p = risk.get(loc_id, 0.0) if risk else 0.0
    return p * (package + o.static.late_penalty) if p > 0.0 else 0.0


def _candidate(o: _Order, loc_id: int, band) -> tuple[Candidate, CandidateInfo] | str | None:
    """Check and price one location: its candidate and explanation, the reason it is out, or None when it is
    not in the network."""
    loc = o.static.locations.get(loc_id)
    if loc is None:
        return None
    at_store = o.pickup_store is not None and loc_id == o.pickup_store.id
    reason = _eligibility_reason(o, loc, loc_id, at_store)
    if reason:
        return reason
    km, reason = _distance(o, loc_id, at_store)
    if reason:
        return reason
    avail, reason = _available(o, loc, loc_id, at_store)
    if reason:
        return reason
    # Capacity on the day this location would dispatch; when it is used up, the next ship day (with the
    # promise that day gives: a hard promise it cannot keep excludes it in `_price`).
    day = _ship_day(loc, o.order.clock, o.ship_memo)
    if o.state.capacity_left(loc, day) <= 0:
        later = day
        for _ in range(max(1, o.static.capacity_days_ahead)):
            later = next_business_day(later, loc.calendar)
            if o.state.capacity_left(loc, later) > 0:
                break
        else:
            return f"capacity: no orders left for {day.isoformat()} or {later.isoformat()}"
        day = later
    return _price(o, loc=loc, loc_id=loc_id, at_store=at_store, km=km, band=band, avail=avail, day=day)


def _build(
    *,
    order: OrderView,
    static: NetworkStatic,
    state: NetworkState,
    ctx: RuleContext,
    service: str,
    method: str,
    exclude_ids: frozenset[int],
    exclude_reason: str,
    prune: bool = True,
    policy_mode: bool = False,
    late_ok: bool = False,
    upgrade_far: bool = False,
) -> _Built:
    """Eligibility and pricing of every location holding one of the order's products."""
    o = _order_context(
        order=order,
        static=static,
        state=state,
        ctx=ctx,
        service=service,
        method=method,
        exclude_ids=exclude_ids,
        exclude_reason=exclude_reason,
        policy_mode=policy_mode,
    )
    o.late_ok, o.upgrade_far = late_ok, upgrade_far
    quantities = o.quantities
    ids: set[int] = set()
    for ln in order.lines:
        ids.update(state.stock.get(ln.product_id, ()))
    pickup_id = o.pickup_store.id if o.pickup_store is not None else None
    if pickup_id is not None:
        ids.add(pickup_id)
    excluded: dict[str, list[int]] = {}
    infos: list[CandidateInfo] = []
    cands: list[Candidate] = []
    priced = _visit(o, ids=ids, prune=prune, cands=cands, infos=infos, excluded=excluded)
    if prune and cands:
        cands, infos = _prune(cands, infos, quantities, static, excluded)
    problem = Problem(
        quantities=quantities,
        candidates=tuple(cands),
        split_penalty=static.split_penalty,
        max_shipments=ctx.max_shipments,
        ship_complete=ctx.ship_complete,
    )
    return _Built(problem, infos, excluded, len(ids), ctx, quantities, o.promised, o.unit_kg, priced)


@dataclass(slots=True)
class _Incumbent:
    """The cheapest plan known while visiting (a single location sending everything, or a split of the
    locations priced so far) that places every unit within the order's rules; any location whose floor is
    above its cost is in no optimal plan."""

    cost: float = math.inf
    reason: str = ""
    split: bool = False


def _visit(
    o: _Order,
    *,
    ids: set[int],
    prune: bool,
    cands: list[Candidate],
    infos: list[CandidateInfo],
    excluded: dict[str, list[int]],
    trace: dict[int, float] | None = None,
) -> int:
    """Price the order's locations in `_visit_order`'s order into `cands` / `infos` (the others go to
    `excluded` with their reason), leaving unpriced every location whose floor — the least any plan shipping
    from it costs (`_location_floor`) — is above the incumbent's cost (reason COST_CUT). Exact: such a location
    is in no optimal plan, so the optimizer's answer is the one it gives on every location. Returns how many
    locations were priced. `trace`, when given, receives each ranked location's floor as it was cut by."""
    seq, floors = _visit_order(o, ids, prune)
    others = _ranked_floors(seq)
    quantities, locs = o.quantities, o.static.locations
    stocks = [(o.state.stock.get(ln.product_id, {}), q) for ln, q in zip(o.order.lines, quantities, strict=True) if q]
    best = _Incumbent()
    priced, least_fixed = 0, math.inf  # least fixed cost of the locations priced so far
    for pos, (bound, loc_id) in enumerate(seq):
        if bound + floors.unit > best.cost + 1e-9:  # ranked by bound: every later location is cut too
            excluded.setdefault(best.reason, []).extend(i for _, i in seq[pos:])
            if trace is not None:
                trace.update((i, b + floors.unit) for b, i in seq[pos:])
            break
        band = None
        if bound > -math.inf:
            band, floor = _location_floor(o, loc_id=loc_id, bound=bound, floors=floors)
            if floor <= best.cost + 1e-9 and any(st.get(loc_id, 0) < q for st, q in stocks):
                # It cannot send everything: another location ships too, and the split penalty is paid.
                floor += o.static.split_penalty + min(others.other(loc_id), least_fixed)
            if trace is not None:
                trace[loc_id] = floor
            if floor > best.cost + 1e-9:
                _exclude(excluded, best.reason, loc_id)
                continue
        found = _candidate(o, loc_id, band)
        if found is None:
            continue
        if isinstance(found, str):
            _exclude(excluded, found, loc_id)
            continue
        cand, info = found
        cands.append(cand)
        infos.append(info)
        priced += 1
        least_fixed = min(least_fixed, cand.fixed_cost)
        if all(a >= q for a, q in zip(cand.available, quantities, strict=True)):
            whole = cand.fixed_cost + sum(q * u for q, u in zip(quantities, cand.unit_costs, strict=True) if q)
            if whole < best.cost:
                best = _Incumbent(whole, _cost_reason(whole, locs[loc_id].code))
        elif prune and (best.split or best.cost == math.inf):
            best = _split_incumbent(o, cands=cands, best=best)
    return priced


@dataclass(slots=True)
class _Others:
    """The two least fixed-cost floors of the ranked locations: the least any other location's shipment
    costs."""

    first: tuple[float, int] = (math.inf, -1)
    second: float = math.inf

    def other(self, loc_id: int) -> float:
        return self.second if self.first[1] == loc_id else self.first[0]


def _ranked_floors(seq: list[tuple[float, int]]) -> _Others:
    """The two least floors of the ranked (eligible, reachable) locations of `seq`, which is sorted by floor
    with the unranked ones (-inf) first."""
    out = _Others()
    pos = bisect_right(seq, (-math.inf, math.inf))  # the first ranked one
    if pos < len(seq):
        out.first = seq[pos]
    if pos + 1 < len(seq):
        out.second = seq[pos + 1][0]
    return out


def _location_floor(o: _Order, *, loc_id: int, bound: float, floors: _Floors) -> tuple[object, float]:
    """(rate band, floor) of a ranked location: the least any plan shipping from it costs, when every unit
    is placed. Its fixed-cost floor (`bound`) plus what every unit costs at the least, with at least one
    unit at this location's own per-kg rate and handling per unit rather than the floor's. Admissible because
    every other part of a candidate's cost (surcharges, look-ahead bid prices, pick risk, late penalty) is
    ≥ 0 (`_price` clamps the bid prices)."""
    loc = o.static.locations[loc_id]
    if o.pickup_store is not None and loc_id == o.pickup_store.id:
        return None, bound + floors.unit + loc.handling_per_unit - floors.handling_unit
    band = rate_for(rates=o.ship_rates, distance_km=_rate_km(o, o.ship_rates, loc_id, o.dist[loc_id]))
    extra = (band.per_kg - floors.per_kg) * floors.kg + loc.handling_per_unit - floors.handling_unit
    return band, bound + floors.unit + extra


def _split_incumbent(o: _Order, *, cands: list[Candidate], best: _Incumbent) -> _Incumbent:
    """The incumbent once the locations priced so far can place every unit between them: the cheaper of two
    quick plans on them (every line from its cheapest locations; the first locations in visiting order that
    cover the order), when it places everything within the order's rules and beats the incumbent."""
    quantities = o.quantities
    left = list(quantities)
    prefix = []
    for i, c in enumerate(cands):
        if any(a and n for a, n in zip(c.available, left, strict=True)):
            prefix.append(i)
            left = [n - a if n > a else 0 for a, n in zip(c.available, left, strict=True)]
    if any(left):
        return best
    sub = Problem(
        quantities=quantities,
        candidates=tuple(cands),
        split_penalty=o.static.split_penalty,
        max_shipments=o.ctx.max_shipments,
        ship_complete=o.ctx.ship_complete,
    )
    cap, wanted = sub.max_shipments, sum(quantities)
    for chosen in (prefix, list(range(len(cands)))):
        plan = plan_from_set(problem=sub, chosen=chosen)
        if plan.placed == wanted and (cap is None or plan.shipments <= cap) and plan.cost < best.cost:
            codes = " + ".join(sorted(o.static.locations[cands[i].key].code for i in plan.used))
            best = _Incumbent(plan.cost, _split_reason(plan.cost, codes), split=True)
    return best


def _prune(cands, infos, quantities, static: NetworkStatic, excluded) -> tuple[list, list]:
    """Drop locations that cannot be part of any optimal plan (exact, so the optimizer's answer is unchanged).

    When some location can send the whole order alone at cost UB, every optimal plan places everything and
    costs at most UB. A plan using location j costs at least j's fixed cost, plus — when j cannot send the
    whole order — the split penalty and the cheapest other fixed cost. Locations whose bound exceeds UB go.
    """
    best, best_i = math.inf, -1
    covers = []
    for i, c in enumerate(cands):
        full = all(a >= q for a, q in zip(c.available, quantities, strict=True))
        covers.append(full)
        if full:
            cost = c.fixed_cost + sum(q * u for q, u in zip(quantities, c.unit_costs, strict=True) if q)
            if cost < best:
                best, best_i = cost, i
    if best_i < 0:
        return cands, infos
    fixed = sorted((c.fixed_cost, i) for i, c in enumerate(cands))
    keep_c, keep_i = [], []
    reason = None
    for i, c in enumerate(cands):
        if covers[i]:
            bound = c.fixed_cost
        else:
            other = fixed[0][0] if fixed[0][1] != i else (fixed[1][0] if len(fixed) > 1 else math.inf)
            bound = c.fixed_cost + static.split_penalty + other
        if bound > best + 1e-9:
            if reason is None:
                reason = _cost_reason(best, static.locations[cands[best_i].key].code)
            _exclude(excluded, reason, c.key)
            continue
        keep_c.append(c)
        keep_i.append(infos[i])
    return keep_c, keep_i


def _placed(plan: Plan) -> int:
    return sum(q for alloc in plan.allocations for _, q in alloc)


def network_prime(*, static: NetworkStatic, orders: list[OrderView]) -> None:
    """Warm `static`'s per-destination memos (distances, and the ship bounds of each order's first pricing)
    for a batch of orders in a few vectorised passes instead of one per order; the figures are the same ones
    `_build` would compute, so decisions do not change. Destinations it leaves out are computed on demand."""
    points: list[tuple[float, float]] = []
    groups: dict[tuple[int, bool], tuple[ServiceRates, list[tuple[float, float]], list[str]]] = {}
    for order in orders:
        method = "pickup" if order.method == "ship_to_store" else order.method
        store = static.locations.get(order.pickup_location_id) if method == "pickup" else None
        if store is not None:
            point, rates = (store.latitude, store.longitude), static.truck_rates or static.rates.get("standard")
            zip3 = zip3_of(store.postal_code)
        elif method == "same_day" and static.rates.get("same_day"):
            point, rates, zip3 = (order.latitude, order.longitude), static.rates["same_day"], ""
        else:
            point, rates = (order.latitude, order.longitude), static.rates.get(order.service_level)
            zip3 = zip3_of(order.postal_code)
        if point[0] is None or point[1] is None:
            continue
        points.append(point)
        if rates is not None:
            group = groups.setdefault((id(rates), order.channel_online), (rates, [], []))
            group[1].append(point)
            group[2].append(zip3)
    static.distances_prime(points=points)
    for (_, online), (rates, pts, zips) in groups.items():
        static.ship_bounds_prime(points=pts, rates=rates, online=online, zips=zips)


def _method_effective(*, order: OrderView, static: NetworkStatic, ctx: RuleContext, notes: list[str]) -> str:
    """The method routing plans for: ship-to-store is pickup with shipping to the store as the fallback; a
    pickup order without a known store ships to the address (noted)."""
    method = order.method
    if method == "ship_to_store":  # the customer collects at the store: its own stock, else sent there
        method = "pickup"
        ctx.pickup_fallback = "ship_to_store"
    if method == "pickup" and order.pickup_location_id not in static.locations:
        notes.append("pickup order without a known pickup store: shipped to the address instead")
        method = "ship"
    return method


def _solve(
    *,
    order: OrderView,
    static: NetworkStatic,
    state: NetworkState,
    ctx: RuleContext,
    service: str,
    method: str,
    exclude_ids: frozenset[int],
    exclude_reason: str,
    prune: bool,
    policy_mode: bool,
    optimize: Callable[..., Plan],
    late_ok: bool = False,
    upgrade_far: bool = False,
) -> tuple[_Built, Plan, float]:
    """Build and solve the order for a service and method; returns (built, plan, seconds the solver took)."""
    built = _build(
        order=order,
        static=static,
        state=state,
        ctx=ctx,
        service=service,
        method=method,
        exclude_ids=exclude_ids,
        exclude_reason=exclude_reason,
        prune=prune,
        policy_mode=policy_mode,
        late_ok=late_ok,
        upgrade_far=upgrade_far,
    )
    start = _time.perf_counter()
    plan = optimize(problem=built.problem)
    return built, plan, _time.perf_counter() - start


def order_decide(
    *,
    order: OrderView,
    static: NetworkStatic,
    state: NetworkState,
    exclude_location_ids: frozenset[int] | set[int] = frozenset(),
    exclude_reason: str = "re-route: excluded",
    optimize: Callable[..., Plan] = plan_optimize,
    prune: bool = True,
    policy_mode: bool = False,
) -> Decision:
    """The cheapest feasible plan for `order` on `state`, with its full explanation. Pure: no writes.

    When express cannot place every unit, the shipments express cannot keep (beyond its reach, or too slow
    for the promise) are priced and shipped overnight, each on its own: the rest still ships express. Same-day
    orders with no same-day location ship at their service level; both are noted in the decision.

    `policy_mode` is for the benchmark's baseline policies, which choose locations without regard to the
    promise: nothing is excluded for reach or lateness, and an express shipment from beyond express reach
    is priced (and sent) overnight, as shared/design/BENCHMARK.md prescribes for every policy.
    """
    ctx = static.rules.apply(order)
    notes: list[str] = []
    method = _method_effective(order=order, static=static, ctx=ctx, notes=notes)
    service = order.service_level
    attempt = partial(
        _solve,
        order=order,
        static=static,
        state=state,
        ctx=ctx,
        exclude_ids=frozenset(exclude_location_ids),
        exclude_reason=exclude_reason,
        prune=prune,
        policy_mode=policy_mode,
        optimize=optimize,
    )
    built, plan, elapsed = attempt(service=service, method=method)
    wanted = sum(built.quantities)
    if method == "same_day" and _placed(plan) < wanted:
        alt, alt_plan, seconds = attempt(service=service, method="ship")
        elapsed += seconds
        if _placed(alt_plan) > _placed(plan):
            notes.append(f"same-day not available for every unit: shipped {service} instead")
            built, plan, method = alt, alt_plan, "ship"
    if service == "express" and method != "pickup" and _placed(plan) < wanted:
        alt, alt_plan, seconds = attempt(service=service, method=method, upgrade_far=True)
        elapsed += seconds
        if _placed(alt_plan) > _placed(plan):
            built, plan = alt, alt_plan
            service = _upgrade_note(built=built, plan=plan, static=static, notes=notes)
    blocked = ("promise:", "service:") if service == "express" else ("promise:",)
    repromise = None
    if not policy_mode and _placed(plan) < wanted and any(r.startswith(blocked) for r in built.excluded):
        built, plan, service, seconds, repromise = _late_fallback(
            attempt=attempt, built=built, plan=plan, service=service, method=method, notes=notes
        )
        elapsed += seconds
    decision = _decision_from(
        order=order,
        static=static,
        built=built,
        plan=plan,
        method=method,
        service=service,
        compute_ms=elapsed * 1000.0,
        notes=notes,
    )
    decision.repromise = repromise
    return decision


def _upgrade_note(*, built: _Built, plan: Plan, static: NetworkStatic, notes: list[str]) -> str:
    """Express upgraded per shipment: only the shipments express cannot keep (beyond its reach, or too slow
    for the promise) go overnight. Returns the decision's service: overnight when every shipment is."""
    used = {built.infos[ci].location_id: built.infos[ci].service for alloc in plan.allocations for ci, q in alloc if q}
    upgraded = sorted(static.locations[lid].code for lid, svc in used.items() if svc == "overnight")
    if not upgraded:
        return "express"
    if len(upgraded) == len(used):
        notes.append("express cannot be kept by ground from the locations holding stock: upgraded to overnight")
        return "overnight"
    notes.append(
        f"express cannot be kept by ground from {', '.join(upgraded)}: upgraded to overnight for "
        f"{'that shipment' if len(upgraded) == 1 else 'those shipments'} only, the rest ships express"
    )
    return "express"


def _late_fallback(
    *,
    attempt: Callable[..., tuple[_Built, Plan, float]],
    built: _Built,
    plan: Plan,
    service: str,
    method: str,
    notes: list[str],
) -> tuple[_Built, Plan, str, float, date | None]:
    """When the promise can no longer be kept (the only stock is past its cut-off, the promise date is fixed
    and passed), route to the best plan anyway with a new, later promise instead of leaving the order waiting
    while stock exists: the same service late (an express order beyond its reach: overnight late), paying the
    late penalty. The reason is noted; the new promise is returned (None when every shipment keeps it)."""
    elapsed = 0.0
    tries = [service] + (["overnight"] if service == "express" else [])
    for svc in tries:
        alt, alt_plan, seconds = attempt(service=svc, method=method, late_ok=True)
        elapsed += seconds
        if _placed(alt_plan) > _placed(plan):
            built, plan, service = alt, alt_plan, svc
    late = [built.infos[ci] for alloc in plan.allocations for ci, q in alloc if q > 0]
    late = [i for i in late if not i.promise_met]
    new = None
    if late:
        new = max(i.delivery_date for i in late)
        notes.append(
            f"late: the promise {built.promised.isoformat()} can no longer be kept by any location holding stock; "
            f"routed {service} with a new promise of {new.isoformat()}"
        )
    return built, plan, service, elapsed, new


def _shipment_price(
    *, order: OrderView, static: NetworkStatic, info: CandidateInfo, items: list[tuple[int, int]], by_id: dict
) -> tuple[float, dict]:
    """What a shipment's transport costs, part by part: a parcel at the carrier's exact price (billable weight
    of the package rounded up, weight break, surcharges, fuel), a transfer as its units' share of the truck
    run, anything else (pickup, same-day courier) at its band's base + per kg."""
    card = static.card
    if card is not None and info.method == "transfer":
        units = sum(q for _, q in items)
        truck = units * card.truck_per_unit()
        return truck, {"carrier": "scheduled truck", "service": "truck", "truck": round(truck, 4), "total": truck}
    if card is None or info.method not in ("ship", "dropship") or not info.zone:
        if card is None:
            kg = sum(by_id[lid].weight_kg * q for lid, q in items)
        else:
            kg = sum(
                billable_lb(weight_kg=by_id[lid].weight_kg, dims_in=by_id[lid].dims_in) * KG_PER_LB * q
                for lid, q in items
            )
        price = info.shipping_base + info.per_kg * kg
        charges = {"service": info.service, "zone": info.zone, "base": round(price, 4), "total": price}
        return price, (charges if card is not None or info.zone else {})
    lbs = 0.0
    kinds: list[str] = []
    for lid, q in items:
        ln = by_id[lid]
        lbs += q * unit_billable_lb(weight_kg=ln.weight_kg, dims_in=ln.dims_in, dim_divisor=card.dim_divisor)
        kind = unit_surcharge(card=card, weight_kg=ln.weight_kg, dims_in=ln.dims_in)
        kinds.extend([kind] * q if kind else [])
    carrier_service = SERVICE_OF_LEVEL.get(info.service, "ground")
    if carrier_service == "ground" and lbs <= card.light_parcel_max_lb and "light_parcel" in static.rates:
        carrier_service = "light_parcel"
    charges = package_price(
        card=card,
        service=carrier_service,
        zone=info.zone,
        billable=lbs,
        residential=order.residential,
        remote=zip3_of(order.postal_code) in card.remote_zip3s,
        surcharges=tuple(kinds),
    )
    return charges["total"], charges


def _decision_from(
    *,
    order: OrderView,
    static: NetworkStatic,
    built: _Built,
    plan: Plan,
    method: str,
    service: str,
    compute_ms: float,
    notes: list[str],
) -> Decision:
    lines = order.lines
    infos = built.infos
    by_cand: dict[int, list[tuple[int, int]]] = {}
    for i, alloc in enumerate(plan.allocations):
        for ci, q in alloc:
            if q > 0:
                by_cand.setdefault(ci, []).append((lines[i].id, q))
    shipments = []
    by_id = {ln.id: ln for ln in lines}
    for ci in sorted(by_cand, key=lambda c: infos[c].location_id):
        info = infos[ci]
        units = sum(q for _, q in by_cand[ci])
        shipping, charges = _shipment_price(order=order, static=static, info=info, items=by_cand[ci], by_id=by_id)
        per_line = static.locations[info.location_id].handling_per_line if info.location_id in static.locations else 0
        shipments.append(
            Shipment(
                location_id=info.location_id,
                method=info.method,
                service=info.service,
                lines=by_cand[ci],
                ship_date=info.ship_date,
                delivery_date=info.delivery_date,
                promise_met=info.promise_met,
                shipping=shipping,
                handling=info.handling_order + info.handling_unit * units + per_line * len(by_cand[ci]),
                adjustment=info.adjustment + info.late_penalty,
                charges=charges,
            )
        )
    unplaced = {}
    for ln, alloc in zip(lines, plan.allocations, strict=True):
        left = ln.quantity - sum(q for _, q in alloc)
        if left > 0:
            unplaced[ln.id] = left
    model_cost = sum(s.shipping + s.handling for s in shipments) + static.split_penalty * max(0, len(shipments) - 1)
    listed = len(infos) + sum(len(v) for v in built.excluded.values())
    return Decision(
        order_id=order.id,
        method=method,
        service_level=service,
        rule_set_version_id=static.rules.version_id,
        rules_fired=built.ctx.fired,
        candidates=infos,
        excluded=built.excluded,
        unlisted_locations=max(0, len(static.locations) - listed),
        shipments=shipments,
        unplaced=unplaced,
        cost=plan.cost if shipments else 0.0,
        model_cost=model_cost,
        optimal=plan.optimal,
        compute_ms=compute_ms,
        promise=order.promise
        or promise_date(placed_at=order.placed_at, service_level=order.service_level, country=order.country),
        notes=notes,
        problem=built.problem,
        plan=plan,
        line_products={ln.id: ln.product_id for ln in lines},
        unit_kg=built.unit_kg,
        priced=built.priced,
    )


def promise_options(*, order: OrderView, static: NetworkStatic, state: NetworkState) -> dict:
    """For a one-line ship order: per service level the earliest delivery date some plan can keep (a single
    location holding everything if any, else the cheapest split), and the nearest pickup store holding it."""
    ctx = static.rules.apply(order)
    levels = {}
    for service in ("standard", "express", "overnight"):
        built = _build(
            order=order,
            static=static,
            state=state,
            ctx=ctx,
            service=service,
            method="ship",
            exclude_ids=frozenset(),
            exclude_reason="",
            prune=False,  # the fastest location matters here, not only the cheapest
        )
        wanted = built.quantities
        whole = [
            info
            for info in built.infos
            if all(a >= q for a, q in zip(info.available, wanted, strict=True))
            and (service == "standard" or info.promise_met)
        ]
        if whole:
            best = min(whole, key=lambda i: (i.delivery_date, i.distance_km))
            levels[service] = {
                "available": True,
                "delivery_date": best.delivery_date,
                "ships_from": best.location_id,
                "units_from": {best.location_id: sum(wanted)},
            }
            continue
        plan = plan_optimize(problem=built.problem)
        if sum(wanted) and _placed(plan) == sum(wanted):
            used = {ci for alloc in plan.allocations for ci, _ in alloc}
            units_from: dict[int, int] = {}
            for alloc in plan.allocations:
                for ci, q in alloc:
                    lid = built.infos[ci].location_id
                    units_from[lid] = units_from.get(lid, 0) + q
            levels[service] = {
                "available": True,
                "delivery_date": max(built.infos[ci].delivery_date for ci in used),
                "ships_from": None,
                "units_from": units_from,  # location id → units (the caller names the supply)
            }
        else:
            levels[service] = {"available": False, "delivery_date": None, "ships_from": None, "units_from": {}}
    for v in levels.values():
        loc_id = v.pop("ships_from")
        v["ships_from"] = static.locations[loc_id].code if loc_id else None
    pickup = None
    if order.latitude is not None and order.longitude is not None:
        dist = static.distances(order.latitude, order.longitude)
        best = None
        for ln in order.lines[:1]:
            for loc_id, a in state.stock.get(ln.product_id, {}).items():
                loc = static.locations.get(loc_id)
                if (
                    loc is None
                    or a < ln.quantity
                    or not (loc.is_active and loc.can_pickup and loc.kind == "store")
                    or loc_id not in dist
                    or ln.handling_class not in loc.handling_classes
                ):
                    continue
                if best is None or dist[loc_id] < best[0]:
                    best = (dist[loc_id], loc_id, a)
        if best is not None:
            pickup = {"location_id": best[1], "distance_km": best[0], "available": best[2]}
    return {"service_levels": levels, "pickup": pickup}
