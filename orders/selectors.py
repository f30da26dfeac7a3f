"""Reads of orders and channels."""

from orders.models import ApiClient, Channel


def channel_for_client(*, user) -> Channel | None:
    """The channel an API-client user is bound to, or None for back-office users."""
    if not user or not user.is_authenticated:
        return None
    cached = getattr(user, "_dom_channel", False)
    if cached is not False:
        return cached
    client = ApiClient.objects.select_related("channel").filter(user=user).first()
    user._dom_channel = client.channel if client else None
    return user._dom_channel
