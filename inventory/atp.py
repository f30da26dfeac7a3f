"""Available to promise over time: today's ATS plus supply arriving by a date, per product (network, per
channel, per location).

For a location L and a date D:  ATP(L, D) = max(0, on hand − reserved − safety stock + supply(L, ≤ D))
where supply is the open units of inbound lines due at L by D, less what is already promised to customers
against them, plus the units of shipped transfers due at L by D. Inbound already late (expected before
today) counts from today. Supply first refills a location's safety stock, so a location below its safety
stock shows supply only once it is covered again. The network figure is the sum over the locations that
serve the channel and method, then capped by the channel's pool like today's ATS. With no supply by D the
answer equals `inventory.selectors.availability_by_sku`'s.
"""

from __future__ import annotations

from bisect import insort
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.utils import timezone

from inventory import selectors as inventory_selectors
from inventory.selectors import (
    ProductAts,
    UnknownSkus,
    _ats_query_with,
    _channel_is_online,
    _location_table_for,
    channel_pool_caps,
    sql_in_list,
)

HORIZON_DAYS = 366  # how far a timeline looks ahead


@dataclass(slots=True)
class DatedLocation:
    location_id: int
    location_code: str
    available_now: int
    supply: int  # units arriving by the date (inbound less promised, plus transfers)
    available: int


@dataclass(slots=True)
class DatedAts:
    product_id: int
    sku: str
    on: date
    available_now: int
    supply: int
    available: int
    locations: list[DatedLocation] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class TimelinePoint:
    on: date
    available: int


@dataclass(slots=True)
class Timeline:
    sku: str
    points: list[TimelinePoint]

    def earliest_for(self, quantity: int) -> date | None:
        """The first date with at least `quantity` units available to promise (None: not within the horizon)."""
        return next((p.on for p in self.points if p.available >= quantity), None)


class DateInPast(ValueError):
    pass


def _supply_sql(*, product_sql: str, product_params: list, until: date, by_date: bool) -> tuple[str, list]:
    """The supply rows as `_ats_query_with`'s extra query: (product, NULL, location, units, 5 × NULL, arrival
    date): open inbound less promised, and shipped transfers, due by `until`. Without `by_date` one total per
    product and location (date NULL): the on-date answer needs no more."""
    open_units = "ln.quantity - ln.quantity_received - ln.quantity_closed - ln.quantity_promised"
    group = ", ln.expected_date" if by_date else ""
    tgroup = ", t.expected_date" if by_date else ""
    nulls = "NULL, NULL, NULL, NULL, NULL"
    products = f"(SELECT p.id FROM inventory_product p WHERE {product_sql})"
    sql = f"""
        SELECT ln.product_id, NULL, ln.location_id,
               SUM(CASE WHEN {open_units} > 0 THEN {open_units} ELSE 0 END), {nulls}{group or ", NULL"}
        FROM inventory_inboundline ln
        WHERE ln.is_open AND ln.product_id IN {products} AND ln.expected_date <= %s
        GROUP BY ln.product_id, ln.location_id{group}
        UNION ALL
        SELECT tl.product_id, NULL, t.destination_id, SUM(tl.quantity_shipped - tl.quantity_received),
               {nulls}{tgroup or ", NULL"}
        FROM inventory_transferline tl JOIN inventory_transferorder t ON t.id = tl.transfer_id
        WHERE t.status IN ('in_transit', 'partial') AND tl.product_id IN {products} AND t.expected_date <= %s
        GROUP BY tl.product_id, t.destination_id{tgroup}"""
    return sql, [*product_params, until, *product_params, until]


def _supply_read(*, rows: list[tuple], today: date) -> dict[int, dict[int, list[tuple[date, int]]]]:
    """product → location → [(arrival date, units)] from the supply rows (late inbound counts from today)."""
    out: dict[int, dict[int, list[tuple[date, int]]]] = defaultdict(lambda: defaultdict(list))
    for pid, _, lid, units, *_nulls, raw_due in rows:
        if units and units > 0:
            due = date.fromisoformat(raw_due) if isinstance(raw_due, str) else (raw_due or today)
            out[pid][lid].append((max(due, today), int(units)))
    return out


@dataclass(slots=True)
class _State:
    """One product's starting point: today's ATS (every serving location's stock row, sorted by ATS), and for
    the locations with supply their raw ATS now (may be negative: below safety stock) and code."""

    product_id: int
    sku: str
    ats: ProductAts
    raw: dict[int, int]
    codes: dict[int, str]
    supply: dict[int, list[tuple[date, int]]]


def _states(
    *,
    skus: list[str],
    channel,
    method: str | None,
    location_ids: list[int] | None,
    until: date,
    today: date,
    by_date: bool,
) -> tuple[list[_State], bool | None]:
    """Each SKU's starting point (in the order asked) and whether the channel has a pool. One round trip: the
    ATS read of today's availability query and the supply, together; raises UnknownSkus."""
    wanted = list(dict.fromkeys(skus))
    product_sql, product_params = sql_in_list("p.sku", wanted)
    now, has_pool, rows = _ats_query_with(
        product_sql=product_sql,
        product_params=product_params,
        channel=channel,
        method=method,
        location_ids=location_ids,
        positive_only=False,
        extra=_supply_sql(product_sql=product_sql, product_params=product_params, until=until, by_date=by_date),
    )
    by_sku = {pa.sku: pa for pa in now.values()}
    if missing := [s for s in wanted if s not in by_sku]:
        raise UnknownSkus(missing)
    supply = _supply_read(rows=rows, today=today) if rows else {}
    table = None
    states = []
    for sku in wanted:
        pa = by_sku[sku]
        raw: dict[int, int] = {}
        codes: dict[int, str] = {}
        mine = supply.get(pa.product_id)
        if mine:
            # The location table the ATS read just validated (PostgreSQL: against its stamp), else read afresh.
            table = table or inventory_selectors._location_table or _location_table_for(stamp=None)
            serving = table.serving[(method, _channel_is_online(channel))]
            if location_ids is not None:
                serving = serving & set(location_ids)
            mine = {lid: r for lid, r in mine.items() if lid in serving}
            for la in pa.locations:
                if la.location_id in mine:
                    raw[la.location_id] = la.on_hand - la.reserved - la.safety
            for lid in mine:
                if lid not in raw:  # no stock row yet: only the location's safety stock
                    raw[lid] = -table.info[lid][2]
                codes[lid] = table.info[lid][0]
        states.append(_State(pa.product_id, sku, pa, raw, codes, mine or {}))
    return states, has_pool


def _dated_row(*, st: _State, on: date) -> DatedAts:
    """One SKU on a date: the locations without supply as today (already in ATS order), those with supply
    raised by what arrives."""
    row = DatedAts(st.product_id, st.sku, on, st.ats.available, 0, st.ats.available)
    for la in st.ats.locations:
        if la.available <= 0:
            break  # sorted by ATS: the rest have none
        if la.location_id not in st.raw:
            row.locations.append(DatedLocation(la.location_id, la.location_code, la.available, 0, la.available))
    if not st.raw:
        return row
    for lid, raw in st.raw.items():
        now, then = max(0, raw), max(0, raw + sum(q for _, q in st.supply[lid]))
        row.supply += then - now
        row.available += then - now
        if then > 0:
            row.locations.append(DatedLocation(lid, st.codes[lid], now, then - now, then))
    row.locations.sort(key=lambda dl: (-dl.available, dl.location_code))
    return row


def availability_on_date(
    *, skus: list[str], on: date, channel=None, method: str | None = None, location_ids: list[int] | None = None
) -> list[DatedAts]:
    """ATP on a date per SKU (in the order asked), with the locations that can promise at least one unit.
    Raises UnknownSkus, or DateInPast for a date before today."""
    today = timezone.localdate()
    if on < today:
        raise DateInPast(f"{on} is in the past; ask for today ({today}) or later.")
    states, has_pool = _states(
        skus=skus, channel=channel, method=method, location_ids=location_ids, until=on, today=today, by_date=False
    )
    result = [_dated_row(st=st, on=on) for st in states]
    if has_pool:
        _cap_by_pool(rows=result, channel=channel)
    return result


def _cap_by_pool(*, rows: list[DatedAts], channel) -> None:
    """The channel's pool caps the network figure, today's and the dated one alike."""
    if channel is None:
        return
    ids = [r.product_id for r in rows]
    now_caps = channel_pool_caps(
        channel=channel, product_ids=ids, network_ats={r.product_id: r.available_now for r in rows}
    )
    if not now_caps:
        return
    caps = channel_pool_caps(channel=channel, product_ids=ids, network_ats={r.product_id: r.available for r in rows})
    for r in rows:
        if r.product_id in caps:
            r.available_now = min(r.available_now, now_caps[r.product_id])
            r.available = min(r.available, caps[r.product_id])
            r.supply = max(0, r.available - r.available_now)


def availability_timeline(
    *,
    sku: str,
    channel=None,
    method: str | None = None,
    location_ids: list[int] | None = None,
    days: int = HORIZON_DAYS,
) -> Timeline:
    """The network ATP of one SKU today and on every later date where supply arrives (within `days`)."""
    today = timezone.localdate()
    until = today + timedelta(days=days)
    (st,), has_pool = _states(
        skus=[sku], channel=channel, method=method, location_ids=location_ids, until=until, today=today, by_date=True
    )
    running = dict(st.raw)
    total = st.ats.available
    events: list[tuple[date, int, int]] = []
    for lid, rows in st.supply.items():
        for due, q in rows:
            insort(events, (due, lid, q))
    points = [TimelinePoint(today, total)]
    for due, lid, q in events:
        before = max(0, running[lid])
        running[lid] += q
        total += max(0, running[lid]) - before
        if points[-1].on == due:
            points[-1] = TimelinePoint(due, total)
        else:
            points.append(TimelinePoint(due, total))
    if has_pool:
        points = _capped_points(points=points, channel=channel, product_id=st.product_id)
    return Timeline(st.sku, points)


def _capped_points(*, points: list[TimelinePoint], channel, product_id: int) -> list[TimelinePoint]:
    if not channel_pool_caps(channel=channel, product_ids=[product_id], network_ats={}):
        return points
    out = []
    for p in points:
        cap = channel_pool_caps(channel=channel, product_ids=[product_id], network_ats={product_id: p.available})
        out.append(TimelinePoint(p.on, min(p.available, cap[product_id])))
    return out
