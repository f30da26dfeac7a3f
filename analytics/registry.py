"""The KPIs the dashboard shows: what each measures, its target, and the selector (in the app that owns the
data) that yields its observations. Definitions in docs/kpis.md; targets overridable with
`settings.DOM["KPI_TARGETS"] = {"code": value}`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import timedelta
from importlib import import_module

from django.conf import settings

RATE = "rate"  # 100 · Σnum / Σden, in %
MEAN = "mean"  # Σnum / Σden
DURATION = "duration"  # median and p90 of num (seconds), shown in hours

HIGHER = "higher"
LOWER = "lower"


@dataclass(frozen=True)
class Kpi:
    code: str
    label: str
    kind: str
    unit: str
    selector: str  # dotted path to fn(*, start, end) -> observations
    target: float | None
    better: str
    grain: str = "channel"  # totals from per-channel rows ("channel") or per-location rows ("location")
    help: str = ""
    # What a "miss" is for the drill-down: for rates whose hit is num == den ("short") or whose num counts a
    # bad event ("event"); for durations and means, num above target.
    miss: str = "short"
    tags: tuple[str, ...] = field(default=())

    def observations(self, *, start, end):
        module, name = self.selector.rsplit(".", 1)
        return getattr(import_module(module), name)(start=start, end=end)

    @property
    def target_value(self) -> float | None:
        return settings.DOM.get("KPI_TARGETS", {}).get(self.code, self.target)

    def meets(self, value: float | None) -> bool | None:
        target = self.target_value
        if value is None or target is None:
            return None
        return value >= target if self.better == HIGHER else value <= target

    def miss_threshold(self):
        """The observation value above which an order is a miss (durations: a timedelta)."""
        target = self.target_value
        if self.kind == DURATION:
            return timedelta(hours=target)
        return target


KPIS: list[Kpi] = [
    Kpi(
        "routing_accuracy",
        "Routing accuracy",
        RATE,
        "%",
        "routing.kpis.routing_accuracy_observations",
        95.0,
        HIGHER,
        help="Routing decisions whose plan cost equals the optimum at decision time.",
    ),
    Kpi(
        "inventory_accuracy",
        "Inventory accuracy",
        RATE,
        "%",
        "inventory.kpis.inventory_accuracy_observations",
        94.0,
        HIGHER,
        grain="location",
        help="Cycle counts within tolerance of the system quantity.",
    ),
    Kpi(
        "order_cycle_time",
        "Order cycle time",
        DURATION,
        "h",
        "fulfillment.kpis.order_cycle_time_observations",
        24.0,
        LOWER,
        help="Placed → last shipment or handover; median (target) and p90.",
    ),
    Kpi(
        "fulfillment_cost",
        "Fulfilment cost per order",
        MEAN,
        "$",
        "fulfillment.kpis.fulfillment_cost_observations",
        12.0,
        LOWER,
        help="Carrier charges (or the routing plan's estimate) per completed order.",
    ),
    Kpi(
        "order_accuracy",
        "Order accuracy",
        RATE,
        "%",
        "fulfillment.kpis.order_accuracy_observations",
        99.5,
        HIGHER,
        help="Completed orders fulfilled completely: nothing short, rejected or cancelled.",
    ),
    Kpi(
        "on_time_delivery",
        "On-time delivery",
        RATE,
        "%",
        "fulfillment.kpis.on_time_delivery_observations",
        98.0,
        HIGHER,
        help="Delivered orders that arrived by the promised date.",
    ),
    Kpi(
        "split_rate",
        "Split rate",
        MEAN,
        "shipments/order",
        "fulfillment.kpis.split_rate_observations",
        1.15,
        LOWER,
        help="Shipments per completed order that shipped.",
    ),
    Kpi(
        "bopis_no_show",
        "BOPIS no-show rate",
        RATE,
        "%",
        "fulfillment.kpis.bopis_no_show_observations",
        5.0,
        LOWER,
        miss="event",
        help="Pickups that expired uncollected, of those settled.",
    ),
    Kpi(
        "bopis_time_to_ready",
        "BOPIS time to ready",
        DURATION,
        "h",
        "fulfillment.kpis.bopis_time_to_ready_observations",
        2.0,
        LOWER,
        help="Placed → ready for pickup; median (target) and p90.",
    ),
    Kpi(
        "capacity_utilisation",
        "Capacity utilisation",
        RATE,
        "%",
        "routing.kpis.capacity_utilisation_observations",
        85.0,
        LOWER,
        grain="location",
        miss="event",
        help="Orders taken of the daily capacity, per location and ship day.",
    ),
    Kpi(
        "return_rate",
        "Return rate",
        RATE,
        "%",
        "returns.kpis.return_rate_observations",
        10.0,
        LOWER,
        miss="event",
        help="Units returned of units shipped, for orders placed in the period (reason: all, until returns "
        "reasons are recorded).",
    ),
    Kpi(
        "cancellation_rate",
        "Cancellation rate",
        RATE,
        "%",
        "orders.kpis.order_cancellation_observations",
        2.0,
        LOWER,
        miss="event",
        help="Orders placed in the period that ended cancelled (its count is the order intake).",
    ),
]
BY_CODE = {k.code: k for k in KPIS}


def kpi_get(code: str) -> Kpi:
    try:
        return BY_CODE[code]
    except KeyError:
        raise LookupError(f"Unknown KPI {code!r}; known: {', '.join(BY_CODE)}.") from None


# --- Durations: a log-scale histogram (4 buckets per doubling, ≈19 % wide) --------------------------------


def bucket_of(seconds: float) -> int:
    """Histogram bucket of a duration: 0 below a minute, then four per doubling from one minute."""
    if seconds < 60:
        return 0
    return 1 + int(4 * math.log2(seconds / 60.0))


@dataclass
class Acc:
    """Running sums of observations: Σnum, Σden, count, and per bucket (Σnum, count) for durations."""

    num: float = 0.0
    den: float = 0.0
    count: int = 0
    hist: dict[int, list[float]] = field(default_factory=dict)

    def add(self, *, num: float, den: float, count: int = 1, bucket: int = -1) -> None:
        self.num += num
        self.den += den
        self.count += count
        if bucket >= 0:
            slot = self.hist.setdefault(bucket, [0.0, 0])
            slot[0] += num
            slot[1] += count

    def percentile(self, q: float) -> float | None:
        """Nearest-rank percentile, estimated as the mean of the bucket holding that rank (exact when the
        bucket holds one distinct value; otherwise within the bucket's ≈19 % width)."""
        n = sum(c for _, c in self.hist.values())
        if not n:
            return None
        rank = max(1, math.ceil(q * n))
        seen = 0
        for b in sorted(self.hist):
            total, c = self.hist[b]
            seen += c
            if seen >= rank:
                return total / c
        return None  # pragma: no cover - rank ≤ n always lands

    def value(self, kind: str) -> float | None:
        """The KPI's headline: % for rates, the mean for means, the median in hours for durations."""
        if kind == RATE:
            return 100.0 * self.num / self.den if self.den else None
        if kind == MEAN:
            return self.num / self.den if self.den else None
        p50 = self.percentile(0.5)
        return p50 / 3600.0 if p50 is not None else None

    def p90_hours(self) -> float | None:
        p = self.percentile(0.9)
        return p / 3600.0 if p is not None else None


def as_number(value) -> float:
    """An observation's num as a float (durations in seconds; NULL as 0)."""
    if value is None:
        return 0.0
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)
