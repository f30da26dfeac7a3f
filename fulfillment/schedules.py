"""Recurring django-q2 jobs of this app; `python manage.py setup_schedules` installs them."""

SCHEDULES = [
    # (name, function path, every N minutes)
    ("fulfillment: deliver outbox retries", "fulfillment.tasks.deliver_outbox_due", 1),
    ("fulfillment: release warehouse and 3PL work", "fulfillment.tasks.release_fulfillment_orders", 1),
    ("fulfillment: pickup reminders", "fulfillment.tasks.send_pickup_reminders", 30),
    ("fulfillment: expire pickup no-shows", "fulfillment.tasks.expire_pickup_no_shows", 15),
    ("fulfillment: end store pauses", "fulfillment.tasks.end_store_pauses", 15),
]
