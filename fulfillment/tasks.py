"""django-q2 entry points. Thin: they take primary keys, call services and are safe to run twice."""

from fulfillment import services


def deliver_outbox_message(message_id: int) -> str:
    return services.outbox_message_deliver(message_id=message_id).status


def deliver_outbox_due() -> int:
    return services.outbox_deliver_due()


def release_fulfillment_orders() -> int:
    return services.fulfillment_orders_release_due()


def send_pickup_reminders() -> int:
    return services.pickup_reminders_send()


def expire_pickup_no_shows() -> int:
    return services.pickup_no_shows_expire()


def end_store_pauses() -> int:
    return services.store_pauses_expire()
