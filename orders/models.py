"""Channels, customers, orders and their timeline."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class Channel(models.Model):
    class Kind(models.TextChoices):
        WEB = "web", "Web store"
        APP = "app", "App"
        MARKETPLACE = "marketplace", "Marketplace"
        B2B = "b2b", "B2B"
        POS = "pos", "Point of sale"

    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.WEB)
    is_active = models.BooleanField(default=True)
    # Shopify-style webhook secret: write-only (set or rotated through orders.services.channel_secret_rotate,
    # never displayed again). While a rotation overlaps, the previous secret verifies too until it is retired.
    webhook_secret = models.CharField(max_length=200, blank=True)
    webhook_secret_set_at = models.DateTimeField(null=True, blank=True)
    webhook_secret_previous = models.CharField(max_length=200, blank=True)
    # When the previous secret stops verifying; empty while it waits for an explicit "retire previous".
    webhook_secret_previous_until = models.DateTimeField(null=True, blank=True)
    # When set, Shopify webhooks must come from this shop (X-Shopify-Shop-Domain), e.g. brand.myshopify.com.
    shop_domain = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class ApiClient(models.Model):
    """A machine user (DRF token) bound to one channel: it may only act for that channel."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_client")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="api_clients")

    def __str__(self) -> str:
        return f"{self.user} → {self.channel.code}"


class Customer(models.Model):
    class Tier(models.TextChoices):
        STANDARD = "standard", "Standard"
        SILVER = "silver", "Silver"
        GOLD = "gold", "Gold"
        PLATINUM = "platinum", "Platinum"

    email = models.EmailField(unique=True)
    name = models.CharField(max_length=200, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    loyalty_tier = models.CharField(max_length=10, choices=Tier.choices, default=Tier.STANDARD)
    preferred_store = models.ForeignKey(
        "inventory.Location", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    order_count = models.PositiveIntegerField(default=0)
    lifetime_value = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    # Identities per channel: {"web": "cust-123", "shopify": "207119551"}.
    identities = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name or self.email


class Order(models.Model):
    class Status(models.TextChoices):
        CREATED = "created", "Created"
        VALIDATED = "validated", "Validated"
        ON_HOLD = "on_hold", "On hold"
        ROUTED = "routed", "Routed"
        BACKORDERED = "backordered", "Backordered"
        PARTIALLY_SHIPPED = "partially_shipped", "Partially shipped"
        SHIPPED = "shipped", "Shipped"
        DELIVERED = "delivered", "Delivered"
        CLOSED = "closed", "Closed"
        CANCELLED = "cancelled", "Cancelled"
        PARTIALLY_RETURNED = "partially_returned", "Partially returned"
        RETURNED = "returned", "Returned"

    class Method(models.TextChoices):
        SHIP = "ship", "Ship"
        PICKUP = "pickup", "Pick up in store"
        SHIP_TO_STORE = "ship_to_store", "Ship to store"
        SAME_DAY = "same_day", "Same-day delivery"

    class ServiceLevel(models.TextChoices):
        STANDARD = "standard", "Standard"
        EXPRESS = "express", "Express"
        OVERNIGHT = "overnight", "Overnight"

    class PaymentStatus(models.TextChoices):
        PENDING = "pending", "Pending"
        AUTHORIZED = "authorized", "Authorized"
        PAID = "paid", "Paid"
        PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"
        REFUNDED = "refunded", "Refunded"
        VOIDED = "voided", "Voided"
        FAILED = "failed", "Failed"

    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="orders")
    external_id = models.CharField(max_length=100)
    number = models.CharField(max_length=32, unique=True)
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="orders")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.CREATED, db_index=True)
    placed_at = models.DateTimeField(db_index=True)
    currency = models.CharField(max_length=3, default="USD")
    subtotal = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    shipping_total = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    tax_total = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    total = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    shipping_address = models.JSONField(default=dict, blank=True)
    billing_address = models.JSONField(default=dict, blank=True)
    fulfillment_method = models.CharField(max_length=16, choices=Method.choices, default=Method.SHIP)
    pickup_location = models.ForeignKey(
        "inventory.Location", null=True, blank=True, on_delete=models.PROTECT, related_name="pickup_orders"
    )
    service_level = models.CharField(max_length=10, choices=ServiceLevel.choices, default=ServiceLevel.STANDARD)
    promised_delivery_date = models.DateField(null=True, blank=True)
    # The promise made at intake, kept when routing had to move it (orders.services.order_promise_redate);
    # empty while the promise was never moved. On-time measures compare against this one.
    original_promised_delivery_date = models.DateField(null=True, blank=True)
    ship_by = models.DateTimeField(null=True, blank=True)
    priority = models.IntegerField(default=0, db_index=True, help_text="Higher is more urgent.")
    payment_status = models.CharField(max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.PENDING)
    fraud_score = models.IntegerField(default=0)
    # [{"rule": "new_customer_value", "points": 40, "reason": "…"}, …] as the screening found them.
    fraud_reasons = models.JSONField(default=list, blank=True)
    # Idempotency-Key header (API) or "shopify-webhook:<X-Shopify-Webhook-Id>"; unique per channel when set.
    idempotency_key = models.CharField(max_length=200, blank=True, default="")
    # Normalised shipping address (line1 + postal code + country), for "many orders to one address" screening.
    address_key = models.CharField(max_length=64, blank=True, default="", db_index=True)
    cancel_reason = models.CharField(max_length=500, blank=True)
    raw_payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Bumped by every change to the order (status, lines, holds, cancellation): the orders API's
    # `updated_since` and cursor read it.
    updated_at = models.DateTimeField(auto_now=True)
    # Bumped by every timeline entry (every change writes one): the API's ETag, checked against If-Match.
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-placed_at"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "external_id"], name="order_unique_channel_external_id"),
            models.UniqueConstraint(
                fields=["channel", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="order_unique_channel_idempotency_key",
            ),
            models.CheckConstraint(condition=Q(fraud_score__gte=0), name="order_fraud_score_not_negative"),
        ]
        indexes = [
            models.Index(fields=["status", "-priority", "placed_at"], name="order_queue"),
            models.Index(fields=["customer", "created_at"], name="order_customer_created"),
            models.Index(fields=["updated_at", "id"], name="order_updated_at_id"),
        ]

    def __str__(self) -> str:
        return self.number


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    line_number = models.PositiveIntegerField()
    product = models.ForeignKey("inventory.Product", null=True, blank=True, on_delete=models.PROTECT)
    sku = models.CharField(max_length=64, blank=True, help_text="As received, even when the product is unknown.")
    name = models.CharField(max_length=255, blank=True, help_text="The item's title as the channel sent it.")
    # The channel's own id of the line (Shopify: the line item id), used when reporting back to the channel.
    external_id = models.CharField(max_length=64, blank=True)
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    quantity_allocated = models.PositiveIntegerField(default=0)
    quantity_shipped = models.PositiveIntegerField(default=0)
    quantity_cancelled = models.PositiveIntegerField(default=0)
    # When the backordered units are expected (the latest date of the inbound supply they are allocated
    # against); empty while nothing is backordered or the units wait with no supply in sight. Set only through
    # orders.services.order_lines_expected_dates_set.
    expected_date = models.DateField(null=True, blank=True)
    quantity_returned = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order", "line_number"]
        constraints = [
            models.UniqueConstraint(fields=["order", "line_number"], name="order_line_unique_number"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="order_line_quantity_positive"),
            models.CheckConstraint(
                condition=Q(quantity_shipped__lte=F("quantity")), name="order_line_shipped_le_quantity"
            ),
            models.CheckConstraint(
                condition=Q(quantity_returned__lte=F("quantity_shipped")), name="order_line_returned_le_shipped"
            ),
            models.CheckConstraint(
                condition=Q(quantity_cancelled__lte=F("quantity") - F("quantity_shipped")),
                name="order_line_cancelled_le_unshipped",
            ),
        ]
        indexes = [models.Index(fields=["sku"], name="order_line_sku")]

    def __str__(self) -> str:
        return f"{self.order_id}#{self.line_number} {self.sku} × {self.quantity}"

    @property
    def quantity_open(self) -> int:
        """Units still to ship: neither shipped nor cancelled."""
        return self.quantity - self.quantity_shipped - self.quantity_cancelled


class OrderHold(models.Model):
    class Kind(models.TextChoices):
        PAYMENT = "payment", "Payment"
        ADDRESS = "address", "Address"
        FRAUD = "fraud", "Fraud review"
        UNKNOWN_ITEM = "unknown_item", "Unknown item"
        MANUAL = "manual", "Manual"

    class Resolution(models.TextChoices):
        RELEASED = "released", "Released"
        CANCELLED = "cancelled", "Order cancelled"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="holds")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    reason = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    released_at = models.DateTimeField(null=True, blank=True)
    released_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    resolution = models.CharField(max_length=10, choices=Resolution.choices, blank=True)
    note = models.CharField(max_length=500, blank=True, help_text="Why it was released or cancelled.")

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["kind"], condition=Q(released_at__isnull=True), name="hold_active_kind")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} hold on {self.order_id}"

    @property
    def is_active(self) -> bool:
        return self.released_at is None


class OrderEvent(models.Model):
    class Type(models.TextChoices):
        RECEIVED = "received", "Received"
        SCREENED = "screened", "Fraud-screened"
        HOLD_PLACED = "hold_placed", "Hold placed"
        HOLD_RELEASED = "hold_released", "Hold released"
        STATUS_CHANGED = "status_changed", "Status changed"
        CANCELLED = "cancelled", "Cancelled"
        # A change after placement (address, method, lines): data["change"] says which.
        CHANGED = "changed", "Changed"
        CANCELLATION_REQUESTED = "cancellation_requested", "Cancellation requested"
        CANCELLATION_REFUSED = "cancellation_refused", "Cancellation refused"
        # A channel's change (Shopify orders/updated, …) not applied: older than what we have, or refused.
        CHANNEL_UPDATE_IGNORED = "channel_update_ignored", "Channel update not applied"
        # Routing (one per decision: its outcome, or a re-route).
        ROUTED = "routed", "Routed"
        PARTIAL = "partial", "Partly routed"
        BACKORDERED = "backordered", "Backordered"
        REROUTED = "rerouted", "Re-routed"
        # Fulfilment: a fulfilment order's status moves, and what happens around them.
        FO_CREATED = "fulfillment.created", "Fulfilment created"
        FO_RELEASED = "fulfillment.released", "Fulfilment released"
        FO_PICKING = "fulfillment.picking", "Fulfilment picking"
        FO_PACKED = "fulfillment.packed", "Fulfilment packed"
        FO_SHIPPED = "fulfillment.shipped", "Fulfilment shipped"
        FO_DELIVERED = "fulfillment.delivered", "Fulfilment delivered"
        FO_READY_FOR_PICKUP = "fulfillment.ready_for_pickup", "Ready for pickup"
        FO_PICKED_UP = "fulfillment.picked_up", "Picked up"
        FO_EXPIRED = "fulfillment.expired", "Pickup expired"
        FO_IN_TRANSIT = "fulfillment.in_transit", "In transit to store"
        FO_RECEIVED = "fulfillment.received", "Received at store"
        FO_REJECTED = "fulfillment.rejected", "Rejected by location"
        FO_CANCELLED = "fulfillment.cancelled", "Fulfilment cancelled"
        FO_LINES_WAITING = "fulfillment.lines_waiting", "Waiting for a new location"
        FO_EMAIL_SENT = "fulfillment.email_sent", "Pickup email sent"
        FO_EMAIL_FAILED = "fulfillment.email_failed", "Pickup email failed"
        FO_REMINDER_SENT = "fulfillment.reminder_sent", "Pickup reminder sent"
        FO_CUSTOMER_ARRIVED = "fulfillment.customer_arrived", "Customer is here"
        # Returns.
        RETURN_REQUESTED = "return_requested", "Return requested"
        RETURN_APPROVED = "return_approved", "Return approved"
        RETURN_REJECTED = "return_rejected", "Return rejected"
        RETURN_IN_TRANSIT = "return_in_transit", "Return in transit"
        RETURN_RECEIVED = "return_received", "Return received"
        RETURN_INSPECTED = "return_inspected", "Return inspected"
        REFUND_ISSUED = "refund_issued", "Refund issued"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    type = models.CharField(max_length=40, choices=Type.choices)
    message = models.CharField(max_length=500, blank=True)
    data = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.order_id} {self.type}"


class FraudSettings(models.Model):
    """The fraud-screening thresholds, edited in the admin (one row). Each rule adds its points when it fires;
    an order whose score reaches `hold_score` is held for review. Zero points switches a rule off."""

    hold_score = models.PositiveIntegerField(default=50, help_text="Hold orders scoring at least this.")
    new_customer_value_limit = models.DecimalField(
        max_digits=12, decimal_places=2, default=Decimal("500.00"), help_text="First order above this total."
    )
    new_customer_value_points = models.PositiveIntegerField(default=40)
    address_distance_km = models.PositiveIntegerField(
        default=500, help_text="Billing and shipping addresses further apart than this."
    )
    address_distance_points = models.PositiveIntegerField(default=30)
    velocity_window_minutes = models.PositiveIntegerField(default=10)
    velocity_max_orders = models.PositiveIntegerField(
        default=3, help_text="More earlier orders than this from one email or to one address within the window."
    )
    velocity_points = models.PositiveIntegerField(default=40)
    high_risk_skus = models.TextField(blank=True, help_text="SKUs, one per line or comma-separated.")
    high_risk_sku_points = models.PositiveIntegerField(default=30)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "fraud settings"
        verbose_name_plural = "fraud settings"

    def __str__(self) -> str:
        return f"Fraud screening (hold at {self.hold_score})"

    @property
    def high_risk_sku_set(self) -> frozenset[str]:
        return frozenset(s.strip() for s in self.high_risk_skus.replace(",", "\n").splitlines() if s.strip())


class SavedOrderFilter(models.Model):
    """A named set of orders-list filters, kept per user (the query string of the list)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_order_filters")
    name = models.CharField(max_length=80)
    query = models.CharField(max_length=1000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["user", "name"], name="saved_order_filter_unique_name")]

    def __str__(self) -> str:
        return self.name


class ChannelOrderUpdate(models.Model):
    """A change a channel sent about one of its orders (Shopify orders/cancelled, orders/updated,
    orders/edited), kept whatever became of it: applied, nothing to change, older than what we have, refused
    (the answer says why), or about an order we never received (shown on the channel updates screen)."""

    class Outcome(models.TextChoices):
        APPLIED = "applied", "Applied"
        NO_CHANGE = "no_change", "Nothing to change"
        IGNORED_OLDER = "ignored_older", "Older than what we have: ignored"
        REFUSED = "refused", "Refused"
        UNKNOWN_ORDER = "unknown_order", "Order never received"

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="order_updates")
    topic = models.CharField(max_length=40)
    webhook_id = models.CharField(max_length=200, blank=True, help_text="X-Shopify-Webhook-Id: duplicates skip.")
    external_id = models.CharField(max_length=100)
    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="channel_updates")
    source_updated_at = models.DateTimeField(help_text="When the channel changed the order (the payload's).")
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    detail = models.CharField(max_length=1000, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "webhook_id"],
                condition=~Q(webhook_id=""),
                name="channel_order_update_unique_webhook",
            )
        ]
        indexes = [models.Index(fields=["channel", "external_id"], name="channel_update_external")]

    def __str__(self) -> str:
        return f"{self.topic} {self.external_id} ({self.outcome})"
