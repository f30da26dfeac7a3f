"""django-q2 tasks of the orders app. Each takes primary keys (or nothing) and is safe to run twice."""

from orders.services import order_priorities_refresh


def refresh_priorities() -> int:
    """Recompute waiting orders' priorities as their ship-by nears (scheduled every 5 minutes)."""
    return order_priorities_refresh()
