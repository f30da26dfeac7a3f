"""Reads for the Operations screens."""

from django.db.models import Count, Q, QuerySet

from webhooks.models import Delivery, Subscription


def subscriptions_with_counts() -> QuerySet[Subscription]:
    return Subscription.objects.select_related("channel").annotate(
        n_pending=Count("deliveries", filter=Q(deliveries__status__in=["pending", "sending"])),
        n_delivered=Count("deliveries", filter=Q(deliveries__status="delivered")),
        n_dead=Count("deliveries", filter=Q(deliveries__status="dead")),
    )


def subscription_deliveries(*, subscription: Subscription, status: str = "") -> QuerySet[Delivery]:
    """A subscription's deliveries, newest first, with their events and orders."""
    qs = subscription.deliveries.select_related("event", "order").order_by("-id")
    return qs.filter(status=status) if status else qs
