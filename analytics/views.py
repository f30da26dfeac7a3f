"""Performance dashboard (Operations): every KPI with target and trend, breakdowns by channel and location,
drill-down to the orders behind a figure, CSV of every table. Thin: analytics.selectors computes."""

from datetime import timedelta
from decimal import Decimal

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from analytics.registry import DURATION, RATE, kpi_get
from analytics.selectors import PERIODS, dashboard_read, dashboard_tables, kpi_drilldown, period_parse
from analytics.services import day_start
from analytics.templatetags.kpis import kpi_number
from common.csv import csv_response
from common.dbrouting import replica_reads
from common.roles import OPERATIONS, role_required
from inventory.models import Location
from orders.models import Channel
from returns.kpis import return_rate_by_reason

TABLES = ("kpis", "trend", "channels", "locations", "return_reasons")


def _period(request):
    """The picked period, or the default 30 days with the error to show."""
    today = timezone.localdate()
    try:
        return period_parse(
            key=request.GET.get("period"), first=request.GET.get("from"), last=request.GET.get("to"), today=today
        ), None
    except ValueError as exc:
        return period_parse(key="30", first=None, last=None, today=today), str(exc)


def _query(request) -> str:
    keep = {k: request.GET[k] for k in ("period", "from", "to") if request.GET.get(k)}
    return "&".join(f"{k}={v}" for k, v in keep.items())


@role_required(OPERATIONS)
@replica_reads()
def dashboard_view(request):
    period, error = _period(request)
    board = dashboard_read(period=period)
    chart = {
        "labels": [d.isoformat() for d, _ in board.rows[0].trend] if board.rows else [],
        "series": {row.kpi.code: [None if v is None else round(v, 3) for _, v in row.trend] for row in board.rows},
        "targets": {row.kpi.code: row.kpi.target_value for row in board.rows},
    }
    context = {
        "board": board,
        "return_reasons": _return_reasons(period),
        "tables": dashboard_tables(board=board),
        "chart": chart,
        "error": error,
        "periods": list(PERIODS),
        "picked": request.GET.get("period") or ("" if request.GET.get("from") else "30"),
        "query": _query(request),
    }
    template = "dashboard/index.html#body" if request.htmx else "dashboard/index.html"
    return render(request, template, context)


def _return_reasons(period):
    return return_rate_by_reason(start=day_start(period.first), end=day_start(period.last + timedelta(days=1)))


def _csv(filename: str, header: list[str], rows) -> HttpResponse:
    return csv_response(filename=filename, header=header, rows=rows)


def _number(value) -> Decimal | str:
    """A figure for a CSV cell: a number with four decimals (never text, so a negative stays numeric)."""
    return "" if value is None else Decimal(f"{value:.4f}")


def _raw(figure) -> Decimal | str:
    return "" if figure is None else _number(figure.value)


@role_required(OPERATIONS)
@replica_reads()
def dashboard_export_view(request, table: str):
    """CSV of one dashboard table over the picked period."""
    if table not in TABLES:
        raise Http404(f"No table {table!r}; choose one of {', '.join(TABLES)}.")
    period, _ = _period(request)
    board = dashboard_read(period=period)
    name = f"kpi-{table}-{period.first}-{period.last}.csv"
    if table == "kpis":
        return _csv(
            name,
            ["kpi", "label", "value", "unit", "p90_hours", "target", "meets_target", "previous", "count"],
            (
                [
                    r.kpi.code,
                    r.kpi.label,
                    _raw(r.current),
                    r.kpi.unit,
                    _number(r.current.p90),
                    r.kpi.target_value,
                    "" if r.current.meets is None else r.current.meets,
                    _raw(r.previous),
                    r.current.count,
                ]
                for r in board.rows
            ),
        )
    if table == "trend":
        return _csv(
            name,
            ["kpi", "from", "value"],
            ([r.kpi.code, d.isoformat(), _number(v)] for r in board.rows for d, v in r.trend),
        )
    if table == "return_reasons":
        return _csv(
            name,
            ["reason", "label", "units_returned", "rate_pct"],
            ([r.reason, r.label, r.units, "" if r.rate_pct is None else r.rate_pct] for r in _return_reasons(period)),
        )
    tables = dashboard_tables(board=board)
    if table == "channels":
        kpis, rows = tables["channel_kpis"], tables["channel_rows"]
        return _csv(name, ["channel", *[k.code for k in kpis]], ([c.code, *map(_raw, figs)] for c, figs in rows))
    kpis, rows = tables["location_kpis"], tables["location_rows"]
    return _csv(name, ["location", *[k.code for k in kpis]], ([loc.code, *map(_raw, figs)] for loc, figs in rows))


def _drill_value(kpi, value) -> str:
    """One observation's value: hit/miss for per-order yes-no rates, else the number in the KPI's unit."""
    if kpi.kind == RATE and kpi.miss == "short":
        return "hit" if value is not None and value >= 100 else "miss"
    return kpi_number(kpi, value)


@role_required(OPERATIONS)
@replica_reads()
def kpi_drilldown_view(request, code: str, fmt: str = "html"):
    """The orders (or counts, capacity days) behind a figure; misses only unless ?all=1; CSV with .csv."""
    try:
        kpi = kpi_get(code)
    except LookupError as exc:
        raise Http404(str(exc)) from exc
    period, error = _period(request)
    channel = Channel.objects.filter(code=request.GET.get("channel")).first() if request.GET.get("channel") else None
    location = (
        Location.objects.filter(code=request.GET.get("location")).first() if request.GET.get("location") else None
    )
    misses_only = request.GET.get("all") != "1"
    limit = None if fmt == "csv" else 500
    rows = kpi_drilldown(
        code=code,
        period=period,
        channel_id=channel.pk if channel else None,
        location_id=location.pk if location else None,
        misses_only=misses_only,
        limit=limit,
    )
    unit = "hours" if kpi.kind == DURATION else kpi.unit
    if fmt == "csv":
        return _csv(
            f"kpi-{code}-{period.first}-{period.last}.csv",
            ["day", "channel", "location", "order", f"value ({unit})"],
            ([r.day, r.channel, r.location, r.order_number, _number(r.value)] for r in rows),
        )
    context = {
        "kpi": kpi,
        "period": period,
        "rows": [(r, _drill_value(kpi, r.value)) for r in rows],
        "channel": channel,
        "location": location,
        "misses_only": misses_only,
        "limit": limit,
        "error": error,
        "query": _query(request),
        "filters": "&".join(
            f
            for f in [f"channel={channel.code}" if channel else "", f"location={location.code}" if location else ""]
            if f
        ),
    }
    return render(request, "dashboard/drilldown.html", context)
