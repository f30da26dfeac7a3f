"""django-q2 entry points. Thin: they call services and are safe to run twice."""

from webhooks import services


def deliver_due() -> int:
    return services.deliveries_deliver_due()


def scan_low_stock() -> int:
    return services.stock_low_scan()
