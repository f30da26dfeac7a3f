"""Recurring django-q2 jobs of the analytics app; `python manage.py setup_schedules` installs them."""

SCHEDULES = [
    ("analytics: refresh today's KPI rollup", "analytics.tasks.refresh_recent_kpis", 10),
    ("analytics: refresh the last 60 days of KPIs", "analytics.tasks.refresh_kpi_window", 24 * 60),
]
