"""django-q2 entry points (thin; safe to run twice: a refresh replaces the days it covers)."""

from analytics.services import kpi_rollup_refresh_recent


def refresh_recent_kpis() -> int:
    """Today and yesterday: what changes as the day's work is done."""
    return kpi_rollup_refresh_recent(days=2).rows


def refresh_kpi_window() -> int:
    """The last 60 days: late deliveries, returns (dated by the order's placed day) and counts entered late."""
    return kpi_rollup_refresh_recent(days=60).rows
