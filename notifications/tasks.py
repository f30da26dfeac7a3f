"""django-q2 entry points. Thin: they call services and are safe to run twice."""

from notifications import services


def send_due() -> int:
    return services.messages_send_due()
