"""Formatting of KPI figures for the dashboard."""

from django import template

from analytics.registry import DURATION, MEAN, RATE

register = template.Library()


def kpi_number(kpi, value) -> str:
    """A KPI value in its unit: 96.2 %, $9.50, 1.12 shipments/order, 26.0 h; an en dash when unknown."""
    if value is None:
        return "–"
    if kpi.kind == RATE:
        return f"{value:.1f} %"
    if kpi.kind == DURATION:
        return f"{value:.1f} h"
    if kpi.kind == MEAN and kpi.unit == "$":
        return f"${value:,.2f}"
    return f"{value:.2f}"


@register.filter
def kpi_value(figure) -> str:
    return "–" if figure is None else kpi_number(figure.kpi, figure.value)


@register.filter
def kpi_target(kpi) -> str:
    target = kpi.target_value
    if target is None:
        return "–"
    return ("≥ " if kpi.better == "higher" else "≤ ") + kpi_number(kpi, target)


@register.filter
def kpi_delta(row) -> str:
    delta = row.delta
    if delta is None:
        return ""
    sign = "+" if delta >= 0 else "−"
    unit = {RATE: " pts", DURATION: " h"}.get(row.kpi.kind, "")
    return f"{sign}{abs(delta):.{1 if row.kpi.kind != MEAN else 2}f}{unit} vs previous"
