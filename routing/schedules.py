"""Recurring django-q2 jobs of this app; `python manage.py setup_schedules` installs them."""

SCHEDULES = [
    # (name, function path, every N minutes)
    ("routing: retry backorders", "routing.tasks.retry_backorders", 15),
    ("routing: route pending orders", "routing.tasks.route_pending", 5),
    ("routing: re-route stock shortages", "routing.tasks.reroute_shortages", 1),
    ("routing: re-optimise unreleased orders", "routing.tasks.reoptimise_window", 10),
]
