"""Reads of the analytics app: the dashboard's figures from the rollup, the same figures computed live from
the observations (tests, small installations), and the drill-down to the records behind a figure."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db.models import F, Q, Sum

from analytics.models import KpiFact, RollupState
from analytics.registry import DURATION, KPIS, RATE, Acc, Kpi, as_number, bucket_of, kpi_get
from analytics.services import day_start
from inventory.models import Location
from orders.models import Channel, Order

PERIODS = {"7": 7, "30": 30, "90": 90, "365": 365}


@dataclass(frozen=True)
class Period:
    first: date
    last: date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def previous(self) -> Period:
        return Period(self.first - timedelta(days=self.days), self.first - timedelta(days=1))


@dataclass
class Figure:
    """One KPI over one slice: headline value (%, mean, or median hours), p90 for durations, count."""

    kpi: Kpi
    acc: Acc

    @property
    def value(self) -> float | None:
        return self.acc.value(self.kpi.kind)

    @property
    def p90(self) -> float | None:
        return self.acc.p90_hours() if self.kpi.kind == DURATION else None

    @property
    def count(self) -> int:
        return self.acc.count

    @property
    def meets(self) -> bool | None:
        return self.kpi.meets(self.value)


@dataclass
class KpiRow:
    kpi: Kpi
    current: Figure
    previous: Figure
    trend: list[tuple[date, float | None]] = field(default_factory=list)
    by_channel: dict[int, Figure] = field(default_factory=dict)
    by_location: dict[int, Figure] = field(default_factory=dict)

    @property
    def delta(self) -> float | None:
        a, b = self.current.value, self.previous.value
        return None if a is None or b is None else a - b


@dataclass
class Dashboard:
    period: Period
    rows: list[KpiRow]
    channels: list[Channel]
    locations: list[Location]
    trend_step: int
    refreshed_at: object = None


def period_parse(*, key: str | None, first: str | None, last: str | None, today: date) -> Period:
    """A period from the picker: a preset number of days ending today, or explicit first/last dates."""
    if first or last:
        try:
            a = date.fromisoformat(first) if first else today - timedelta(days=29)
            b = date.fromisoformat(last) if last else today
        except ValueError as exc:
            raise ValueError(f"Dates must look like 2026-01-31 ({exc}).") from None
        if b < a:
            raise ValueError(f"The period ends ({b}) before it starts ({a}).")
        if (b - a).days > 731:
            raise ValueError("Choose a period of at most two years.")
        return Period(a, b)
    days = PERIODS.get(key or "30")
    if days is None:
        raise ValueError(f"Unknown period {key!r}; choose one of {', '.join(PERIODS)} days.")
    return Period(today - timedelta(days=days - 1), today)


def _grain_filter() -> Q:
    """Rows that make up a KPI's total: per-channel rows for order KPIs, per-location rows for the others."""
    channel_kpis = [k.code for k in KPIS if k.grain == "channel"]
    location_kpis = [k.code for k in KPIS if k.grain == "location"]
    return Q(kpi__in=channel_kpis, location__isnull=True) | Q(kpi__in=location_kpis, channel__isnull=True)


def _trend_step(days: int) -> int:
    return 1 if days <= 31 else 7 if days <= 190 else 30


def dashboard_read(*, period: Period) -> Dashboard:
    """Every KPI over the period from the rollup: value, target, previous period, trend, by channel and by
    location. Three aggregate queries over the rollup, whatever the size of the order history."""
    prev = period.previous
    step = _trend_step(period.days)
    current = {k.code: Acc() for k in KPIS}
    before = {k.code: Acc() for k in KPIS}
    trend_acc: dict[str, dict[date, Acc]] = {k.code: defaultdict(Acc) for k in KPIS}
    totals = (
        KpiFact.objects.filter(_grain_filter(), day__gte=prev.first, day__lte=period.last)
        .values_list("kpi", "day", "bucket")
        .annotate(n=Sum("num"), d=Sum("den"), c=Sum("count"))
    )
    for code, day, bucket, n, d, c in totals:
        if code not in current:
            continue
        if day < period.first:
            before[code].add(num=n, den=d, count=c, bucket=bucket)
        else:
            current[code].add(num=n, den=d, count=c, bucket=bucket)
            slot = period.first + timedelta(days=((day - period.first).days // step) * step)
            trend_acc[code][slot].add(num=n, den=d, count=c, bucket=bucket)

    by_channel: dict[str, dict[int, Acc]] = {k.code: defaultdict(Acc) for k in KPIS}
    by_location: dict[str, dict[int, Acc]] = {k.code: defaultdict(Acc) for k in KPIS}
    in_period = KpiFact.objects.filter(day__gte=period.first, day__lte=period.last)
    for code, channel_id, bucket, n, d, c in (
        in_period.filter(channel__isnull=False)
        .values_list("kpi", "channel_id", "bucket")
        .annotate(n=Sum("num"), d=Sum("den"), c=Sum("count"))
    ):
        if code in by_channel:
            by_channel[code][channel_id].add(num=n, den=d, count=c, bucket=bucket)
    for code, location_id, bucket, n, d, c in (
        in_period.filter(location__isnull=False)
        .values_list("kpi", "location_id", "bucket")
        .annotate(n=Sum("num"), d=Sum("den"), c=Sum("count"))
    ):
        if code in by_location:
            by_location[code][location_id].add(num=n, den=d, count=c, bucket=bucket)

    channel_ids = {cid for per in by_channel.values() for cid in per}
    location_ids = {lid for per in by_location.values() for lid in per}
    slots = [period.first + timedelta(days=i) for i in range(0, period.days, step)]
    rows = []
    for k in KPIS:
        rows.append(
            KpiRow(
                kpi=k,
                current=Figure(k, current[k.code]),
                previous=Figure(k, before[k.code]),
                trend=[(s, trend_acc[k.code][s].value(k.kind) if s in trend_acc[k.code] else None) for s in slots],
                by_channel={cid: Figure(k, acc) for cid, acc in by_channel[k.code].items()},
                by_location={lid: Figure(k, acc) for lid, acc in by_location[k.code].items()},
            )
        )
    state = RollupState.objects.filter(pk=1).first()
    return Dashboard(
        period=period,
        rows=rows,
        channels=list(Channel.objects.filter(pk__in=channel_ids).order_by("code")),
        locations=list(Location.objects.filter(pk__in=location_ids).only("pk", "code", "name").order_by("code")),
        trend_step=step,
        refreshed_at=state.refreshed_at if state else None,
    )


def kpi_live(*, code: str, period: Period, channel_id: int | None = None, location_id: int | None = None) -> Figure:
    """One KPI computed straight from its observations (no rollup), optionally for one channel or location.
    The rollup must agree with this; tests hold it to the hand-computed values."""
    kpi = kpi_get(code)
    acc = Acc()
    for ob in _observations(kpi, period):
        if channel_id is not None and ob["channel_id"] != channel_id:
            continue
        if location_id is not None and ob["location_id"] != location_id:
            continue
        num, den = as_number(ob["num"]), as_number(ob["den"])
        acc.add(num=num, den=den, bucket=bucket_of(num) if kpi.kind == DURATION else -1)
    return Figure(kpi, acc)


def _observations(kpi: Kpi, period: Period):
    return kpi.observations(start=day_start(period.first), end=day_start(period.last + timedelta(days=1)))


@dataclass
class DrillRow:
    day: date
    channel: str
    location: str
    order_id: int | None
    order_number: str
    value: float | None


def kpi_drilldown(
    *,
    code: str,
    period: Period,
    channel_id: int | None = None,
    location_id: int | None = None,
    misses_only: bool = True,
    limit: int | None = 500,
) -> list[DrillRow]:
    """The observations behind a figure — orders (or counts, capacity days) — worst first; with
    `misses_only`, only those that missed: not a hit, a bad event, or a value above target."""
    kpi = kpi_get(code)
    obs = _observations(kpi, period)
    if isinstance(obs, list):
        return []
    if channel_id is not None:
        obs = obs.filter(channel_id=channel_id)
    if location_id is not None:
        obs = obs.filter(location_id=location_id)
    if misses_only:
        if kpi.kind == RATE and kpi.miss == "short":
            obs = obs.filter(num__lt=F("den"))
        elif kpi.kind == RATE and kpi.code == "capacity_utilisation":
            obs = obs.filter(den__gt=0, num__gt=F("den") * kpi.target_value / 100.0)
        elif kpi.kind == RATE:
            obs = obs.filter(num__gt=0)
        else:
            obs = obs.filter(num__gt=kpi.miss_threshold())
    obs = obs.order_by("-num", "day")
    items = list(obs[:limit] if limit else obs)
    orders = dict(
        Order.objects.filter(pk__in=[o["order_id"] for o in items if o["order_id"]]).values_list("pk", "number")
    )
    channels = dict(Channel.objects.values_list("pk", "code"))
    locations = dict(
        Location.objects.filter(pk__in={o["location_id"] for o in items if o["location_id"]}).values_list("pk", "code")
    )
    rows = []
    for o in items:
        num, den = as_number(o["num"]), as_number(o["den"])
        if kpi.kind == DURATION:
            value = num / 3600.0
        elif kpi.kind == RATE:
            value = 100.0 * num / den if den else None
        else:
            value = num / den if den else None
        rows.append(
            DrillRow(
                day=o["day"],
                channel=channels.get(o["channel_id"], ""),
                location=locations.get(o["location_id"], ""),
                order_id=o["order_id"],
                order_number=orders.get(o["order_id"], ""),
                value=value,
            )
        )
    return rows


def dashboard_tables(*, board: Dashboard) -> dict:
    """The breakdown tables as rows of figures in KPI order: by channel (KPIs observed per channel) and by
    location (every KPI)."""
    channel_kpis = [row for row in board.rows if row.kpi.grain == "channel"]
    return {
        "channel_kpis": [row.kpi for row in channel_kpis],
        "channel_rows": [(c, [row.by_channel.get(c.pk) for row in channel_kpis]) for c in board.channels],
        "location_kpis": [row.kpi for row in board.rows],
        "location_rows": [(loc, [row.by_location.get(loc.pk) for row in board.rows]) for loc in board.locations],
    }
