"""Recurring django-q2 jobs of this app; `python manage.py setup_schedules` installs them."""

SCHEDULES = [
    # (name, function path, every N minutes)
    ("inventory: expire reservations", "inventory.tasks.expire_reservations", 1),
    # Demand forecasts and the safety-stock proposals they make (an inventory manager decides each).
    ("inventory: refresh demand forecasts", "inventory.tasks.forecasts_refresh", 24 * 60),
]


def sync() -> list[str]:
    """One schedule per active WMS feed (called by setup_schedules; idempotent)."""
    from inventory.feeds import wms_feed_schedules_sync

    return wms_feed_schedules_sync()
