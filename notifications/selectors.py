"""Reads for the Operations screens."""

from django.db.models import QuerySet

from notifications.models import Message
from orders.models import Order


def messages_recent(*, status: str = "", limit: int = 100) -> QuerySet[Message]:
    """The newest messages (the log): no bodies, which are rendered only when sent."""
    qs = Message.objects.select_related("order", "channel").order_by("-id")
    return (qs.filter(status=status) if status else qs)[:limit]


def orders_recent_for_preview(*, limit: int = 30) -> QuerySet[Order]:
    return Order.objects.select_related("channel").order_by("-id")[:limit]
