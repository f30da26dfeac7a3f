"""Recurring django-q2 jobs of this app; `python manage.py setup_schedules` installs them."""

SCHEDULES = [
    # (name, function path, every N minutes)
    ("notifications: send due e-mails", "notifications.tasks.send_due", 1),
]
