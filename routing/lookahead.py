"""Look-ahead for routing: demand-aware opportunity costs (bid prices) on scarce store units and slots.

A store holds a few units of a SKU. Taking one for today's order is free in the cost model, but if the
store's own customers ask for more units of that SKU before the shelf is refilled than it then has left, one
of them is served from the next-best source instead, at a higher cost. The bid price of the unit is that
expected loss:

    premium = P(near-store demand over the horizon ≥ units the store holds now) × saving,

where the demand is Poisson with the rate recent order history gives (units of the SKU per hour across the
network × the store's share of the orders: pickups at it, and ship orders whose destination is nearer to it
than to any other store), and the saving is what a unit at the store saves such an order (pickup at the
store instead of a transfer to it; a nearby shipment instead of one from the cheapest other location
holding the SKU), weighted by the mix of those orders. A store's order slots (its daily capacity) are priced
the same way: P(its orders over the horizon, at the rate it has filled slots today, take every slot left)
× what a slot saves its own typical order.

The unit prices are added to the optimizer's unit costs and the slot price to the candidate's fixed cost:
the objective only, which the MILP oracle sees too; the real cost (`Decision.model_cost`) never includes
them. Built once per routing batch (`lookahead_load`: three aggregate queries) and cheap to query (cached
per SKU × store × units held). `RoutingSettings.lookahead_horizon_hours` = 0 switches it off.

DC, 3PL and supplier units are priced from a demand forecast (`Outlook`): the units each location is forecast
to be asked for until its next replenishment (inventory's stored daily forecasts over the horizon), so

    bid price = P(forecast demand ≥ units left after this one) × what a unit found sold out costs a later order,

zero when the replenishment comes before demand could use the stock. An Outlook may also carry the orders
forecast to want a location's slots on a ship day, which prices its last slots the same way. Every bid price
is ≥ 0: pruning in routing.core takes a candidate's cost without them as a lower bound.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as dtime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import numpy as np
from scipy.special import gammainc

from routing.costs import rate_for

if TYPE_CHECKING:
    from routing.core import NetworkState, NetworkStatic

STORE = "store"
TYPICAL_KG = 0.5  # the weight a slot's (or an unknown product's) saving is reckoned at
SHIP_SERVICES = ("standard", "express", "overnight")


@dataclass(frozen=True, slots=True)
class PastOrder:
    """One order of the recent history, as the forecast needs it."""

    method: str  # ship / pickup / same_day / ship_to_store
    service_level: str
    latitude: float | None
    longitude: float | None
    pickup_location_id: int | None
    lines: tuple[tuple[int, int], ...]  # (product id, units)


def poisson_tail(*, mean: float, at_least: int) -> float:
    """P(N ≥ at_least) for N ~ Poisson(mean), in [0, 1] for any mean (the regularised lower incomplete gamma
    function P(at_least, mean); a direct sum of terms underflows once the mean passes ~700)."""
    if at_least <= 0:
        return 1.0
    if mean <= 0.0:
        return 0.0
    return min(1.0, max(0.0, float(gammainc(at_least, mean))))


@dataclass(slots=True)
class Outlook:
    """Forecast demand until each location's next replenishment, and what a unit sold out costs.

    `demand[(product, location)]` is the expected units the location will be asked for before its next
    replenishment (a demand forecast, not a fixed rate); `unit_value[kind]` what a unit a later order then finds
    missing costs it (served from a further or slower source). The bid price of taking `take` of the `available`
    units is the mean over those units of P(demand ≥ units left after it) × value: 0 when the replenishment
    comes before demand could use them, approaching the value as forecast demand approaches the stock.
    Always ≥ 0 (pruning bounds in routing.core rely on bid prices never lowering a cost)."""

    demand: dict[tuple[int, int], float]
    unit_value: dict[str, float]
    orders_ahead: dict[tuple[int, date], float] = field(default_factory=dict)
    _bid: dict = field(default_factory=dict)
    _where: set = field(default_factory=set)

    def __post_init__(self) -> None:
        self._where = {lid for _, lid in self.demand} | {lid for lid, _ in self.orders_ahead}

    def covers(self, location_id: int) -> bool:
        """Whether any product has forecast demand at the location."""
        return location_id in self._where

    def bid(self, *, product_id: int, location_id: int, kind: str, available: int, quantity: int) -> float:
        take = max(1, min(quantity, available))
        key = (product_id, location_id, available, take)
        hit = self._bid.get(key)
        if hit is not None:
            return hit
        mean = self.demand.get((product_id, location_id), 0.0)
        value = max(0.0, self.unit_value.get(kind, 0.0))
        price = 0.0
        if mean > 0.0 and value > 0.0 and available > 0:
            p = sum(poisson_tail(mean=mean, at_least=available - k) for k in range(take)) / take
            if p >= 1e-4:
                price = p * value
        self._bid[key] = price
        return price

    def slot_bid(self, *, location_id: int, kind: str, day: date, left: int) -> float:
        """The bid price of one of the `left` order slots (daily capacity) a location has on ship day `day`:
        P(the orders forecast to want that day's slots from now on take every one left) × the value of a
        unit that misses its day. Zero without a forecast for the day."""
        mean = self.orders_ahead.get((location_id, day), 0.0)
        value = max(0.0, self.unit_value.get(kind, 0.0))
        if mean <= 0.0 or value <= 0.0 or left <= 0:
            return 0.0
        key = ("slot", location_id, day, left)
        hit = self._bid.get(key)
        if hit is None:
            p = poisson_tail(mean=mean, at_least=left)
            hit = self._bid[key] = p * value if p >= 1e-4 else 0.0
        return hit


# Per network snapshot (NetworkStatic, rebuilt whenever its revision moves): for each store and service, the
# other locations sorted by their fixed cost of sending there, and each destination's nearest store.
_tables: dict = {"static": None, "sources": {}, "nearest": {}}


def _static_tables(static) -> dict:
    if _tables["static"] is not static:
        stores = [loc for loc in static.locations.values() if loc.kind == STORE and loc.is_active]
        stores = [loc for loc in stores if loc.latitude is not None and loc.longitude is not None]
        _tables.update(
            static=static,
            sources={},
            nearest={},
            stores=(
                [loc.id for loc in stores],
                np.radians(np.array([loc.latitude for loc in stores], dtype=float)),
                np.radians(np.array([loc.longitude for loc in stores], dtype=float)),
            ),
        )
    return _tables


def _sources(static, store_id: int, service: str) -> list[tuple[float, float, int]]:
    """(fixed cost, per kg, location id) of every other location that can ship to the store at `service`
    (overnight where express cannot reach), cheapest fixed cost first."""
    tables = _static_tables(static)["sources"]
    key = (store_id, service)
    hit = tables.get(key)
    if hit is not None:
        return hit
    store = static.locations[store_id]
    dist = static.distances(store.latitude, store.longitude)
    rates = static.rates
    out = []
    for loc_id, km in dist.items():
        loc = static.locations[loc_id]
        if loc_id == store_id or not (loc.is_active and loc.can_ship):
            continue
        band = rate_for(rates=rates[service], distance_km=km) if service in rates else None
        if band is None and "overnight" in rates:
            band = rate_for(rates=rates["overnight"], distance_km=km)
        if band is not None:
            out.append((band.base + loc.handling_per_order + loc.handling_per_unit, band.per_kg, loc_id))
    out.sort()
    tables[key] = out
    return out


def _nearest_store(static, lat: float, lon: float) -> int | None:
    """The active store nearest to (lat, lon) (vectorised haversine; memoised per point and network)."""
    tables = _static_tables(static)
    key = (round(lat, 4), round(lon, 4))
    hit = tables["nearest"].get(key, -1)
    if hit != -1:
        return hit
    ids, lats, lons = tables["stores"]
    near = None
    if ids:
        p1, l1 = math.radians(lat), math.radians(lon)
        a = np.sin((lats - p1) / 2) ** 2 + math.cos(p1) * np.cos(lats) * np.sin((lons - l1) / 2) ** 2
        near = ids[int(np.argmin(a))]  # the haversine distance grows with a
    tables["nearest"][key] = near
    return near


@dataclass(slots=True)
class Lookahead:
    """Bid prices for one routing batch. `rate` is units per hour per product across the network; `share`
    per store the fraction of all orders that are its own, by kind ("pickup" or a ship service level);
    `hours` the span of history they were drawn from."""

    static: object  # routing.core.NetworkStatic
    stock: dict[int, dict[int, int]]  # the batch's NetworkState.stock (read live: next-best holders)
    rate: dict[int, float]
    share: dict[int, dict[str, float]]
    horizon_hours: float
    weight_kg: dict[int, float] = field(default_factory=dict)
    hours: float = 0.0
    clock: datetime | None = None
    capacity_used: dict | None = None  # the batch's NetworkState.capacity_used (read live); None: no slot prices
    outlook: Outlook | None = None  # forecast demand until replenishment: DC units, and stores it forecasts
    _value: dict = field(default_factory=dict)
    _premium: dict = field(default_factory=dict)
    _slot: dict = field(default_factory=dict)

    def unit_premium(self, *, product_id: int, location_id: int, available: int, quantity: int) -> float:
        """The bid price per unit of taking `min(quantity, available)` units of a product from a location that
        holds `available` of them (the mean of the marginal units' prices, so the objective stays linear):
        a store's from its own demand, any other location's from the forecast Outlook."""
        take = max(1, min(quantity, available))
        key = (product_id, location_id, available, take)
        hit = self._premium.get(key)
        if hit is not None:
            return hit
        premium = 0.0
        loc = self.static.locations[location_id]
        outlook = self.outlook
        if loc.kind != STORE:
            if outlook is not None:
                premium = outlook.bid(
                    product_id=product_id, location_id=location_id, kind=loc.kind, available=available, quantity=take
                )
            self._premium[key] = premium
            return premium
        mix = self.share.get(location_id)
        mean = outlook.demand.get((product_id, location_id)) if outlook is not None else None
        if mean is None and mix:  # no forecast for the store: the recent rate over the horizon
            mean = self.rate.get(product_id, 0.0) * sum(mix.values()) * self.horizon_hours
        if mean and mean > 0.0 and available > 0:
            p = sum(poisson_tail(mean=mean, at_least=available - k) for k in range(take)) / take
            if p >= 1e-4:
                premium = p * self.saving(product_id=product_id, location_id=location_id)
        self._premium[key] = premium
        return premium

    def saving(self, *, product_id: int, location_id: int) -> float:
        """What one unit at the store saves the store's own next order of this product, by the mix of those
        orders, against the cheapest other location holding it (cached per batch)."""
        key = (product_id, location_id)
        hit = self._value.get(key)
        if hit is None:
            kg = self.weight_kg.get(product_id, TYPICAL_KG)
            hit = self._value[key] = self._mix_saving(location_id, kg, self.stock.get(product_id, {}))
        return hit

    def slot_premium(self, *, location_id: int, day: date, left: int) -> float:
        """The bid price of one of a store's order slots left on `day` (its daily capacity): P(its orders over the
        horizon, at the rate it has filled slots since the day began, take every slot left) × what a slot
        saves the store's own typical order against the cheapest other location."""
        kind = self.static.locations[location_id].kind
        if kind != STORE:
            outlook = self.outlook
            return 0.0 if outlook is None else outlook.slot_bid(location_id=location_id, kind=kind, day=day, left=left)
        if self.capacity_used is None or left <= 0 or location_id not in self.share or self.clock is None:
            return 0.0
        used = self.capacity_used.get((location_id, day), 0)
        if used <= 0:
            return 0.0
        key = (location_id, day, left, used)
        hit = self._slot.get(key)
        if hit is not None:
            return hit
        store = self.static.locations[location_id]
        began = datetime.combine(day, dtime(0), tzinfo=ZoneInfo(store.timezone))
        elapsed = min(self.hours, (self.clock - began).total_seconds() / 3600.0)
        premium = 0.0
        if elapsed > 0:
            p = poisson_tail(mean=used / elapsed * self.horizon_hours, at_least=left)
            if p >= 1e-4:
                premium = p * self._mix_saving(location_id, TYPICAL_KG, None)
        self._slot[key] = premium
        return premium

    def _mix_saving(self, location_id: int, kg: float, holders: dict[int, int] | None) -> float:
        """The mix-weighted saving of serving the store's own order from the store rather than from the
        cheapest other location (among `holders` of the product when given)."""
        static = self.static
        store = static.locations[location_id]
        mix = self.share.get(location_id) or {}
        total = sum(mix.values())
        value = 0.0
        for kind, weight in mix.items():
            svc = "standard" if kind == "pickup" else kind
            if svc not in static.rates:
                continue
            if kind == "pickup":
                here = store.handling_per_order + store.handling_per_unit
            else:
                band = rate_for(rates=static.rates[svc], distance_km=0.0)
                here = band.base + band.per_kg * kg + store.handling_per_order + store.handling_per_unit
            best = math.inf
            for fixed, per_kg, other_id in _sources(static, location_id, svc):
                if fixed >= best:
                    break
                if holders is None or holders.get(other_id, 0) > 0:
                    best = min(best, fixed + per_kg * kg)
            if math.isfinite(best) and best > here:
                value += weight / total * (best - here)
        return value


def lookahead_build(
    *,
    static: NetworkStatic,
    stock: dict[int, dict[int, int]],
    history: list[tuple[PastOrder, int]],
    lines: tuple[tuple[int, int], ...] = (),
    hours: float,
    horizon_hours: float,
    weight_kg: dict[int, float] | None = None,
    clock: datetime | None = None,
    capacity_used: dict | None = None,
) -> Lookahead | None:
    """A Lookahead from the orders of the last `hours` hours: `history` as (order, how many such orders),
    their units per product in `lines` and in each order's own lines. None without history."""
    if not history or hours <= 0:
        return None
    rate: dict[int, float] = defaultdict(float)
    counts: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    n = 0.0
    for pid, units in lines:
        rate[pid] += units / hours
    for order, times in history:
        n += times
        for pid, units in order.lines:
            rate[pid] += units * times / hours
        if order.method in ("pickup", "ship_to_store") and order.pickup_location_id is not None:
            counts[order.pickup_location_id]["pickup"] += times
        elif order.latitude is not None and order.longitude is not None and order.service_level in SHIP_SERVICES:
            near = _nearest_store(static, order.latitude, order.longitude)
            if near is not None:
                counts[near][order.service_level] += times
    share = {lid: {kind: c / n for kind, c in by.items()} for lid, by in counts.items()}
    return Lookahead(
        static=static,
        stock=stock,
        rate=dict(rate),
        share=share,
        horizon_hours=horizon_hours,
        weight_kg=weight_kg or {},
        hours=hours,
        clock=clock,
        capacity_used=capacity_used,
    )


def _point(lat, lon) -> tuple[float, float] | None:
    """An address's own coordinates (JSON text), when it has usable ones."""
    try:
        return (float(lat), float(lon)) if lat not in (None, "") and lon not in (None, "") else None
    except (TypeError, ValueError):
        return None


def lookahead_load(
    *, static: NetworkStatic, state: NetworkState, product_ids: list[int], clock: datetime
) -> Lookahead | None:
    """The batch's Lookahead from the orders placed in the look-back window before `clock`, for the batch's
    products (None when the look-ahead is switched off in the routing settings, or without history).

    Three aggregate queries, whatever the history's size: units per product, orders per (method, service,
    pickup store, destination ZIP), and the window's first order."""
    from django.db.models import Count, Min, Sum
    from django.db.models.fields.json import KeyTextTransform

    from common.geo import zip_centroid
    from orders.models import Order, OrderLine
    from routing.models import RoutingSettings

    row = RoutingSettings.objects.filter(pk=1).values_list("lookahead_horizon_hours", "lookahead_history_hours").first()
    if row is None or not row[0] or not row[1] or not product_ids:
        return None
    horizon, lookback = float(row[0]), float(row[1])
    outlook = outlook_load(static=static, state=state, product_ids=product_ids, clock=clock, horizon_hours=horizon)
    window = (
        Order.objects.filter(placed_at__gte=clock - timedelta(hours=lookback), placed_at__lt=clock)
        .exclude(status=Order.Status.CANCELLED)
        .order_by()
    )
    first = window.aggregate(first=Min("placed_at"))["first"]
    if first is None:
        return _forecast_only(static=static, state=state, outlook=outlook, horizon=horizon, clock=clock)
    groups = (
        window.annotate(
            zip=KeyTextTransform("postal_code", "shipping_address"),
            lat=KeyTextTransform("latitude", "shipping_address"),
            lon=KeyTextTransform("longitude", "shipping_address"),
        )
        .values_list("fulfillment_method", "service_level", "pickup_location_id", "zip", "lat", "lon")
        .annotate(n=Count("id"))
    )
    history: list[tuple[PastOrder, int]] = []
    for method, svc, pickup, zip_code, raw_lat, raw_lon, n in groups:
        point = _point(raw_lat, raw_lon) or (zip_centroid(postal_code=zip_code) if zip_code else None)
        lat, lon = point if point else (None, None)
        history.append((PastOrder(method, svc, lat, lon, pickup, ()), n))
    units = (
        OrderLine.objects.filter(order__in=window, product_id__in=product_ids)
        .order_by()
        .values_list("product_id", "product__weight_grams")
        .annotate(units=Sum("quantity"))
    )
    lines = tuple((pid, q) for pid, _, q in units)
    weights = {pid: (grams or 0) / 1000.0 for pid, grams, _ in units}
    # The observed span, not the whole window, when the history is younger than the window.
    hours = min(lookback, max(1.0 / 60.0, (clock - first).total_seconds() / 3600.0))
    la = lookahead_build(
        static=static,
        stock=state.stock,
        history=history,
        lines=lines,
        hours=hours,
        horizon_hours=horizon,
        weight_kg=weights,
        clock=clock,
        capacity_used=state.capacity_used,
    )
    if la is None:
        return _forecast_only(static=static, state=state, outlook=outlook, horizon=horizon, clock=clock)
    la.outlook = outlook
    return la


def lost_unit_value(*, static: NetworkStatic) -> dict[str, float]:
    """What a unit a later order finds sold out at a DC, 3PL or supplier costs it: one business day late (it
    ships from a further or slower source), at the network's late penalty per day (or its flat one)."""
    value = max(0.0, static.late_penalty_per_day or static.late_penalty)
    return {"warehouse": value, "3pl": value, "dropship": value}


def outlook_load(
    *, static: NetworkStatic, state: NetworkState, product_ids: list[int], clock: datetime, horizon_hours: float
) -> Outlook | None:
    """The batch's Outlook: forecast units of each batch product at each DC, 3PL or supplier holding it, over
    the horizon (inventory's stored daily forecasts; the recent reservation rate where none is stored)."""
    from inventory.selectors import demand_forecast_ahead

    holders = {lid for pid in product_ids for lid, q in state.stock.get(pid, {}).items() if q > 0}
    # Stores keep the model of their own nearby demand (above); the forecast prices every other holder.
    holders = {lid for lid in holders if lid in static.locations and static.locations[lid].kind != STORE}
    if not holders or horizon_hours <= 0:
        return None
    demand = demand_forecast_ahead(
        product_ids=product_ids, location_ids=holders, start=clock, end=clock + timedelta(hours=horizon_hours)
    )
    return Outlook(demand=demand, unit_value=lost_unit_value(static=static)) if demand else None


def _forecast_only(
    *, static: NetworkStatic, state: NetworkState, outlook: Outlook | None, horizon: float, clock: datetime
) -> Lookahead | None:
    """A Lookahead priced by the forecast alone (no recent orders to learn store shares from)."""
    if outlook is None:
        return None
    return Lookahead(
        static=static,
        stock=state.stock,
        rate={},
        share={},
        horizon_hours=horizon,
        clock=clock,
        capacity_used=state.capacity_used,
        outlook=outlook,
    )


def lookahead_premiums(
    *,
    lookahead: Lookahead,
    location_id: int,
    lines,
    available: list[int],
    quantities: tuple[int, ...],
    day: date,
    state: NetworkState,
) -> tuple[tuple[float, ...], float]:
    """For one priced candidate: per order line the bid price per unit (empty when every one is zero, the
    common case) and the bid price of its order slot on `day`. Called for every priced candidate, hence the
    inlined cache look-up."""
    outlook = lookahead.outlook
    if location_id not in lookahead.share and (outlook is None or not outlook.covers(location_id)):
        return (), 0.0
    cache = lookahead._premium
    bids = []
    for ln, a, q in zip(lines, available, quantities, strict=True):
        if a <= 0 or q <= 0:
            bids.append(0.0)
            continue
        bid = cache.get((ln.product_id, location_id, a, q if q < a else a))
        if bid is None:
            bid = lookahead.unit_premium(product_id=ln.product_id, location_id=location_id, available=a, quantity=q)
        bids.append(bid)
    loc = lookahead.static.locations[location_id]
    slot = lookahead.slot_premium(location_id=location_id, day=day, left=state.capacity_left(loc, day))
    return (tuple(bids) if any(bids) else ()), slot
