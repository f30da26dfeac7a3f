"""Outbound events: subscriptions (where a channel's events go), events (written in the transaction of the
change that caused them) and deliveries (one per event and subscription, retried, dead-lettered)."""

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from common.netguard import OutboundRefused, outbound_url_check


def subscription_url_validate(value: str) -> None:
    """A subscription URL passes the outbound guard (common.netguard): https only, no credentials, no
    loopback or private literal address unless the settings allow it. The resolved addresses are checked
    again at send time."""
    try:
        outbound_url_check(url=value)
    except OutboundRefused as exc:
        raise ValidationError(str(exc)) from exc


class EventType(models.TextChoices):
    ORDER_ACCEPTED = "order.accepted", "Order accepted"
    ORDER_ON_HOLD = "order.on_hold", "Order on hold"
    ORDER_ROUTED = "order.routed", "Order routed"
    ORDER_BACKORDERED = "order.backordered", "Order backordered"
    FULFILLMENT_RELEASED = "fulfillment.released", "Fulfilment released"
    FULFILLMENT_SHIPPED = "fulfillment.shipped", "Fulfilment shipped"
    ORDER_READY_FOR_PICKUP = "order.ready_for_pickup", "Ready for pickup"
    ORDER_PICKED_UP = "order.picked_up", "Picked up"
    ORDER_DELIVERED = "order.delivered", "Order delivered"
    ORDER_CANCELLED = "order.cancelled", "Order cancelled"
    ORDER_CHANGED = "order.changed", "Order changed"
    RETURN_RECEIVED = "return.received", "Return received"
    REFUND_ISSUED = "refund.issued", "Refund issued"
    STOCK_LOW = "stock.low", "Stock low"


# What a Shopify subscription reports back to the shop (webhooks.shopify_out).
SHOPIFY_EVENT_TYPES = (EventType.FULFILLMENT_SHIPPED.value, EventType.ORDER_CANCELLED.value)


class Subscription(models.Model):
    """Where a channel's events go (no channel: every channel's). The secret signs every delivery; after a
    rotation the previous secret keeps signing too until `previous_secret_expires_at`.

    Kind "shopify": the URL is the shop's Admin API GraphQL endpoint and deliveries are Shopify mutations
    (webhooks.shopify_out) authenticated with `access_token` (write-only) instead of signed events."""

    class Kind(models.TextChoices):
        WEBHOOK = "webhook", "Signed webhook"
        SHOPIFY = "shopify", "Shopify Admin API"

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.WEBHOOK)
    channel = models.ForeignKey(
        "orders.Channel", null=True, blank=True, on_delete=models.CASCADE, related_name="subscriptions"
    )
    url = models.CharField(max_length=500, validators=[subscription_url_validate])
    secret = models.CharField(max_length=100, editable=False)
    previous_secret = models.CharField(max_length=100, blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Shopify: the shop's Admin API access token (X-Shopify-Access-Token). Write-only: never shown or returned.
    access_token = models.CharField(max_length=200, blank=True, editable=False)
    event_types = models.JSONField(default=list)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        bad = [t for t in self.event_types or [] if t not in EventType.values]
        if not self.event_types:
            raise ValidationError({"event_types": ["Choose at least one event type."]})
        if bad:
            raise ValidationError({"event_types": [f"Unknown event type(s): {', '.join(map(str, bad))}."]})
        if self.kind == self.Kind.SHOPIFY:
            self._clean_shopify()

    def _clean_shopify(self) -> None:
        errors = {}
        other = sorted(set(self.event_types) - set(SHOPIFY_EVENT_TYPES))
        if other:
            errors["event_types"] = [
                f"A Shopify subscription reports only {', '.join(SHOPIFY_EVENT_TYPES)}; not {', '.join(other)}."
            ]
        if self.channel_id is None:
            errors["channel"] = ["A Shopify subscription belongs to the channel of the shop."]
        if not (self.url or "").split("?", 1)[0].endswith("/graphql.json"):
            errors["url"] = [
                "The shop's Admin API GraphQL URL, e.g. https://SHOP.myshopify.com/admin/api/2025-07/graphql.json."
            ]
        if not self.access_token:
            errors["access_token"] = ["The shop's Admin API access token is required."]
        if errors:
            raise ValidationError(errors)


class Event(models.Model):
    """One outbound event; `uid` is its `webhook-id` (the same on every attempt and every subscription)."""

    uid = models.CharField(max_length=40, unique=True)
    type = models.CharField(max_length=40, choices=EventType.choices)
    order = models.ForeignKey("orders.Order", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    channel = models.ForeignKey("orders.Channel", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["order", "id"], name="webhook_event_order")]

    def __str__(self) -> str:
        return f"{self.type} {self.uid}"


class Delivery(models.Model):
    """One event to one subscription: exactly one row per pair; retried with backoff, then dead."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        DELIVERED = "delivered", "Delivered"
        DEAD = "dead", "Dead (gave up)"

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="deliveries")
    # Copied from the event: deliveries of one order to one subscription go in event order.
    order = models.ForeignKey("orders.Order", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_response = models.CharField(max_length=500, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["event", "subscription"], name="webhook_delivery_once_per_subscription")
        ]
        indexes = [
            models.Index(
                fields=["subscription", "order", "event"],
                condition=Q(status__in=["pending", "sending"]),
                name="webhook_delivery_open",
            ),
            models.Index(fields=["next_attempt_at", "id"], condition=Q(status="pending"), name="webhook_delivery_due"),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} → {self.subscription_id} ({self.status})"


class LowStockMark(models.Model):
    """A product announced as low on stock (`stock.low`) in the network (no location) or at one location;
    removed when its ATS is back at the threshold, so the next crossing is announced again: one event per
    crossing. Unique per product and location (NULLs equal: one network mark per product)."""

    product = models.ForeignKey("inventory.Product", on_delete=models.CASCADE, related_name="+")
    location = models.ForeignKey(
        "inventory.Location", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    ats = models.IntegerField()
    threshold = models.IntegerField()
    since = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["product", "location"], name="webhook_low_stock_mark_once", nulls_distinct=False
            )
        ]

    def __str__(self) -> str:
        where = f" at {self.location_id}" if self.location_id else ""
        return f"{self.product_id}{where} low since {self.since:%Y-%m-%d %H:%M}"
