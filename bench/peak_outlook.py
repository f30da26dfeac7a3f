"""The demand forecast `bench peak` gives ours' look-ahead (routing.lookahead.Outlook): units of each product
each DC will be asked for until its next replenishment (06:00 New York, when the previous day's DC shipments
come back).

A policy forecasts as a planner would, from what it knows: the promotion calendar (the day factors of the
surge, announced weeks ahead), the demand shape of a day (the diurnal profile), and its own history. Day 1 is
forecast from the catalogue's expected demand (orders per base day × units per order × each SKU's share),
spread over the DCs holding the SKU in proportion to their stock (the fallback when there is no history);
each later day from the units the DC shipped the day before, scaled by the calendar (day factor today / day
factor yesterday), a seasonal-naive forecast with a known promotion. Nothing of the actual order stream is
read ahead of its time.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bench.peak_world import BASE_ORDERS, DAY_FACTORS, DIURNAL, PeakWorld
from bench.world import LINES_DIST, QTY_DIST, zipf_shares
from routing.lookahead import Outlook, lost_unit_value

NY = ZoneInfo("America/New_York")
REPLENISH_HOUR = 6  # DCs are restocked at 06:00 New York
HORIZON_DAYS = 8  # ship days priced ahead (a full location pushes work up to five business days)
PRIOR_ORDERS = 50.0  # weight of the equal-share prior of each DC's share of the orders
SHAPE_SHIFT_H = 1  # the diurnal profile is by local hour; the network's demand centre is an hour behind New York


def _mean(dist: tuple[list, list]) -> float:
    return sum(v * p for v, p in zip(*dist, strict=True))


class PeakForecast:
    """Forecast DC demand per product for each day of the peak world, and the Outlook at any moment."""

    def __init__(self, pw: PeakWorld) -> None:
        self.pw = pw
        self.dcs = [loc.id for loc in pw.static.locations.values() if loc.kind == "warehouse"]
        shares = zipf_shares(len(pw.world.products))
        units = BASE_ORDERS[pw.scale] * _mean(LINES_DIST) * _mean(QTY_DIST)
        self.prior: dict[tuple[int, int], float] = {}
        for pid, at in pw.stock.items():
            held = {lid: at.get(lid, 0) for lid in self.dcs if at.get(lid, 0) > 0}
            total = sum(held.values())
            for lid, q in held.items():
                self.prior[(pid, lid)] = units * float(shares[pid - 1]) * q / total
        weights = [DIURNAL[(h - SHAPE_SHIFT_H) % 24] for h in range(24)]  # by New York hour
        self.hour_share = [w / sum(weights) for w in weights]
        self.value = lost_unit_value(static=pw.static)
        self.orders: dict[int, int] = {}  # per DC: orders it has been given a shipment of so far
        self.decided = 0  # orders decided so far

    def observe(self, *, location_ids: set[int]) -> None:
        """Learn each DC's share of the orders from one decided order (the locations it ships from)."""
        self.decided += 1
        for lid in location_ids:
            if lid in self.dcs:
                self.orders[lid] = self.orders.get(lid, 0) + 1

    def dc_share(self, location_id: int) -> float:
        """The DC's share of orders so far (prior: an equal share of PRIOR_ORDERS orders)."""
        prior = PRIOR_ORDERS / len(self.dcs)
        return (self.orders.get(location_id, 0) + prior) / (self.decided + PRIOR_ORDERS)

    def orders_ahead(self, *, when: datetime) -> dict[tuple[int, date], float]:
        """Per (DC, ship day) over the next week: orders forecast for the DC from `when` until the day's
        cut-off (the calendar's orders per day × the diurnal shape × the DC's share): when the earlier days are
        full, every one of them competes for that day's slots."""
        start = when.astimezone(NY)
        t, total = start, 0.0
        marks: list[tuple[datetime, float]] = []  # (end of hour, orders forecast from `when` to then)
        end = start + timedelta(days=HORIZON_DAYS)
        while t < end:
            stop = t.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
            day = self.pw.day_index(t)
            if 0 <= day < len(DAY_FACTORS):
                per_day = BASE_ORDERS[self.pw.scale] * DAY_FACTORS[day]
                total += per_day * self.hour_share[t.hour] * (stop - t).total_seconds() / 3600.0
            marks.append((stop, total))
            t = stop
        out: dict[tuple[int, date], float] = {}
        for lid in self.dcs:
            loc = self.pw.static.locations[lid]
            share = self.dc_share(lid)
            for k in range(HORIZON_DAYS):
                day = start.date() + timedelta(days=k)
                cutoff = datetime.combine(day, loc.cutoff, tzinfo=ZoneInfo(loc.timezone))
                upto = next((v for stop, v in marks if stop >= cutoff), total)
                if upto > 0:
                    out[(lid, day)] = upto * share
        return out

    def daily(self, *, day: int, used: dict[tuple[int, int, int], int]) -> dict[tuple[int, int], float]:
        """Forecast units per (product, DC) on `day` (0-based), from the DC shipments of the day before."""
        factor = DAY_FACTORS[min(day, len(DAY_FACTORS) - 1)]
        if day <= 0:
            return {k: v * factor for k, v in self.prior.items()}
        ratio = factor / DAY_FACTORS[min(day - 1, len(DAY_FACTORS) - 1)]
        return {(pid, lid): q * ratio for (d, pid, lid), q in used.items() if d == day - 1 and q > 0}

    def outlook(self, *, when: datetime, used: dict[tuple[int, int, int], int]) -> Outlook:
        """Forecast units per (product, DC) from `when` until the next 06:00 New York replenishment."""
        local = when.astimezone(NY)
        until = local.replace(hour=REPLENISH_HOUR, minute=0, second=0, microsecond=0)
        if until <= local:
            until += timedelta(days=1)
        weight: dict[int, float] = {}  # day index → share of its demand still to come before the replenishment
        t = local
        while t < until:
            stop = min(until, t.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1))
            day = self.pw.day_index(t)
            share = self.hour_share[t.hour] * (stop - t).total_seconds() / 3600.0
            weight[day] = weight.get(day, 0.0) + share
            t = stop
        demand: dict[tuple[int, int], float] = {}
        for day, w in weight.items():
            if day >= len(DAY_FACTORS) or w <= 0:
                continue
            for key, units in self.daily(day=day, used=used).items():
                demand[key] = demand.get(key, 0.0) + units * w
        return Outlook(demand=demand, unit_value=self.value, orders_ahead=self.orders_ahead(when=when))
