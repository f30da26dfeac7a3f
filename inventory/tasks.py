"""django-q2 entry points. Thin: they call services and are safe to run twice."""

from inventory.services import reservation_expire_due


def expire_reservations() -> int:
    return reservation_expire_due()
