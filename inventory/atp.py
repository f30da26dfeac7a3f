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
from inventory.selectors import (
    UnknownSkus,
    _ats_query,
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


def _supply(
    *, product_ids: list[int], until: date, today: date, by_date: bool
) -> dict[int, dict[int, list[tuple[date, int]]]]:
    """product → location → [(arrival date, units)]: open inbound less promised, and shipped transfers. Without
    `by_date` one total per product and location (dated `today`): the on-date answer needs no more."""
    in_sql, params = sql_in_list("ln.product_id", product_ids)
    tin_sql, tparams = sql_in_list("tl.product_id", product_ids)
    open_units = "ln.quantity - ln.quantity_received - ln.quantity_closed - ln.quantity_promised"
    group = ", ln.expected_date" if by_date else ""
    tgroup = ", t.expected_date" if by_date else ""
    sql = f"""
        SELECT ln.product_id, ln.location_id{group or ", NULL"},
               SUM(CASE WHEN {open_units} > 0 THEN {open_units} ELSE 0 END)
        FROM inventory_inboundline ln
        WHERE ln.is_open AND {in_sql} AND ln.expected_date <= %s
        GROUP BY ln.product_id, ln.location_id{group}
        UNION ALL
        SELECT tl.product_id, t.destination_id{tgroup or ", NULL"}, SUM(tl.quantity_shipped - tl.quantity_received)
        FROM inventory_transferline tl JOIN inventory_transferorder t ON t.id = tl.transfer_id
        WHERE t.status IN ('in_transit', 'partial') AND {tin_sql} AND t.expected_date <= %s
        GROUP BY tl.product_id, t.destination_id{tgroup}"""
    out: dict[int, dict[int, list[tuple[date, int]]]] = defaultdict(lambda: defaultdict(list))
    with connection.cursor() as cur:
        cur.execute(sql, [*params, until, *tparams, until])
        for pid, lid, raw_due, units in cur.fetchall():
            if units and units > 0:
                due = date.fromisoformat(raw_due) if isinstance(raw_due, str) else (raw_due or today)
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
    *,
    skus: list[str],
    channel,
    method: str | None,
    location_ids: list[int] | None,
    until: date,
    today: date,
    by_date: bool,
) -> tuple[list[_State], bool | None]:
    """Each SKU's starting point (in the order asked) and whether the channel has a pool. One ATS read, the same
    as today's availability query, and one read of the supply; raises UnknownSkus."""
    wanted = list(dict.fromkeys(skus))
    product_sql, product_params = sql_in_list("p.sku", wanted)
    now, has_pool = _ats_query(
        product_sql=product_sql,
        product_params=product_params,
        channel=channel,
        method=method,
        location_ids=location_ids,
    )
    by_sku = {pa.sku: pa for pa in now.values()}
    if missing := [s for s in wanted if s not in by_sku]:
        raise UnknownSkus(missing)
    # The location table the ATS read just validated (PostgreSQL: against its stamp), else read afresh.
    table = inventory_selectors._location_table or _location_table_for(stamp=None)
    serving = table.serving[(method, _channel_is_online(channel))]
    if location_ids is not None:
        serving = serving & set(location_ids)
    supply = _supply(product_ids=list(now), until=until, today=today, by_date=by_date)
    states = []
    for sku in wanted:
        pa = by_sku[sku]
        base = {la.location_id: la.on_hand - la.reserved - la.safety for la in pa.locations}
        mine = {lid: rows for lid, rows in supply.get(pa.product_id, {}).items() if lid in serving}
        for lid in mine:
            base.setdefault(lid, -table.info[lid][2])  # no stock row yet: only the location's safety stock
        codes = {lid: table.info[lid][0] for lid in base}
        states.append(_State(pa.product_id, sku, base, codes, mine))
    return states, has_pool


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
    result = []
    for st in states:
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
