"""The peak world of shared/design/BENCHMARK.md ("The peak world"), in memory: the benchmark network and
catalogue as routing's read-only views, five days of orders with a Black Friday / Cyber Monday surge and the
diurnal shape of US e-commerce, peak daily capacities and a seeded pick-failure rate per store.

`large` is the standard network (10,000 orders on day 1); `small` shrinks everything proportionally (the small
network, 300 orders on day 1, capacities scaled by demand per location of each kind) for tests and quick runs;
`medium` sits between (4 DCs, 60 stores, 2,000 SKUs, 600 orders on day 1), the largest the bound's LP solves in
minutes.
"""

from __future__ import annotations

import importlib
import random
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

import numpy as np

from bench.world import (
    LINES_DIST,
    METHOD_DIST,
    QTY_DIST,
    SCALES,
    SEED,
    SERVICE_DIST,
    World,
    _cdf,
    _pick,
    build_world,
    nearest_zip,
    us_places,
    zipf_shares,
)
from routing.core import LineView, LocationView, NetworkStatic, OrderView
from routing.costs import DEFAULT_RATES, HANDLING_DEFAULTS, SPLIT_PENALTY_DEFAULT
from routing.rules import Resolver, ruleset_compile

DAY_FACTORS = (1.0, 3.0, 3.0, 1.5, 1.5)
FIRST_DAY = date(2026, 11, 23)  # a Monday: five business days, so every day's capacity is a working day's
BASE_ORDERS = {"large": 10000, "medium": 600, "small": 300}
PEAK_CAPACITY = {"warehouse": 4000, "3pl": 2000, "store": 40, "dropship": 500}
LARGE_COUNTS = {"warehouse": 4, "3pl": 1, "store": 240, "dropship": 6}
LATE_PER_DAY = 10.0  # $ per business day late, every policy
FAIL_RANGE = (0.05, 0.15)
# A full location-day pushes work to the next business day with capacity left, up to this many days ahead
# (every policy alike: it is how the locations work, not a routing choice).
CAPACITY_DAYS_AHEAD = int(__import__("os").environ.get("PEAK_CAPACITY_DAYS_AHEAD", "5"))
TRUCK_DAYS = (3,)  # stores are topped up from their nearest DC on Mondays and Thursdays (day 1 starts full)
# Share of a day's orders placed in each local hour (peak 19:00–22:00).
DIURNAL = (
    1.0,
    0.6,
    0.4,
    0.3,
    0.3,
    0.4,
    0.8,
    1.5,
    2.2,
    2.8,
    3.2,
    3.4,
    3.6,
    3.5,
    3.4,
    3.4,
    3.5,
    3.8,
    4.4,
    5.4,
    5.8,
    5.6,
    4.2,
    2.2,
)


@dataclass
class PeakWorld:
    scale: str
    world: World
    static: NetworkStatic  # ours: the published default rules, late penalty per day
    base_static: NetworkStatic  # baselines and the bound: no rules but the pickup fallback
    stock: dict[int, dict[int, int]]  # ATS per product × location at the start (after store safety stock)
    orders: list[OrderView]  # placed-time order
    fail_rate: dict[int, float]  # per store: true pick-failure probability per unit
    nearest_dc: dict[int, int]  # per store: its nearest DC (replenishment by truck)
    days: list[date] = field(default_factory=list)

    def day_index(self, when: datetime) -> int:
        """0-based business day of the week a moment falls on (New York), capped to the last day + 1."""
        d = when.astimezone(NY).date()
        return (d - self.days[0]).days


NY = __import__("zoneinfo").ZoneInfo("America/New_York")


def _capacity(kind: str, scale: str, world: World) -> int:
    if scale == "large":
        return PEAK_CAPACITY[kind]
    n_kind = sum(1 for loc in world.locations if loc.kind == kind)
    f = BASE_ORDERS[scale] / BASE_ORDERS["large"]
    return max(1, round(PEAK_CAPACITY[kind] * f * LARGE_COUNTS[kind] / max(1, n_kind)))


def _locations(world: World, scale: str) -> dict[int, LocationView]:
    out = {}
    for i, spec in enumerate(world.locations, start=1):
        per_order, per_unit = HANDLING_DEFAULTS[spec.kind]
        out[i] = LocationView(
            id=i,
            code=spec.code,
            kind=spec.kind,
            latitude=spec.latitude,
            longitude=spec.longitude,
            timezone=spec.timezone,
            cutoff=spec.cutoff,
            handling_classes=frozenset(spec.handling_classes),
            is_active=True,
            can_ship=spec.can_ship,
            can_pickup=spec.can_pickup,
            can_same_day=spec.can_same_day,
            sell_online=True,
            handling_per_order=per_order,
            handling_per_unit=per_unit,
            daily_capacity=_capacity(spec.kind, scale, world),
        )
    return out


def _rules(locations: dict[int, LocationView], *, published: bool):
    """The shipped default rule set (routing's data migration), or only its pickup fallback (baselines)."""
    defaults = importlib.import_module("routing.migrations.0002_defaults").DEFAULT_RULES
    rows = [(i, name, prio, cond, action) for i, (prio, name, cond, action) in enumerate(defaults, start=1)]
    if not published:
        rows = [r for r in rows if r[4]["type"] == "pickup_fallback"]
    resolver = Resolver(location_ids={loc.code: loc.id for loc in locations.values()}, group_members={})
    return ruleset_compile(version_id=None, label="peak", rules=rows, resolver=resolver)


def _statics(locations: dict[int, LocationView]) -> tuple[NetworkStatic, NetworkStatic]:
    ours = NetworkStatic(
        revision=0,
        locations=locations,
        rates=dict(DEFAULT_RATES),
        split_penalty=SPLIT_PENALTY_DEFAULT,
        late_penalty=LATE_PER_DAY,
        pickup_ready_hours=2,
        rules=_rules(locations, published=True),
        capacity_days_ahead=CAPACITY_DAYS_AHEAD,
        late_penalty_per_day=LATE_PER_DAY,  # ours prices lateness as it is charged: $10 per business day
    )
    return ours, replace(ours, rules=_rules(locations, published=False), _dist_cache=type(ours._dist_cache)())


def _stock(world: World, locations: dict[int, LocationView]) -> dict[int, dict[int, int]]:
    loc_id = {loc.code: loc.id for loc in locations.values()}
    pid = {p.sku: i for i, p in enumerate(world.products, start=1)}
    out: dict[int, dict[int, int]] = {}
    for sku, code, on_hand in world.stock:
        lid = loc_id[code]
        ats = on_hand - (1 if locations[lid].kind == "store" else 0)  # stores keep one unit of safety stock
        if ats > 0:
            out.setdefault(pid[sku], {})[lid] = ats
    return out


def _arrival(rng: random.Random, day: date, lon: float, hour_cdf: np.ndarray) -> datetime:
    """A placed time on `day` at a local hour drawn from the diurnal shape (local = UTC + longitude / 15 h)."""
    hour = int(np.searchsorted(hour_cdf, rng.random(), side="right"))
    local = datetime(day.year, day.month, day.day, min(hour, 23), tzinfo=UTC) + timedelta(seconds=rng.random() * 3600)
    offset = max(-10, min(-5, round(lon / 15.0)))
    return local - timedelta(hours=offset)


def _order_lines(rng: random.Random, world: World, cdfs: dict, first_id: int) -> tuple[LineView, ...]:
    n_lines = LINES_DIST[0][_pick_r(rng, cdfs["lines"])]
    chosen: dict[int, int] = {}
    while len(chosen) < n_lines:
        k = _pick_r(rng, cdfs["sku"])
        chosen.setdefault(k, QTY_DIST[0][_pick_r(rng, cdfs["qty"])])
    out = []
    for n, (k, q) in enumerate(chosen.items()):
        p = world.products[k]
        out.append(LineView(first_id + n, k + 1, p.sku, q, p.handling_class, p.weight_grams / 1000.0))
    return tuple(out)


def _pick_r(rng: random.Random, cdf: np.ndarray) -> int:
    return min(int(np.searchsorted(cdf, rng.random(), side="right")), len(cdf) - 1)


def _orders(world: World, scale: str, locations: dict[int, LocationView], days: list[date]) -> list[OrderView]:
    rng = random.Random(SEED + 20)
    places = us_places()
    cdfs = {
        "pop": _cdf([p["population"] for p in places]),
        "sku": _cdf(zipf_shares(len(world.products))),
        "lines": _cdf(LINES_DIST[1]),
        "qty": _cdf(QTY_DIST[1]),
        "service": _cdf(SERVICE_DIST[1]),
        "method": _cdf(METHOD_DIST[1]),
        "hour": _cdf(DIURNAL),
    }
    stores = [loc for loc in locations.values() if loc.kind == "store"]
    zips: dict[int, dict] = {}
    out = []
    for day, factor in zip(days, DAY_FACTORS, strict=True):
        for _ in range(round(BASE_ORDERS[scale] * factor)):
            pi = _pick_r(rng, cdfs["pop"])
            z = zips.get(pi) or zips.setdefault(pi, nearest_zip(places[pi]["latitude"], places[pi]["longitude"]))
            lat, lon = float(z["lat"]), float(z["long"])
            method = METHOD_DIST[0][_pick_r(rng, cdfs["method"])]
            pickup = None
            if method == "pickup" and stores:
                scale_lon = np.cos(np.radians(lat))
                pickup = min(stores, key=lambda s: (s.latitude - lat) ** 2 + ((s.longitude - lon) * scale_lon) ** 2).id
            placed = _arrival(rng, day, lon, cdfs["hour"])
            oid = len(out) + 1
            out.append(
                OrderView(
                    id=oid,
                    channel="web",
                    channel_online=True,
                    method=method,
                    service_level=SERVICE_DIST[0][_pick_r(rng, cdfs["service"])],
                    total=0.0,
                    customer_tier="standard",
                    country="US",
                    region=z["state"],
                    postal_code=z["zip_code"],
                    latitude=lat,
                    longitude=lon,
                    clock=placed,
                    promise=None,
                    placed_at=placed,
                    pickup_location_id=pickup,
                    lines=_order_lines(rng, world, cdfs, oid * 8),
                )
            )
    out.sort(key=lambda o: (o.placed_at, o.id))
    return out


def _nearest_dc(locations: dict[int, LocationView]) -> dict[int, int]:
    dcs = [loc for loc in locations.values() if loc.kind == "warehouse"]
    out = {}
    for loc in locations.values():
        if loc.kind == "store":
            out[loc.id] = min(
                dcs, key=lambda d: (d.latitude - loc.latitude) ** 2 + (d.longitude - loc.longitude) ** 2
            ).id
    return out


def peak_world(*, scale: str = "small") -> PeakWorld:
    """The peak world at `scale` (deterministic)."""
    world = build_world(scale)
    locations = _locations(world, scale)
    static, base_static = _statics(locations)
    days = [FIRST_DAY + timedelta(days=i) for i in range(len(DAY_FACTORS))]
    rng = random.Random(SEED + 21)
    fail = {loc.id: rng.uniform(*FAIL_RANGE) for loc in locations.values() if loc.kind == "store"}
    assert scale in SCALES
    return PeakWorld(
        scale=scale,
        world=world,
        static=static,
        base_static=base_static,
        stock=_stock(world, locations),
        orders=_orders(world, scale, locations, days),
        fail_rate=fail,
        nearest_dc=_nearest_dc(locations),
        days=days,
    )


# Re-exported for the simulation (one seed for the world and its draws).
__all__ = ["PeakWorld", "peak_world", "LATE_PER_DAY", "TRUCK_DAYS", "SEED", "_pick"]
