"""Recurring django-q2 jobs of the orders app; `python manage.py setup_schedules` installs them."""

SCHEDULES = [
    ("orders: refresh waiting orders' priorities", "orders.tasks.refresh_priorities", 5),
]
