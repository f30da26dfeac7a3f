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

from django.db import connection
from django.utils import timezone

from inventory import selectors as inventory_selectors
from inventory.models import Product
from inventory.selectors import (
    UnknownSkus,
    _channel_is_online,
    _location_table_for,
    ats_for_products,
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


def _supply(*, product_ids: list[int], until: date, today: date) -> dict[int, dict[int, list[tuple[date, int]]]]:
    """product → location → [(arrival date, units)]: open inbound less promised, and shipped transfers."""
    in_sql, params = sql_in_list("ln.product_id", product_ids)
    tin_sql, tparams = sql_in_list("tl.product_id", product_ids)
    sql = f"""
        SELECT ln.product_id, s.location_id, ln.expected_date,
               SUM(CASE WHEN ln.quantity - ln.quantity_received - ln.quantity_closed - ln.quantity_promised > 0
                        THEN ln.quantity - ln.quantity_received - ln.quantity_closed - ln.quantity_promised ELSE 0 END)
        FROM inventory_inboundline ln JOIN inventory_inboundshipment s ON s.id = ln.shipment_id
        WHERE ln.is_open AND {in_sql} AND ln.expected_date <= %s
        GROUP BY ln.product_id, s.location_id, ln.expected_date
        UNION ALL
        SELECT tl.product_id, t.destination_id, t.expected_date, SUM(tl.quantity_shipped - tl.quantity_received)
        FROM inventory_transferline tl JOIN inventory_transferorder t ON t.id = tl.transfer_id
        WHERE t.status IN ('in_transit', 'partial') AND {tin_sql} AND t.expected_date <= %s
        GROUP BY tl.product_id, t.destination_id, t.expected_date"""
    out: dict[int, dict[int, list[tuple[date, int]]]] = defaultdict(lambda: defaultdict(list))
    with connection.cursor() as cur:
        cur.execute(sql, [*params, until, *tparams, until])
        for pid, lid, raw_due, units in cur.fetchall():
            if units and units > 0:
                due = date.fromisoformat(raw_due) if isinstance(raw_due, str) else raw_due
                out[pid][lid].append((max(due, today), int(units)))
    return out


@dataclass(slots=True)
class _State:
    """One product's starting point: each serving location's raw ATS now (may be negative: below safety)."""

    product_id: int
    sku: str
    base: dict[int, int]
    codes: dict[int, str]
    supply: dict[int, list[tuple[date, int]]]


def _states(
    *, products: list[Product], channel, method: str | None, location_ids: list[int] | None, until: date, today: date
) -> list[_State]:
    ids = [p.pk for p in products]
    now = ats_for_products(product_ids=ids, channel=channel, method=method, location_ids=location_ids)
    # The location table the ATS read just validated (PostgreSQL: against its stamp), else read afresh.
    table = inventory_selectors._location_table or _location_table_for(stamp=None)
    serving = table.serving[(method, _channel_is_online(channel))]
    if location_ids is not None:
        serving = serving & set(location_ids)
    supply = _supply(product_ids=ids, until=until, today=today)
    states = []
    for p in products:
        base = {la.location_id: la.on_hand - la.reserved - la.safety for la in now[p.pk].locations}
        mine = {lid: rows for lid, rows in supply.get(p.pk, {}).items() if lid in serving}
        for lid in mine:
            base.setdefault(lid, -table.info[lid][2])  # no stock row yet: only the location's safety stock
        codes = {lid: table.info[lid][0] for lid in base}
        states.append(_State(p.pk, p.sku, base, codes, mine))
    return states


def _products(skus: list[str]) -> list[Product]:
    wanted = list(dict.fromkeys(skus))
    found = {p.sku: p for p in Product.objects.filter(sku__in=wanted).only("pk", "sku")}
    if missing := [s for s in wanted if s not in found]:
        raise UnknownSkus(missing)
    return [found[s] for s in wanted]


def availability_on_date(
    *, skus: list[str], on: date, channel=None, method: str | None = None, location_ids: list[int] | None = None
) -> list[DatedAts]:
    """ATP on a date per SKU (in the order asked), with the locations that can promise at least one unit.
    Raises UnknownSkus, or DateInPast for a date before today."""
    today = timezone.localdate()
    if on < today:
        raise DateInPast(f"{on} is in the past; ask for today ({today}) or later.")
    products = _products(skus)
    result = []
    for st in _states(
        products=products, channel=channel, method=method, location_ids=location_ids, until=on, today=today
    ):
        row = DatedAts(st.product_id, st.sku, on, 0, 0, 0)
        for lid, raw in st.base.items():
            arriving = sum(q for _, q in st.supply.get(lid, ()))
            now, then = max(0, raw), max(0, raw + arriving)
            row.available_now += now
            row.supply += then - now
            row.available += then
            if then > 0:
                row.locations.append(DatedLocation(lid, st.codes[lid], now, then - now, then))
        row.locations.sort(key=lambda dl: (-dl.available, dl.location_code))
        result.append(row)
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
    (st,) = _states(
        products=_products([sku]), channel=channel, method=method, location_ids=location_ids, until=until, today=today
    )
    running = dict(st.base)
    total = sum(max(0, v) for v in running.values())
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
    if channel is not None:
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
