"""Reads of the inventory truth: ATS per product × location, network totals per channel and method.

ATS(product, location) = max(0, on_hand − reserved − safety stock). The network figure for a channel is
the sum over the locations that serve the channel and method, then capped by the channel's pool.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, NamedTuple

from django.conf import settings
from django.db import connection
from django.db.models import F, Q, Sum
from django.utils import timezone

from common.dbrouting import read_connection
from common.geo import haversine_km, zip_centroid
from common.rows import sql_prepared_rows
from inventory.models import (
    ChannelAllocation,
    InboundLine,
    Location,
    LocationClosure,
    LocationKind,
    Product,
    Reservation,
    ReservationLine,
    SafetyStockRule,
    StockLevel,
    StockShortage,
    TransferLine,
    TransferOrder,
)

if TYPE_CHECKING:
    from orders.models import Channel

# Fulfilment methods as the availability API names them.
METHODS = ("ship", "pickup", "same_day", "ship_to_store")


class LocationAts(NamedTuple):
    """One stock row's ATS. A named tuple: reads build hundreds per call, and a tuple is the cheapest."""

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


# Safety stock, the most specific rule winning: product+location > product+kind > product > location > kind >
# network-wide. Resolved in two steps so that no read runs a subquery per stock row:
# - LOCATIONS_SQL: every location with the rule that applies to any product there (location > kind >
#   network), a small derived table joined once (MAX picks one of duplicate rules, which only SQLite can
#   hold: it cannot enforce the NULLS NOT DISTINCT unique constraint);
# - _product_safety_sql: for stock row `s`, the product's own rule (product+location > product+kind >
#   product), looked up only when the product has one (a hashed set, built once per query; rare), else NULL.
LOCATIONS_SQL = """
    SELECT l.id, l.code, l.kind, COALESCE(rl.q, rk.q, rn.q, 0) AS safety,
           l.is_active, l.sell_online, l.can_ship, l.can_pickup, l.can_same_day
    FROM inventory_location l
    LEFT JOIN (SELECT location_id, MAX(quantity) AS q FROM inventory_safetystockrule
               WHERE product_id IS NULL AND location_id IS NOT NULL GROUP BY location_id) rl ON rl.location_id = l.id
    LEFT JOIN (SELECT location_kind, MAX(quantity) AS q FROM inventory_safetystockrule
               WHERE product_id IS NULL AND location_id IS NULL GROUP BY location_kind) rk ON rk.location_kind = l.kind
    LEFT JOIN (SELECT MAX(quantity) AS q FROM inventory_safetystockrule
               WHERE product_id IS NULL AND location_id IS NULL AND location_kind = '') rn ON TRUE"""


def _product_safety_sql(*, kind: str) -> str:
    """PRODUCT_SAFETY_SQL for stock row `s` whose location's kind is the SQL expression `kind`."""
    return f"""CASE WHEN s.product_id IN (
            SELECT r.product_id FROM inventory_safetystockrule r WHERE r.product_id IS NOT NULL)
        THEN (SELECT r.quantity FROM inventory_safetystockrule r
              WHERE r.product_id = s.product_id
                AND (r.location_id = s.location_id OR (r.location_id IS NULL AND r.location_kind IN ({kind}, '')))
              ORDER BY (r.location_id IS NOT NULL) DESC, (r.location_kind <> '') DESC
              LIMIT 1) END"""


# Safety stock of stock row `s` at location `ls` (a LOCATIONS_SQL row), for set-based reads.
SAFETY_SQL = f"COALESCE({_product_safety_sql(kind='ls.kind')}, ls.safety)"


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


def _serves(*, row: tuple, method: str | None, online: bool) -> bool:
    """Whether a LOCATIONS_SQL row serves a fulfilment method (and online channels)."""
    _id, _code, kind, _safety, is_active, sell_online, can_ship, can_pickup, can_same_day = row
    if not is_active or (online and not sell_online):
        return False
    if method in ("ship", "ship_to_store"):
        return bool(can_ship)
    if method == "pickup":
        return bool(can_pickup) and kind == LocationKind.STORE.value
    if method == "same_day":
        return bool(can_same_day)
    return True


# PostgreSQL: a fingerprint of what _LocationTable is read from (the locations and the safety rules without a
# product), computed in the same statement as the stock rows; two scans of small tables. Every row version
# carries the transaction that wrote it (xmin) and the command number within that transaction (cmin), so any
# insert, update or delete changes the count, Σxmin or Σcmin: committed by another process, or made earlier
# in this very transaction, through the ORM, a queryset update or raw SQL alike. A rolled-back write leaves
# an xmin no committed row can carry, so a table read inside it is never taken for the committed one.
_STAMP_PART = (
    "(SELECT COUNT(*) || ':' || COALESCE(SUM(xmin::text::bigint), 0) || ':' || COALESCE(SUM(cmin::text::bigint), 0)"
    " FROM {})"
)
STAMP_SQL = (
    "hashtextextended("
    + _STAMP_PART.format("inventory_location")
    + " || '/' || "
    + _STAMP_PART.format("inventory_safetystockrule WHERE product_id IS NULL")
    + ", 0)"
)


@dataclass(frozen=True, slots=True)
class _LocationTable:
    """Every location's code, kind and location-level safety stock, and the locations serving each method
    for online and offline channels: one read of a small table that changes rarely."""

    stamp: int | None
    info: dict[int, tuple[str, str, int]]  # id → (code, kind, safety)
    serving: dict[tuple[str | None, bool], frozenset[int]]


_location_table: _LocationTable | None = None


def _location_table_for(*, stamp: int | None) -> _LocationTable:
    """The location table, reused while `stamp` (STAMP_SQL, as read with the stock rows) is unchanged.
    Without a stamp (SQLite) it is read every time. Kept per process; replaced whole, so threads may share it."""
    global _location_table
    table = _location_table
    if table is not None and stamp is not None and table.stamp == stamp:
        return table
    pg = connection.vendor == "postgresql"
    with read_connection().cursor() as cur:
        cur.execute(f"SELECT ls.*, {STAMP_SQL if pg else 'NULL'} FROM ({LOCATIONS_SQL}) ls")
        rows = cur.fetchall()
    table = _LocationTable(
        stamp=rows[0][-1] if rows else None,
        info={r[0]: (r[1], r[2], r[3]) for r in rows},
        serving={
            (method, online): frozenset(r[0] for r in rows if _serves(row=r[:-1], method=method, online=online))
            for method in (None, *METHODS)
            for online in (False, True)
        },
    )
    _location_table = table
    return table


def _channel_is_online(channel: Channel | None) -> bool:
    return channel is not None and channel.kind != "pos"


def channel_pool_caps(
    *, channel: Channel | None, product_ids: list[int], network_ats: dict[int, int]
) -> dict[int, int]:
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


def sql_in_list(column: str, values: Iterable) -> tuple[str, list]:
    """`column IN (…)` as SQL and params; `= ANY(%s)` with one array parameter on PostgreSQL, so the statement
    text is stable and psycopg does not render thousands of placeholders value by value in Python."""
    values = list(values)
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)", [values]
    return f"{column} IN ({', '.join(['%s'] * len(values))})", values


def _by_ats(la: LocationAts) -> tuple[int, str]:
    return -la.available, la.location_code


def _ats_query(
    *,
    product_sql: str,
    product_params: list,
    channel: Channel | None,
    method: str | None,
    location_ids: Iterable[int] | None,
    positive_only: bool = False,
) -> tuple[dict[int, ProductAts], bool | None]:
    """One query: every product matching `product_sql` (on `p`) with its stock rows; the locations (which
    serve the channel and method, their codes and safety stock) come from the location table. Each
    product's locations are ordered by ATS (highest first) then code; with `positive_only`, those with no
    ATS are left out. Returns the products and whether the channel has any allocation pool (None when no
    channel)."""
    result, has_pool, _ = _ats_query_with(
        product_sql=product_sql,
        product_params=product_params,
        channel=channel,
        method=method,
        location_ids=location_ids,
        positive_only=positive_only,
        extra=None,
    )
    return result, has_pool


def _ats_query_with(
    *,
    product_sql: str,
    product_params: list,
    channel: Channel | None,
    method: str | None,
    location_ids: Iterable[int] | None,
    positive_only: bool,
    extra: tuple[str, list] | None,
) -> tuple[dict[int, ProductAts], bool | None, list[tuple]]:
    """`_ats_query`, plus the rows of `extra` read in the same round trip (UNION ALL): a query of ten columns
    whose second (where the stock rows have the SKU) is NULL, e.g. the supply of the dated availability
    query. Returns the products, whether the channel has a pool, and the extra rows."""
    pg = connection.vendor == "postgresql"
    pool_sql, params = "NULL", []
    if channel is not None:
        pool_sql = "(SELECT COUNT(*) FROM inventory_channelallocation a WHERE a.channel_id = %s)"
        params.append(channel.pk)
    stock_sql = ""
    if location_ids is not None:
        in_sql, in_params = sql_in_list("s.location_id", list(location_ids) or [0])
        stock_sql = " AND " + in_sql
        params += in_params
    kind_sql = "(SELECT l.kind FROM inventory_location l WHERE l.id = s.location_id)"
    sql = f"""
        SELECT p.id, p.sku, s.location_id, s.on_hand, s.reserved, s.id, {_product_safety_sql(kind=kind_sql)},
               {STAMP_SQL if pg else "NULL"}, {pool_sql}{", NULL" if extra else ""}
        FROM inventory_product p
        LEFT JOIN inventory_stocklevel s ON s.product_id = p.id{stock_sql}
        WHERE {product_sql}"""
    params += product_params
    if extra:
        sql += " UNION ALL " + extra[0]
        params += extra[1]
    with read_connection().cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    others: list[tuple] = []
    if extra:
        others = [r for r in rows if r[1] is None]
        rows = [r[:9] for r in rows if r[1] is not None]
    result, has_pool = _ats_rows_read(rows=rows, channel=channel, method=method, positive_only=positive_only)
    return result, has_pool, others


def _ats_rows_read(
    *, rows: list[tuple], channel: Channel | None, method: str | None, positive_only: bool
) -> tuple[dict[int, ProductAts], bool | None]:
    result: dict[int, ProductAts] = {}
    has_pool: bool | None = None
    if not rows:
        return result, has_pool
    table = _location_table_for(stamp=rows[0][7])
    serving = table.serving[(method, _channel_is_online(channel))]
    info = table.info
    for pid, sku, lid, on_hand, reserved, sid, product_safety, _stamp, pools in rows:
        pa = result.get(pid)
        if pa is None:
            pa = result[pid] = ProductAts(product_id=pid, sku=sku)
            if pools is not None:
                has_pool = pools > 0
        if lid not in serving:  # also: no stock at all (lid is None)
            continue
        code, kind, safety = info[lid]
        if product_safety is not None:
            safety = product_safety
        avail = on_hand - reserved - safety
        if avail > 0:
            pa.available += avail
        elif positive_only:
            continue
        else:
            avail = 0
        pa.locations.append(LocationAts(lid, code, kind, on_hand, reserved, safety, avail, sid))
    for pa in result.values():
        pa.locations.sort(key=_by_ats)
    return result, has_pool


def _apply_pools(*, result: dict[int, ProductAts], channel: Channel | None, has_pool: bool | None) -> None:
    if channel is not None and has_pool is not False:
        network = {pid: pa.available for pid, pa in result.items()}
        caps = channel_pool_caps(channel=channel, product_ids=list(result), network_ats=network)
        for pid, cap in caps.items():
            result[pid].available = min(result[pid].available, cap)


def ats_for_products(
    *,
    product_ids: list[int],
    channel: Channel | None = None,
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
    product_sql, product_params = sql_in_list("p.id", ids)
    result, has_pool = _ats_query(
        product_sql=product_sql,
        product_params=product_params,
        channel=channel,
        method=method,
        location_ids=location_ids,
    )
    _apply_pools(result=result, channel=channel, has_pool=has_pool)
    return result


def availability_by_sku(
    *, skus: list[str], channel: Channel | None = None, method: str | None = None
) -> list[ProductAts]:
    """ATS for SKUs in the order asked (one query in the common case); raises UnknownSkus listing any
    SKU that does not exist. Each product lists only the locations that can sell at least one unit."""
    wanted = list(dict.fromkeys(skus))
    product_sql, product_params = sql_in_list("p.sku", wanted)
    result, has_pool = _ats_query(
        product_sql=product_sql,
        product_params=product_params,
        channel=channel,
        method=method,
        location_ids=None,
        positive_only=True,
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
    preferred: bool = False  # the customer's preferred store


def pickup_stores_near(
    *,
    sku: str,
    quantity: int,
    postal_code: str,
    radius_km: float,
    channel: Channel | None = None,
    preferred_location_code: str = "",
) -> list[PickupOption]:
    """Stores that can hand over `quantity` of `sku` within `radius_km` of a US ZIP, nearest first; the
    customer's preferred store (`preferred_location_code`) first when it can, even beyond the radius."""
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
        preferred = bool(preferred_location_code) and code == preferred_location_code
        if d <= radius_km or preferred:
            options.append(PickupOption(code, name, round(d, 1), by_location[pk], zip_, city, preferred))
    options.sort(key=lambda o: (not o.preferred, o.distance_km, o.location_code))
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
                FROM inventory_stocklevel s JOIN ({LOCATIONS_SQL} WHERE l.is_active) ls ON ls.id = s.location_id
            ) x
            GROUP BY x.product_id
        ) a ON a.product_id = p.id
        WHERE p.is_active AND COALESCE(a.ats, 0) < COALESCE(p.low_stock_threshold, %s)
        ORDER BY ats, p.sku
        {"LIMIT %s" if limit else ""}
    """
    params: list = [default, default] + ([limit] if limit else [])
    with read_connection().cursor() as cur:
        cur.execute(sql, params)
        return [(r[0], r[1], int(r[2]), int(r[3])) for r in cur.fetchall()]


class LowStockRow(NamedTuple):
    """A product low on stock in the network (location_id None) or at one location."""

    product_id: int
    sku: str
    location_id: int | None
    location_code: str | None
    ats: int
    threshold: int


def _ids_filter(column: str, ids: Iterable[int] | None) -> tuple[str, list]:
    if ids is None:
        return "", []
    ids = sorted(ids)
    if connection.vendor == "postgresql":
        return f" AND {column} = ANY(%s::bigint[])", [ids]
    return f" AND {column} IN ({', '.join(['%s'] * len(ids)) or 'NULL'})", ids


def low_stock_state(
    *, product_ids: Iterable[int] | None = None, location_ids: Iterable[int] | None = None
) -> list[LowStockRow]:
    """What is low now among these products (None: all): the network rows (ATS over the active locations
    below the product's threshold, or DOM["LOW_STOCK_THRESHOLD"]) and the per-location rows (a stock row's
    ATS below its location's `low_stock_threshold`; only locations that set one, only `location_ids` when
    given). One statement, set-based, with the same safety-stock rule (SAFETY_SQL) as ATS."""
    default = int(settings.DOM["LOW_STOCK_THRESHOLD"])
    p_sql, p_params = _ids_filter("s.product_id", product_ids)
    pp_sql, pp_params = _ids_filter("p.id", product_ids)
    l_sql, l_params = _ids_filter("x.location_id", location_ids)
    # The product's stock rows first (materialized: the index on product × location, one probe per product),
    # then the locations by hash. Left to itself the planner may probe every location × product instead.
    sql = f"""
        WITH rows AS MATERIALIZED (
            SELECT s.product_id, s.location_id, s.on_hand - s.reserved AS free FROM inventory_stocklevel s
            WHERE TRUE{p_sql}
        ), locs AS MATERIALIZED ({LOCATIONS_SQL} WHERE l.is_active),
        x AS MATERIALIZED (
            SELECT s.product_id, s.location_id, ls.code AS location_code,
                   CASE WHEN s.free - {SAFETY_SQL} > 0 THEN s.free - {SAFETY_SQL} ELSE 0 END AS ats
            FROM rows s JOIN locs ls ON ls.id = s.location_id
        )
        SELECT p.id, p.sku, NULL, NULL, COALESCE(n.ats, 0), COALESCE(p.low_stock_threshold, %s)
        FROM inventory_product p
        LEFT JOIN (SELECT product_id, SUM(ats) AS ats FROM x GROUP BY product_id) n ON n.product_id = p.id
        WHERE p.is_active AND COALESCE(n.ats, 0) < COALESCE(p.low_stock_threshold, %s){pp_sql}
        UNION ALL
        SELECT p.id, p.sku, x.location_id, x.location_code, x.ats, loc.low_stock_threshold
        FROM x JOIN inventory_location loc ON loc.id = x.location_id JOIN inventory_product p ON p.id = x.product_id
        WHERE p.is_active AND loc.low_stock_threshold IS NOT NULL AND x.ats < loc.low_stock_threshold{l_sql}
    """
    with connection.cursor() as cur:
        cur.execute(sql, [*p_params, default, default, *pp_params, *l_params])
        return [LowStockRow(r[0], r[1], r[2], r[3], int(r[4]), int(r[5])) for r in cur.fetchall()]


def low_stock_candidates(*, levels: list[tuple[int, int, int, int]]) -> set[int]:
    """The products among these stock rows [(product, location, on_hand, reserved)] that might be low now:
    every product but those proven not low by the rows themselves. A row whose ATS alone reaches the
    product's network threshold proves the network is not low (ATS adds up over locations); a product is
    still a candidate when one of its rows sits at a location with its own threshold and is below it.
    Three small reads (products, locations, safety rules), no scan of stock: the cheap first pass of the
    in-transaction `stock.low` check, which runs `low_stock_state` only for the candidates."""
    products = {p for p, _, _, _ in levels}
    if not products:
        return set()
    default = int(settings.DOM["LOW_STOCK_THRESHOLD"])
    thresholds = {
        pk: (default if t is None else t)
        for pk, t in Product.objects.filter(pk__in=products, is_active=True).values_list("pk", "low_stock_threshold")
    }
    locs = {
        pk: (kind, active, t)
        for pk, kind, active, t in Location.objects.filter(pk__in={loc for _, loc, _, _ in levels}).values_list(
            "pk", "kind", "is_active", "low_stock_threshold"
        )
    }
    safety = SafetyStock(product_ids=products)
    proven, below_here = set(), set()
    for p, loc, on_hand, reserved in levels:
        if p not in thresholds or loc not in locs:
            continue
        kind, active, loc_threshold = locs[loc]
        if not active:
            continue
        ats = max(on_hand - reserved - safety.quantity(product_id=p, location_id=loc, kind=kind), 0)
        if ats >= thresholds[p]:
            proven.add(p)
        if loc_threshold is not None and ats < loc_threshold:
            below_here.add(p)
    return (set(thresholds) - proven) | below_here


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
        JOIN ({LOCATIONS_SQL} WHERE l.is_active) ls ON ls.id = s.location_id
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
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    tolerance_units: int | None = None,
    tolerance_pct: float | None = None,
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


@dataclass(slots=True)
class FeedStatus:
    """One WMS feed as the feeds screen shows it: never its URL, directory or secret variable."""

    feed: object
    runs: list
    last_ok_at: object
    lag_minutes: int | None  # since the last run that succeeded (or found nothing new); None: never
    overdue: bool
    failures_24h: int
    can_run_now: bool


def wms_feeds_status(*, runs_per_feed: int = 5) -> list[FeedStatus]:
    """Every WMS feed with its last runs, how long since it last ran well (lag) and its failures of the last
    24 hours. A feed is overdue when that lag exceeds twice its schedule."""
    from datetime import timedelta

    from django.utils import timezone

    from inventory.models import FeedRun, WmsFeed

    now = timezone.now()
    ok = (FeedRun.Status.SUCCEEDED, FeedRun.Status.SKIPPED)
    out = []
    for feed in WmsFeed.objects.order_by("name"):
        runs = list(feed.runs.order_by("-started_at", "-id")[:runs_per_feed])
        last_ok = (
            feed.runs.filter(status__in=ok).order_by("-started_at").values_list("finished_at", "started_at").first()
        )
        last_ok_at = (last_ok[0] or last_ok[1]) if last_ok else None
        lag = int((now - last_ok_at).total_seconds() // 60) if last_ok_at else None
        pulled = feed.transport != WmsFeed.Transport.HTTP_PUSH
        out.append(
            FeedStatus(
                feed=feed,
                runs=runs,
                last_ok_at=last_ok_at,
                lag_minutes=lag,
                overdue=bool(feed.is_active and pulled and (lag is None or lag > 2 * feed.every_minutes)),
                failures_24h=feed.runs.filter(
                    status__in=FeedRun.FAILURES, started_at__gte=now - timedelta(hours=24)
                ).count(),
                can_run_now=feed.is_active and pulled,
            )
        )
    return out


def shortage_source_describe(*, source: str) -> dict:
    """What revealed a shortage, in words, with the stock import to link to when it was one:
    "import:12" -> {"label": "Stock file import 12", "import_id": 12}."""
    kind, _, ref = (source or "").partition(":")
    if kind == "import" and ref.isdigit():
        return {"label": f"Stock file import {ref}", "import_id": int(ref), "feed": False}
    if kind == "feed":
        name, _, rest = ref.partition(":")
        detail = rest.replace("run:", "run ") if rest else ""
        return {"label": f"WMS feed {name}" + (f", {detail}" if detail else ""), "import_id": None, "feed": True}
    if kind == "count" and ref.isdigit():
        return {"label": f"Cycle count {ref}", "import_id": None, "feed": False}
    return {"label": source or "—", "import_id": None, "feed": False}


@dataclass(frozen=True, slots=True)
class SupplyArrival:
    """Units of one product that become available to promise at a location on a date: an open inbound line
    (less what is already promised to backorders) or a shipped transfer still in transit."""

    source: str  # "inbound" or "in_transit"
    location_id: int
    on: date
    units: int
    inbound_line_id: int | None
    reference: str  # the PO / ASN number, or the transfer number


def supply_arrivals(*, product_id: int, until: date) -> list[SupplyArrival]:
    """What arrives for `product_id` by `until`, earliest first (late inbound counts from today), as the
    dated availability counts it: a location below its safety stock is refilled first, so the first units
    arriving there only cover the deficit and are left out."""
    today = timezone.localdate()
    open_units = F("quantity") - F("quantity_received") - F("quantity_closed") - F("quantity_promised")
    rows: list[tuple] = [
        ("inbound", lid, max(due, today), units, pk, number)
        for pk, lid, due, units, number in InboundLine.objects.filter(
            product_id=product_id, is_open=True, expected_date__lte=until
        )
        .annotate(units=open_units)
        .filter(units__gt=0)
        .values_list("pk", "location_id", "expected_date", "units", "shipment__number")
    ]
    rows += [
        ("in_transit", lid, max(due, today), units, None, number)
        for lid, due, units, number in TransferLine.objects.filter(
            product_id=product_id,
            transfer__status__in=(TransferOrder.Status.IN_TRANSIT, TransferOrder.Status.PARTIAL),
            transfer__expected_date__lte=until,
        )
        .annotate(units=F("quantity_shipped") - F("quantity_received"))
        .filter(units__gt=0)
        .values_list("transfer__destination_id", "transfer__expected_date", "units", "transfer__number")
    ]
    rows.sort(key=lambda r: (r[2], r[0], r[5]))
    safety = SafetyStock(product_ids=[product_id]).quantity
    kinds = dict(Location.objects.filter(pk__in={r[1] for r in rows}).values_list("pk", "kind"))
    levels = dict(
        StockLevel.objects.filter(product_id=product_id, location_id__in=list(kinds)).values_list(
            "location_id", F("on_hand") - F("reserved")
        )
    )
    deficit = {
        lid: max(0, safety(product_id=product_id, location_id=lid, kind=kind) - levels.get(lid, 0))
        for lid, kind in kinds.items()
    }
    out = []
    for source, lid, on, units, line_id, ref in rows:
        cover = min(units, deficit[lid])
        deficit[lid] -= cover
        if units > cover:
            out.append(SupplyArrival(source, lid, on, units - cover, line_id, ref))
    return out


def location_closures() -> dict[int, frozenset[date]]:
    """The days each location is closed ({location id: days}; locations without closures are absent)."""
    out: dict[int, set[date]] = defaultdict(set)
    for loc_id, day in LocationClosure.objects.values_list("location_id", "date"):
        out[loc_id].add(day)
    return {loc_id: frozenset(days) for loc_id, days in out.items()}


# How the safety-stock screen names each forecast model of inventory.forecasting (never a library class name;
# a test checks both names are covered). Here, so the screen does not import numpy and scipy.
FORECAST_MODEL_WORDS = {"AutoETS": "weekly pattern model", "SeasonalNaive": "same weekday of last week"}


def safety_proposals_board(*, location_code: str = "", page: int = 1, per_page: int = 50, recent: int = 50) -> dict:
    """The safety-stock screen: one page of pending proposals (largest change first, optionally of one
    location) with their forecast's backtest, the locations that have proposals, and the latest decisions."""
    from django.db.models import F
    from django.db.models.functions import Abs, Coalesce

    from inventory.models import DemandForecast, SafetyStockProposal

    waiting = SafetyStockProposal.objects.filter(status=SafetyStockProposal.Status.PENDING)
    locations = list(
        Location.objects.filter(pk__in=waiting.values("location_id")).order_by("code").values_list("code", "name")
    )
    if location_code:
        waiting = waiting.filter(location__code=location_code)
    total = waiting.count()
    pages = max(1, -(-total // per_page))
    page = min(max(page, 1), pages)
    pending = list(
        waiting.annotate(change=Abs(F("proposed_quantity") - Coalesce("current_quantity", 0)))
        .select_related("product", "location")
        .order_by("-change", "product__sku", "location__code")[(page - 1) * per_page : page * per_page]
    )
    wapes = {
        (pid, lid): (w, wn, m)
        for pid, lid, w, wn, m in DemandForecast.objects.filter(
            product_id__in={p.product_id for p in pending}, location_id__in={p.location_id for p in pending}
        ).values_list("product_id", "location_id", "wape", "wape_naive", "model")
    }
    for p in pending:
        p.wape, p.wape_naive, p.model = wapes.get((p.product_id, p.location_id), (None, None, ""))
        p.model_words = FORECAST_MODEL_WORDS.get(p.model, "")
    decided = list(
        SafetyStockProposal.objects.filter(
            status__in=[SafetyStockProposal.Status.APPROVED, SafetyStockProposal.Status.REJECTED]
        )
        .select_related("product", "location", "decided_by")
        .order_by("-decided_at", "-pk")[:recent]
    )
    made = DemandForecast.objects.order_by("-made_at").values_list("made_at", flat=True).first()
    return {
        "pending": pending,
        "pending_count": total,
        "page": page,
        "pages": pages,
        "location_code": location_code,
        "locations": locations,
        "decided": decided,
        "forecast_made_at": made,
    }


# Demand forecasts as routing's look-ahead reads them (inventory.services.forecasts_refresh stores them daily).
FALLBACK_DAYS = 7  # without a stored forecast: the units reserved at the location over this many days, per day


def _forecast_first_day(made_at: datetime) -> date:
    """The day a stored forecast's first value is for: the day after it was made (local time)."""
    return timezone.localtime(made_at).date() + timedelta(days=1)


def _reserved_per_day(*, pairs: set[tuple[int, int]], before: datetime, days: int) -> dict[tuple[int, int], float]:
    """Units reserved per day for each (product, location) over the `days` days before `before`."""
    from inventory.models import InventoryMovement

    if not pairs or days <= 0:
        return {}
    rows = (
        InventoryMovement.objects.filter(
            reason=InventoryMovement.Reason.RESERVE,
            delta_reserved__gt=0,
            created_at__gte=before - timedelta(days=days),
            created_at__lt=before,
            product_id__in={p for p, _ in pairs},
            location_id__in={lid for _, lid in pairs},
        )
        .order_by()
        .values_list("product_id", "location_id")
        .annotate(units=Sum("delta_reserved"))
    )
    return {(pid, lid): units / days for pid, lid, units in rows if (pid, lid) in pairs}


def demand_forecast_ahead(
    *,
    product_ids: Iterable[int],
    location_ids: Iterable[int],
    start: datetime,
    end: datetime,
    fallback_days: int = FALLBACK_DAYS,
) -> dict[tuple[int, int], float]:
    """Forecast units of each product at each location between `start` and `end`, from the stored daily
    forecasts (two queries whatever the count); a pair without a forecast counts at the rate its location
    reserved the product over the last `fallback_days` days. Pairs with no expected demand are left out."""
    from inventory.forecasting import forecast_units_window
    from inventory.models import DemandForecast

    pids, lids = set(product_ids), set(location_ids)
    if not pids or not lids or end <= start:
        return {}
    local = timezone.localtime(start)
    out: dict[tuple[int, int], float] = {}
    rows = DemandForecast.objects.filter(product_id__in=pids, location_id__in=lids).values_list(
        "product_id", "location_id", "made_at", "daily", "daily_mean"
    )
    for pid, lid, made, daily, mean in rows:
        units = forecast_units_window(
            daily=daily, first_day=_forecast_first_day(made), start=local, end=end, fallback=mean
        )
        if units > 0:
            out[(pid, lid)] = units
    missing = {(p, lid) for p in pids for lid in lids} - {(p, lid) for p, lid, *_ in rows}
    hours = (end - start).total_seconds() / 3600.0
    for pair, per_day in _reserved_per_day(pairs=missing, before=start, days=fallback_days).items():
        if per_day > 0:
            out[pair] = per_day * hours / 24.0
    return out


def forecast_units_between(
    *, product_id: int, location_id: int, start: datetime, end: datetime, fallback_days: int = FALLBACK_DAYS
) -> float:
    """Forecast units of a product at a location between two moments (see `demand_forecast_ahead`)."""
    return demand_forecast_ahead(
        product_ids=[product_id], location_ids=[location_id], start=start, end=end, fallback_days=fallback_days
    ).get((product_id, location_id), 0.0)


def demand_forecast_location_daily(*, location_id: int, days: int = 7) -> list[dict]:
    """A location's stored forecast by day: for each of the next `days` days from the forecasts' first day,
    the forecast units over every product, and the products forecast (busiest first by their total)."""
    from inventory.models import DemandForecast

    rows = list(DemandForecast.objects.filter(location_id=location_id).values_list("product_id", "made_at", "daily"))
    if not rows:
        return []
    first = _forecast_first_day(max(made for _, made, _ in rows))
    totals = [0.0] * days
    for _, made, daily in rows:
        shift = (_forecast_first_day(made) - first).days
        for i in range(days):
            j = i - shift
            if 0 <= j < len(daily):
                totals[i] += max(0.0, float(daily[j]))
    return [
        {"day": first + timedelta(days=i), "units": round(units, 3), "products": len(rows)}
        for i, units in enumerate(totals)
    ]


def product_facts_by_sku(*, skus: Iterable[str]) -> dict[str, tuple[int, bool]]:
    """{sku: (product id, is_active)} of the catalogue's products among `skus`, in one query (no model
    instances; on PostgreSQL one array parameter and a statement text that never changes, so nothing is
    compiled per call: the order doors ask this for every order)."""
    skus = list(skus)
    if not skus:
        return {}
    if connection.vendor != "postgresql":
        rows = Product.objects.filter(sku__in=skus).values_list("sku", "pk", "is_active")
        return {sku: (pk, active) for sku, pk, active in rows}
    rows = sql_prepared_rows(
        sql=f"SELECT sku, id, is_active FROM {Product._meta.db_table} WHERE sku = ANY(%s)", params=[skus]
    )
    return {sku: (pk, active) for sku, pk, active in rows}
