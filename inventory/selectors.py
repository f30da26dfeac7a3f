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
    SafetyStockRule,
    StockLevel,
    StockShortage,
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


class SafetyStock:
    """The same most-specific rule as SAFETY_SQL, resolved in Python: for batch readers (routing) that load
    tens of thousands of stock rows and should not run a correlated subquery per row. Build once per batch."""

    __slots__ = ("_pl", "_pk", "_p", "_l", "_k", "_global")

    def __init__(self, *, product_ids: Iterable[int] | None = None) -> None:
        rules = SafetyStockRule.objects.all()
        if product_ids is not None:
            rules = rules.filter(Q(product_id__in=list(product_ids)) | Q(product__isnull=True))
        self._pl: dict[tuple[int, int], int] = {}
        self._pk: dict[tuple[int, str], int] = {}
        self._p: dict[int, int] = {}
        self._l: dict[int, int] = {}
        self._k: dict[str, int] = {}
        self._global: int = 0
        for p, loc, kind, qty in rules.values_list("product_id", "location_id", "location_kind", "quantity"):
            if p and loc:
                self._pl[(p, loc)] = qty
            elif p and kind:
                self._pk[(p, kind)] = qty
            elif p:
                self._p[p] = qty
            elif loc:
                self._l[loc] = qty
            elif kind:
                self._k[kind] = qty
            else:
                self._global = qty

    def quantity(self, *, product_id: int, location_id: int, kind: str) -> int:
        v = self._pl.get((product_id, location_id))
        if v is not None:
            return v
        v = self._pk.get((product_id, kind))
        if v is not None:
            return v
        v = self._p.get(product_id)
        if v is not None:
            return v
        v = self._l.get(location_id)
        if v is not None:
            return v
        v = self._k.get(kind)
        if v is not None:
            return v
        return self._global


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


def _in_list(column: str, values: list) -> tuple[str, list]:
    """`column IN (…)` as SQL and params; `= ANY(%s)` on PostgreSQL so the statement text is stable and
    psycopg can prepare it once."""
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)", [list(values)]
    return f"{column} IN ({', '.join(['%s'] * len(values))})", list(values)


def _ats_query(
    *,
    product_sql: str,
    product_params: list,
    channel,
    method: str | None,
    location_ids: Iterable[int] | None,
) -> tuple[dict[int, ProductAts], bool | None]:
    """One query: every product matching `product_sql` (on `p`), with its stock rows at the locations that
    serve the channel and method, safety stock resolved in SQL. Returns the products and whether the
    channel has any allocation pool (None when no channel)."""
    loc_sql = _location_sql(method=method, online=_channel_is_online(channel))
    params: list = []
    if location_ids is not None:
        in_sql, in_params = _in_list("l.id", list(location_ids) or [0])
        loc_sql += " AND " + in_sql
        params += in_params
    pool_sql = "NULL"
    if channel is not None:
        pool_sql = "(SELECT COUNT(*) FROM inventory_channelallocation a WHERE a.channel_id = %s)"
    sql = f"""
        SELECT p.id, p.sku, s.id, s.location_id, s.on_hand, s.reserved, l.code, l.kind,
               CASE WHEN s.id IS NULL THEN 0 ELSE {SAFETY_SQL} END, {pool_sql}
        FROM inventory_product p
        LEFT JOIN (inventory_stocklevel s JOIN inventory_location l ON l.id = s.location_id AND {loc_sql})
               ON s.product_id = p.id
        WHERE {product_sql}"""
    params = ([channel.pk] if channel is not None else []) + params + product_params
    result: dict[int, ProductAts] = {}
    has_pool: bool | None = None
    with connection.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    for pid, sku, sid, lid, on_hand, reserved, code, kind, safety, pools in rows:
        pa = result.get(pid)
        if pa is None:
            pa = result[pid] = ProductAts(product_id=pid, sku=sku)
        if pools is not None:
            has_pool = pools > 0
        if sid is None:
            continue
        avail = on_hand - reserved - safety
        avail = avail if avail > 0 else 0
        pa.locations.append(LocationAts(lid, code, kind, on_hand, reserved, safety, avail, sid))
        pa.available += avail
    return result, has_pool


def _apply_pools(*, result: dict[int, ProductAts], channel, has_pool: bool | None) -> None:
    if channel is not None and has_pool is not False:
        network = {pid: pa.available for pid, pa in result.items()}
        caps = channel_pool_caps(channel=channel, product_ids=list(result), network_ats=network)
        for pid, cap in caps.items():
            result[pid].available = min(result[pid].available, cap)
    for pa in result.values():
        pa.locations.sort(key=lambda la: (-la.available, la.location_code))


def ats_for_products(
    *,
    product_ids: list[int],
    channel=None,
    method: str | None = None,
    location_ids: Iterable[int] | None = None,
    for_update: bool = False,
) -> dict[int, ProductAts]:
    """ATS per product and location for the locations serving `channel` and `method`.

    `available` on each ProductAts is the network figure after the channel's pool. One query (safety stock
    resolved in SQL), plus one for the channel's pool only when the channel has one. With `for_update` the
    stock rows of these products are locked first (in primary-key order, so writers never deadlock); the
    caller must be inside a transaction.
    """
    ids = sorted(set(product_ids))
    if not ids:
        return {}
    if for_update:
        # Lock every row of these products (not only the method's) so pool checks are serialised too.
        list(
            StockLevel.objects.filter(product_id__in=ids)
            .select_for_update(of=("self",))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
    product_sql, product_params = _in_list("p.id", ids)
    result, has_pool = _ats_query(
        product_sql=product_sql,
        product_params=product_params,
        channel=channel,
        method=method,
        location_ids=location_ids,
    )
    _apply_pools(result=result, channel=channel, has_pool=has_pool)
    return result


def availability_by_sku(*, skus: list[str], channel=None, method: str | None = None) -> list[ProductAts]:
    """ATS for SKUs in the order asked (one query in the common case); raises UnknownSkus listing any
    SKU that does not exist."""
    wanted = list(dict.fromkeys(skus))
    product_sql, product_params = _in_list("p.sku", wanted)
    result, has_pool = _ats_query(
        product_sql=product_sql, product_params=product_params, channel=channel, method=method, location_ids=None
    )
    by_sku = {pa.sku: pa for pa in result.values()}
    missing = [s for s in wanted if s not in by_sku]
    if missing:
        raise UnknownSkus(missing)
    _apply_pools(result=result, channel=channel, has_pool=has_pool)
    return [by_sku[s] for s in wanted]


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


# --- Shortages, imports, feeds, accuracy -----------------------------------------------------------------


def stock_shortages_open(*, location_ids: Iterable[int] | None = None):
    """Open shortages (on hand fell below reserved), oldest first, with product and location loaded.

    Routing re-routes the reservations these leave uncovered, then calls
    `inventory.services.stock_shortage_resolve`; a later snapshot that covers reserved resolves them too.
    """
    qs = StockShortage.objects.filter(resolved_at__isnull=True).select_related("product", "location")
    if location_ids is not None:
        qs = qs.filter(location_id__in=list(location_ids))
    return qs.order_by("detected_at", "id")


@dataclass(frozen=True, slots=True)
class AccuracyRow:
    location_id: int | None
    location_code: str
    counts: int
    within: int

    @property
    def accuracy_pct(self) -> float | None:
        return round(100.0 * self.within / self.counts, 1) if self.counts else None


def inventory_accuracy(
    *, since=None, until=None, tolerance_units: int | None = None, tolerance_pct: float | None = None
) -> tuple[AccuracyRow, list[AccuracyRow]]:
    """Inventory accuracy from cycle counts: the share of counts whose counted quantity is within
    tolerance of the system quantity at count time (|counted − system| ≤ max(units, pct % of system)).

    Returns (network, per location ordered by code). The seed's KPI target is 94 %. Tolerances default to
    the dashboard's (settings DOM KPI_COUNT_TOLERANCE_*), so this page and the KPI agree.
    """
    from inventory.kpis import count_tolerance
    from inventory.models import CycleCount

    default_units, default_pct = count_tolerance()
    tolerance_units = default_units if tolerance_units is None else tolerance_units
    tolerance_pct = default_pct if tolerance_pct is None else tolerance_pct

    qs = CycleCount.objects.all()
    if since is not None:
        qs = qs.filter(counted_at__gte=since)
    if until is not None:
        qs = qs.filter(counted_at__lt=until)
    per: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    codes = dict(Location.objects.values_list("id", "code"))
    for loc_id, counted, system in qs.values_list("location_id", "counted_quantity", "system_quantity").iterator(
        chunk_size=5000
    ):
        allowed = max(tolerance_units, abs(system) * tolerance_pct / 100.0)
        row = per[loc_id]
        row[0] += 1
        row[1] += abs(counted - system) <= allowed
    rows = sorted(
        (AccuracyRow(loc_id, codes.get(loc_id, str(loc_id)), n, ok) for loc_id, (n, ok) in per.items()),
        key=lambda r: r.location_code,
    )
    network = AccuracyRow(None, "network", sum(r.counts for r in rows), sum(r.within for r in rows))
    return network, rows
