"""Channels, customers, orders and their timeline."""

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
    # Shopify-style webhook secret; set from the admin, never committed.
    webhook_secret = models.CharField(max_length=200, blank=True)

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
    ship_by = models.DateTimeField(null=True, blank=True)
    priority = models.IntegerField(default=0, db_index=True, help_text="Higher is more urgent.")
    payment_status = models.CharField(max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.PENDING)
    fraud_score = models.IntegerField(default=0)
    raw_payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-placed_at"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "external_id"], name="order_unique_channel_external_id"),
        ]
        indexes = [models.Index(fields=["status", "-priority", "placed_at"], name="order_queue")]

    def __str__(self) -> str:
        return self.number


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    line_number = models.PositiveIntegerField()
    product = models.ForeignKey("inventory.Product", null=True, blank=True, on_delete=models.PROTECT)
    sku = models.CharField(max_length=64, help_text="As received, even when the product is unknown.")
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    quantity_allocated = models.PositiveIntegerField(default=0)
    quantity_shipped = models.PositiveIntegerField(default=0)
    quantity_cancelled = models.PositiveIntegerField(default=0)
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
        ]

    def __str__(self) -> str:
        return f"{self.order_id}#{self.line_number} {self.sku} × {self.quantity}"


class OrderHold(models.Model):
    class Kind(models.TextChoices):
        PAYMENT = "payment", "Payment"
        ADDRESS = "address", "Address"
        FRAUD = "fraud", "Fraud review"
        UNKNOWN_ITEM = "unknown_item", "Unknown item"
        MANUAL = "manual", "Manual"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="holds")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    reason = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    released_at = models.DateTimeField(null=True, blank=True)
    released_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} hold on {self.order_id}"


class OrderEvent(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    type = models.CharField(max_length=40)
    message = models.CharField(max_length=500, blank=True)
    data = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.order_id} {self.type}"
