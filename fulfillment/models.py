"""Fulfilment orders: the work a location does for part of a customer order."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q

from common.credentials import CredentialRefused, credential_env_check
from common.netguard import OutboundRefused, outbound_url_check
from common.pathguard import PathRefused, path_under_root


def endpoint_url_validate(value: str) -> None:
    """An endpoint is an allowed https:// URL (common.netguard), a file:// folder inside the feed root
    (common.pathguard) or a mailto: address."""
    url = value.strip()
    try:
        if url.startswith("file://"):
            path_under_root(folder=url[len("file://") :])
        elif url.startswith("mailto:"):
            if "@" not in url:
                raise ValidationError("A mailto: endpoint needs an e-mail address.")
        else:
            outbound_url_check(url=url)
    except (OutboundRefused, PathRefused) as exc:
        raise ValidationError(str(exc)) from exc


def endpoint_token_env_validate(value: str) -> None:
    """An endpoint's token comes only from a variable with the endpoint prefix (common.credentials)."""
    try:
        credential_env_check(name=value, kind="endpoint")
    except CredentialRefused as exc:
        raise ValidationError(str(exc)) from exc


class FulfillmentOrder(models.Model):
    class Status(models.TextChoices):
        CREATED = "created", "Created"
        RELEASED = "released", "Released"
        PICKING = "picking", "Picking"
        PACKED = "packed", "Packed"
        SHIPPED = "shipped", "Shipped"
        DELIVERED = "delivered", "Delivered"
        READY_FOR_PICKUP = "ready_for_pickup", "Ready for pickup"
        PICKED_UP = "picked_up", "Picked up"
        EXPIRED = "expired", "Expired (no-show)"
        IN_TRANSIT = "in_transit", "In transit to store"
        RECEIVED = "received", "Received at store"
        REJECTED = "rejected", "Rejected by location"
        CANCELLED = "cancelled", "Cancelled"

    class Method(models.TextChoices):
        SHIP = "ship", "Ship"
        PICKUP = "pickup", "Pick up in store"
        TRANSFER = "transfer", "Transfer to store"
        SAME_DAY = "same_day", "Same-day delivery"
        DROPSHIP = "dropship", "Dropship"

    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE, related_name="fulfillment_orders")
    location = models.ForeignKey("inventory.Location", on_delete=models.PROTECT, related_name="fulfillment_orders")
    method = models.CharField(max_length=10, choices=Method.choices, default=Method.SHIP)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.CREATED, db_index=True)
    reservation = models.ForeignKey(
        "inventory.Reservation", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    carrier_service = models.CharField(max_length=40, blank=True)
    ship_by = models.DateTimeField(null=True, blank=True)
    estimated_cost = models.DecimalField(max_digits=10, decimal_places=2, default=0)

    picked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    picked_at = models.DateTimeField(null=True, blank=True)
    # Pickup (BOPIS): code the customer shows, the date they must come by, where the parcel waits.
    pickup_code = models.CharField(max_length=12, blank=True, db_index=True)
    pickup_by = models.DateTimeField(null=True, blank=True, db_index=True)
    staging_location = models.CharField(max_length=40, blank=True, help_text="Shelf or bin where the parcel waits.")
    ready_at = models.DateTimeField(null=True, blank=True)
    ready_email_sent_at = models.DateTimeField(null=True, blank=True)
    ready_email_error = models.CharField(max_length=300, blank=True)
    reminder_sent_at = models.DateTimeField(null=True, blank=True)
    collected_by_name = models.CharField(max_length=200, blank=True)
    collected_relation = models.CharField(max_length=60, blank=True, help_text="e.g. customer, spouse, courier.")
    collected_id_type = models.CharField(max_length=60, blank=True)
    handed_over_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    picked_up_at = models.DateTimeField(null=True, blank=True)
    expired_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # Warehouses and 3PLs: consolidation and release.
    consolidation_key = models.CharField(max_length=64, blank=True, db_index=True)
    hold_until = models.DateTimeField(null=True, blank=True)
    released_at = models.DateTimeField(null=True, blank=True)
    # Ship-to-store: the pickup fulfilment order a received transfer became.
    pickup_fulfillment_order = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="from_transfer"
    )
    received_at = models.DateTimeField(null=True, blank=True)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rejection_reason = models.CharField(max_length=200, blank=True)
    # "I'm here": when the customer said they arrived (from the check-in link), and where they wait.
    customer_arrived_at = models.DateTimeField(null=True, blank=True)
    customer_arrival_note = models.CharField(max_length=120, blank=True, help_text="Parking spot or car.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["location", "status"], name="fo_location_status")]

    def __str__(self) -> str:
        return f"FO-{self.pk} {self.location_id} ({self.status})"


class FulfillmentLine(models.Model):
    fulfillment_order = models.ForeignKey(FulfillmentOrder, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey("orders.OrderLine", on_delete=models.CASCADE, related_name="fulfillment_lines")
    quantity = models.PositiveIntegerField()
    quantity_picked = models.PositiveIntegerField(default=0)
    quantity_short = models.PositiveIntegerField(default=0)
    quantity_shipped = models.PositiveIntegerField(default=0)
    # Units no longer wanted here: handed over short at pickup, expired as a no-show, or cancelled.
    quantity_cancelled = models.PositiveIntegerField(default=0)
    short_reason = models.CharField(max_length=40, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="fulfillment_line_quantity_positive"),
            models.CheckConstraint(
                condition=Q(quantity_short__lte=F("quantity")), name="fulfillment_line_short_le_quantity"
            ),
            models.CheckConstraint(
                condition=Q(quantity_shipped__lte=F("quantity_picked")), name="fulfillment_line_shipped_le_picked"
            ),
            models.CheckConstraint(
                condition=Q(quantity_picked__lte=F("quantity")), name="fulfillment_line_picked_le_quantity"
            ),
            models.CheckConstraint(
                condition=Q(quantity__gte=F("quantity_picked") + F("quantity_short")),
                name="fulfillment_line_picked_plus_short_le_quantity",
            ),
        ]

    @property
    def quantity_open(self) -> int:
        """Units still to pick here."""
        return self.quantity - self.quantity_picked - self.quantity_short


# --- Additions for the fulfilment workflows (issue 6) ------------------------------------------------------


class RejectionReason(models.Model):
    """Why a store reports an issue with a line, and what that does to the store's stock (admin-editable)."""

    class StockEffect(models.TextChoices):
        NONE = "none", "No stock change"
        ZERO = "zero", "Stock here set to 0 (nothing left to sell)"
        LOWER = "lower", "Stock lowered by the rejected quantity"
        DAMAGED = "damaged", "Rejected units written off as damaged (not sellable)"

    code = models.SlugField(max_length=40, unique=True)
    label = models.CharField(max_length=100)
    stock_effect = models.CharField(max_length=10, choices=StockEffect.choices, default=StockEffect.NONE)
    is_active = models.BooleanField(default=True)
    sort_order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "code"]

    def __str__(self) -> str:
        return self.label


class StoreSettings(models.Model):
    """What a store's staff control: capacity today, walk-in protection, scanning, pickup days."""

    location = models.OneToOneField("inventory.Location", on_delete=models.CASCADE, related_name="store_settings")
    paused_on = models.DateField(null=True, blank=True, help_text="No new online work on this (local) day.")
    paused_capacity = models.PositiveIntegerField(
        null=True, blank=True, help_text="Daily capacity to restore when the pause ends."
    )
    scan_required = models.BooleanField(default=False, help_text="Lines must be confirmed by scanning, not tapping.")
    allow_partial_rejection = models.BooleanField(
        default=True, help_text="When off, reporting an issue on one line rejects the whole fulfilment order."
    )
    walk_in_protection = models.PositiveIntegerField(
        default=0, help_text="Units of every product held back from online orders for walk-in customers."
    )
    pickup_hold_days = models.PositiveIntegerField(default=3, help_text="Days a ready pickup waits before no-show.")
    reminder_days_before = models.PositiveIntegerField(
        default=1, help_text="Remind the customer this many days before."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "store settings"
        constraints = [
            models.CheckConstraint(condition=Q(pickup_hold_days__gte=1), name="store_settings_pickup_days_positive"),
        ]

    def __str__(self) -> str:
        return f"settings of {self.location_id}"


class Shipment(models.Model):
    """A parcel (or consignment) leaving a location for a fulfilment order."""

    fulfillment_order = models.ForeignKey(FulfillmentOrder, on_delete=models.CASCADE, related_name="shipments")
    carrier = models.CharField(max_length=40, blank=True)
    service = models.CharField(max_length=40, blank=True, help_text="Carrier service code (fulfillment.carriers).")
    tracking_number = models.CharField(max_length=80, blank=True, db_index=True)
    tracking_url = models.URLField(blank=True)
    package_type = models.CharField(max_length=40, blank=True)
    weight_grams = models.PositiveIntegerField(default=0)
    length_cm = models.PositiveIntegerField(default=0)
    width_cm = models.PositiveIntegerField(default=0)
    height_cm = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    currency = models.CharField(max_length=3, default="USD")
    # International: [{"sku", "description", "hs_code", "origin", "quantity", "unit_value", "value"}].
    customs_items = models.JSONField(default=list, blank=True)
    packed_at = models.DateTimeField(null=True, blank=True)
    packed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    shipped_at = models.DateTimeField(null=True, blank=True)
    handed_off_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Shipment {self.pk} of FO-{self.fulfillment_order_id} {self.tracking_number}"

    @property
    def is_international(self) -> bool:
        return bool(self.customs_items)


class ShipmentLine(models.Model):
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="lines")
    fulfillment_line = models.ForeignKey(FulfillmentLine, on_delete=models.CASCADE, related_name="shipment_lines")
    quantity = models.PositiveIntegerField()

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="shipment_line_quantity_positive")]


class FulfillmentEvent(models.Model):
    """A confirmation received from a warehouse, 3PL or supplier; unique per sender event id (idempotency)."""

    fulfillment_order = models.ForeignKey(FulfillmentOrder, on_delete=models.CASCADE, related_name="events")
    event_id = models.CharField(max_length=100)
    type = models.CharField(max_length=20)
    payload = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["fulfillment_order", "event_id"], name="fulfillment_event_unique_id")
        ]


class CancelRequest(models.Model):
    """A request to the location holding released work to cancel some of its units (an order change after
    release). It completes only when the location answers: confirmed (the units come off the work, stock goes
    back, the order's cancellation completes) or refused (already packed or shipped: the units will ship)."""

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"
        CONFIRMED = "confirmed", "Confirmed"
        REFUSED = "refused", "Refused"

    class Kind(models.TextChoices):
        # the units are cancelled from the order once the location confirms
        CANCEL = "cancel", "Cancel"
        # the units stay on the order and are routed again (to the order's new address) once it confirms
        REROUTE = "reroute", "Re-route"

    fulfillment_order = models.ForeignKey(FulfillmentOrder, on_delete=models.CASCADE, related_name="cancel_requests")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.CANCEL)
    # {order line id (as text): units asked}
    units = models.JSONField(default=dict)
    reason = models.CharField(max_length=500)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.REQUESTED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    answered_at = models.DateTimeField(null=True, blank=True)
    answer_note = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [models.Index(fields=["fulfillment_order", "status"], name="fulfillment_cancelreq_fo_st")]

    def __str__(self) -> str:
        return f"Cancel request {self.pk} on FO-{self.fulfillment_order_id} ({self.status})"


class Endpoint(models.Model):
    """Where messages for a location go: an HTTP(S) URL, a `file://` drop folder or a `mailto:` address.

    The bearer token, if any, is read from the environment variable named in `token_env` (never stored); only
    names with the endpoint prefix (DOM_ENDPOINT_SECRET_PREFIX) are accepted.
    """

    location = models.OneToOneField("inventory.Location", on_delete=models.CASCADE, related_name="endpoint")
    url = models.CharField(
        max_length=500,
        validators=[endpoint_url_validate],
        help_text="https://…, file:///folder/inside/the/feed/root or mailto:orders@supplier",
    )
    token_env = models.CharField(
        max_length=100,
        blank=True,
        validators=[endpoint_token_env_validate],
        help_text="Environment variable holding the token; must start with DOM_ENDPOINT_.",
    )
    is_active = models.BooleanField(default=True)

    # Fields only admins or holders of `configure_endpoint` may set: where messages go and with what token.
    TRANSPORT_FIELDS = ("url", "token_env")

    class Meta:
        permissions = [("configure_endpoint", "Can set an endpoint's URL and credentials")]

    def __str__(self) -> str:
        return f"{self.location_id} → {self.url}"


class OutboxMessage(models.Model):
    """One message to deliver to a location's endpoint; delivered at least once, identified by its key."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed (gave up)"

    idempotency_key = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=30)
    location = models.ForeignKey("inventory.Location", on_delete=models.PROTECT, related_name="+")
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.idempotency_key} ({self.status})"


class SupplierItem(models.Model):
    """What a dropship supplier charges for a product."""

    supplier = models.ForeignKey("inventory.Location", on_delete=models.CASCADE, related_name="supplier_items")
    product = models.ForeignKey("inventory.Product", on_delete=models.CASCADE, related_name="+")
    supplier_sku = models.CharField(max_length=64, blank=True)
    unit_cost = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3, default="USD")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["supplier", "product"], name="supplier_item_unique"),
            models.CheckConstraint(condition=Q(unit_cost__gte=0), name="supplier_item_cost_not_negative"),
        ]


class PurchaseOrder(models.Model):
    """A dropship purchase order: the supplier ships the customer's lines directly."""

    class Status(models.TextChoices):
        SENT = "sent", "Sent"
        CONFIRMED = "confirmed", "Confirmed"
        SHIPPED = "shipped", "Shipped"
        CANCELLED = "cancelled", "Cancelled"

    number = models.CharField(max_length=32, unique=True)
    supplier = models.ForeignKey("inventory.Location", on_delete=models.PROTECT, related_name="purchase_orders")
    fulfillment_order = models.OneToOneField(FulfillmentOrder, on_delete=models.CASCADE, related_name="purchase_order")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SENT, db_index=True)
    currency = models.CharField(max_length=3, default="USD")
    total_cost = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.number


class PurchaseOrderLine(models.Model):
    purchase_order = models.ForeignKey(PurchaseOrder, on_delete=models.CASCADE, related_name="lines")
    fulfillment_line = models.OneToOneField(FulfillmentLine, on_delete=models.CASCADE, related_name="po_line")
    product = models.ForeignKey("inventory.Product", on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()
    unit_cost = models.DecimalField(max_digits=12, decimal_places=2)
    quantity_shipped = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="po_line_quantity_positive"),
            models.CheckConstraint(condition=Q(quantity_shipped__lte=F("quantity")), name="po_line_shipped_le_qty"),
        ]
