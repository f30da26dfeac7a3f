"""Recurring django-q2 jobs of this app; `python manage.py setup_schedules` installs them."""

SCHEDULES = [
    # (name, function path, every N minutes)
    ("inventory: expire reservations", "inventory.tasks.expire_reservations", 1),
]
