"""Recurring django-q2 jobs of this app; `python manage.py setup_schedules` installs them."""

SCHEDULES = [
    # (name, function path, every N minutes)
    ("webhooks: deliver due events", "webhooks.tasks.deliver_due", 1),
    ("webhooks: announce products crossing their low-stock threshold", "webhooks.tasks.scan_low_stock", 1),
]
