"""Reads of the inventory truth: ATS per product × location, network totals per channel and method.

ATS(product, location) = max(0, on_hand − reserved − safety stock). The network figure for a channel is
the sum over the locations that serve the channel and method, then capped by the channel's pool.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection
from django.db.models import F, Q, Sum

from inventory.geo import haversine_km, zip_centroid
from inventory.models import (
    ChannelAllocation,
    Location,
    LocationKind,
    Product,
    Reservation,
    ReservationLine,
    StockLevel,
)

# Fulfilment methods as the availability API names them.
METHODS = ("ship", "pickup", "same_day", "ship_to_store")


@dataclass(frozen=True, slots=True)
class LocationAts:
    location_id: int
    location_code: str
    kind: str
    on_hand: int
    reserved: int
    safety: int
    available: int
    stock_level_id: int


@dataclass(slots=True)
class ProductAts:
    product_id: int
    sku: str
    available: int = 0
    locations: list[LocationAts] = field(default_factory=list)


# The most specific safety-stock rule for the stock row `s` at location `l`, as a correlated subquery:
# product+location > product+kind > product > location > kind > network-wide (booleans sort the scopes).
SAFETY_SQL = """COALESCE((
    SELECT r.quantity FROM inventory_safetystockrule r
    WHERE (r.product_id = s.product_id OR r.product_id IS NULL)
      AND (r.location_id = s.location_id OR r.location_id IS NULL)
      AND (r.location_kind = l.kind OR r.location_kind = '')
    ORDER BY (r.product_id IS NOT NULL) DESC, (r.location_id IS NOT NULL) DESC, (r.location_kind <> '') DESC
    LIMIT 1), 0)"""


def _location_sql(*, method: str | None, online: bool) -> str:
    """SQL conditions on location `l` for a fulfilment method (and for online channels)."""
    cond = ["l.is_active"]
    if online:
        cond.append("l.sell_online")
    if method in ("ship", "ship_to_store"):
        cond.append("l.can_ship")
    elif method == "pickup":
        cond.append(f"l.can_pickup AND l.kind = '{LocationKind.STORE.value}'")
    elif method == "same_day":
        cond.append("l.can_same_day")
    return " AND ".join(cond)


def _channel_is_online(channel) -> bool:
    return channel is not None and channel.kind != "pos"


def channel_pool_caps(*, channel, product_ids: list[int], network_ats: dict[int, int]) -> dict[int, int]:
    """How many more units `channel` may sell per product, for products under an allocation pool.

    A percentage pool is a share of what is sellable plus what the channel already holds, so that a
    channel cannot creep past its share by reserving a bit at a time; an absolute pool is a fixed number
    of units minus what the channel holds. Products without a pool are absent from the result.
    """
    if channel is None:
        return {}
    allocations = list(
        ChannelAllocation.objects.filter(channel=channel)
        .filter(Q(product_id__in=product_ids) | Q(product__isnull=True))
        .values_list("product_id", "mode", "value")
    )
    if not allocations:
        return {}
    specific = {p: (m, v) for p, m, v in allocations if p}
    blanket = next(((m, v) for p, m, v in allocations if p is None), None)
    held = dict(
        ReservationLine.objects.filter(
            reservation__channel=channel,
            reservation__status=Reservation.Status.ACTIVE,
            product_id__in=product_ids,
        )
        .values_list("product_id")
        .annotate(q=Sum(F("quantity") - F("quantity_closed")))
        .values_list("product_id", "q")
    )
    caps: dict[int, int] = {}
    for pid in product_ids:
        rule = specific.get(pid, blanket)
        if rule is None:
            continue
        mode, value = rule
        mine = held.get(pid) or 0
        if mode == ChannelAllocation.Mode.PERCENT:
            cap = math.floor((network_ats.get(pid, 0) + mine) * float(value) / 100.0) - mine
        else:
            cap = int(value) - mine
        caps[pid] = max(0, cap)
    return caps


def ats_for_products(
    *,
    product_ids: list[int],
    channel=None,
    method: str | None = None,
    location_ids: Iterable[int] | None = None,
    for_update: bool = False,
    skus: dict[int, str] | None = None,
) -> dict[int, ProductAts]:
    """ATS per product and location for the locations serving `channel` and `method`.

    `available` on each ProductAts is the network figure after the channel's pool. One query (safety stock
    resolved in SQL), plus one for the channel's pool when a channel is given. With `for_update` the stock
    rows of these products are locked first (in primary-key order, so writers never deadlock); the caller
    must be inside a transaction. Pass `skus` ({id: sku}) when the caller already has them.
    """
    if skus is None:
        skus = dict(Product.objects.filter(pk__in=product_ids).values_list("pk", "sku"))
    result = {pid: ProductAts(product_id=pid, sku=sku) for pid, sku in skus.items()}
    if not result:
        return result
    ids = list(result)
    if for_update:
        # Lock every row of these products (not only the method's) so pool checks are serialised too.
        list(
            StockLevel.objects.filter(product_id__in=ids)
            .select_for_update(of=("self",))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
    params: list = list(ids)
    where = f"s.product_id IN ({', '.join(['%s'] * len(ids))}) AND " + _location_sql(
        method=method, online=_channel_is_online(channel)
    )
    if location_ids is not None:
        locs = list(location_ids) or [0]
        where += f" AND s.location_id IN ({', '.join(['%s'] * len(locs))})"
        params += locs
    sql = f"""SELECT s.id, s.product_id, s.location_id, s.on_hand, s.reserved, l.code, l.kind, {SAFETY_SQL}
              FROM inventory_stocklevel s JOIN inventory_location l ON l.id = s.location_id WHERE {where}"""
    network_all: dict[int, int] = defaultdict(int)
    with connection.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    for pk, pid, lid, on_hand, reserved, code, kind, safety in rows:
        avail = on_hand - reserved - safety
        avail = avail if avail > 0 else 0
        result[pid].locations.append(LocationAts(lid, code, kind, on_hand, reserved, safety, avail, pk))
        network_all[pid] += avail
    caps = channel_pool_caps(channel=channel, product_ids=ids, network_ats=network_all)
    for pid, pa in result.items():
        total = network_all.get(pid, 0)
        pa.available = min(total, caps[pid]) if pid in caps else total
        pa.locations.sort(key=lambda la: (-la.available, la.location_code))
    return result


def availability_by_sku(*, skus: list[str], channel=None, method: str | None = None) -> list[ProductAts]:
    """ATS for SKUs in the order asked; raises KeyError-like ValueError listing unknown SKUs."""
    ids = dict(Product.objects.filter(sku__in=skus).values_list("sku", "pk"))
    missing = [s for s in skus if s not in ids]
    if missing:
        raise UnknownSkus(missing)
    ats = ats_for_products(
        product_ids=list(ids.values()), channel=channel, method=method, skus={pk: sku for sku, pk in ids.items()}
    )
    return [ats[ids[s]] for s in dict.fromkeys(skus)]


class UnknownSkus(ValueError):
    def __init__(self, skus: list[str]) -> None:
        self.skus = skus
        super().__init__("Unknown SKU(s): " + ", ".join(skus))


@dataclass(frozen=True, slots=True)
class PickupOption:
    location_code: str
    location_name: str
    distance_km: float
    available: int
    postal_code: str
    city: str


def pickup_stores_near(
    *, sku: str, quantity: int, postal_code: str, radius_km: float, channel=None
) -> list[PickupOption]:
    """Stores that can hand over `quantity` of `sku` within `radius_km` of a US ZIP, nearest first."""
    origin = zip_centroid(postal_code=postal_code)
    if origin is None:
        raise ValueError(f"Unknown US postal code {postal_code!r}.")
    product_id = Product.objects.filter(sku=sku).values_list("pk", flat=True).first()
    if product_id is None:
        raise UnknownSkus([sku])
    ats = ats_for_products(product_ids=[product_id], channel=channel, method="pickup")[product_id]
    by_location = {la.location_id: la.available for la in ats.locations if la.available >= quantity}
    options = []
    stores = Location.objects.filter(pk__in=by_location).values_list(
        "pk", "code", "name", "latitude", "longitude", "postal_code", "city"
    )
    for pk, code, name, lat, lon, zip_, city in stores:
        if lat is None or lon is None:
            continue
        d = haversine_km(origin[0], origin[1], lat, lon)
        if d <= radius_km:
            options.append(PickupOption(code, name, round(d, 1), by_location[pk], zip_, city))
    options.sort(key=lambda o: (o.distance_km, o.location_code))
    return options


def low_stock_products(*, limit: int | None = None) -> list[tuple[int, str, int, int]]:
    """Products whose network ATS is below their threshold: [(product_id, sku, ats, threshold)].

    Set-based in SQL (one pass over stock), with the same most-specific safety-stock rule (SAFETY_SQL) as ATS.
    """
    default = int(settings.DOM["LOW_STOCK_THRESHOLD"])
    sql = f"""
        SELECT p.id, p.sku, COALESCE(a.ats, 0) AS ats, COALESCE(p.low_stock_threshold, %s) AS threshold
        FROM inventory_product p
        LEFT JOIN (
            SELECT x.product_id, SUM(CASE WHEN x.raw > 0 THEN x.raw ELSE 0 END) AS ats
            FROM (
                SELECT s.product_id, s.on_hand - s.reserved - {SAFETY_SQL} AS raw
                FROM inventory_stocklevel s JOIN inventory_location l ON l.id = s.location_id
                WHERE l.is_active
            ) x
            GROUP BY x.product_id
        ) a ON a.product_id = p.id
        WHERE p.is_active AND COALESCE(a.ats, 0) < COALESCE(p.low_stock_threshold, %s)
        ORDER BY ats, p.sku
        {"LIMIT %s" if limit else ""}
    """
    params: list = [default, default] + ([limit] if limit else [])
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return [(r[0], r[1], int(r[2]), int(r[3])) for r in cur.fetchall()]


def stock_ledger_mismatches(*, limit: int = 100) -> list[tuple[int, int, int, int, int, int]]:
    """(product_id, location_id, on_hand, ledger on_hand, reserved, ledger reserved) where they differ."""
    sql = """
        SELECT s.product_id, s.location_id, s.on_hand, COALESCE(m.oh, 0), s.reserved, COALESCE(m.rs, 0)
        FROM inventory_stocklevel s
        LEFT JOIN (
            SELECT product_id, location_id, SUM(delta_on_hand) AS oh, SUM(delta_reserved) AS rs
            FROM inventory_inventorymovement GROUP BY product_id, location_id
        ) m ON m.product_id = s.product_id AND m.location_id = s.location_id
        WHERE s.on_hand <> COALESCE(m.oh, 0) OR s.reserved <> COALESCE(m.rs, 0)
        LIMIT %s
    """
    with connection.cursor() as cur:
        cur.execute(sql, [limit])
        return [tuple(r) for r in cur.fetchall()]


def ats_for_pairs(*, pairs: list[tuple[int, int]]) -> dict[tuple[int, int], int]:
    """ATS for explicit (product_id, location_id) pairs in one query; pairs without stock are 0."""
    if not pairs:
        return {}
    values = ", ".join(["(%s, %s)"] * len(pairs))
    params = [x for pair in pairs for x in pair]
    sql = f"""
        SELECT s.product_id, s.location_id, s.on_hand - s.reserved - {SAFETY_SQL}
        FROM inventory_stocklevel s
        JOIN (VALUES {values}) AS v ON s.product_id = v.column1 AND s.location_id = v.column2
        JOIN inventory_location l ON l.id = s.location_id
        WHERE l.is_active
    """
    result = dict.fromkeys(pairs, 0)
    with connection.cursor() as cur:
        cur.execute(sql, params)
        for pid, lid, raw in cur.fetchall():
            result[(pid, lid)] = raw if raw > 0 else 0
    return result
