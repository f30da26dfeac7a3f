"""Returns: return authorisations (RMAs), their lines, and the explained choice of the return location.

Only `returns.services` writes these; stock effects of a return go through `inventory.services`.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class ReturnAuthorization(models.Model):
    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"
        APPROVED = "approved", "Approved"
        IN_TRANSIT = "in_transit", "In transit"
        RECEIVED = "received", "Received"
        INSPECTED = "inspected", "Inspected"
        CLOSED = "closed", "Closed"
        REJECTED = "rejected", "Rejected"

    class Method(models.TextChoices):
        MAIL = "mail", "Mail-in"
        IN_STORE = "in_store", "Returned in store"

    class RefundStatus(models.TextChoices):
        PENDING = "pending", "Pending"
        ISSUED = "issued", "Issued"
        NONE = "none", "No refund (rejected)"

    number = models.CharField(max_length=40, unique=True)
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="returns")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.REQUESTED, db_index=True)
    method = models.CharField(max_length=10, choices=Method.choices, default=Method.MAIL)
    return_location = models.ForeignKey(
        "inventory.Location", null=True, blank=True, on_delete=models.PROTECT, related_name="returns"
    )
    source = models.CharField(max_length=20, default="back-office", help_text="api, back-office or store.")
    # API Idempotency-Key header; unique per order when given, so a retried POST is one RMA.
    idempotency_key = models.CharField(max_length=200, blank=True, default="")
    customer_note = models.CharField(max_length=500, blank=True)
    tracking_number = models.CharField(max_length=80, blank=True)
    rejected_reason = models.CharField(max_length=300, blank=True)
    currency = models.CharField(max_length=3, default="USD")
    refund_status = models.CharField(max_length=10, choices=RefundStatus.choices, default=RefundStatus.PENDING)
    # Expected refund until the units arrive; then the value of the units actually received.
    refund_amount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    refund_reference = models.CharField(max_length=100, blank=True)
    refund_issued_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)
    inspected_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "return authorisation"
        constraints = [
            models.UniqueConstraint(
                fields=["order", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="rma_unique_order_idempotency_key",
            ),
            models.CheckConstraint(condition=Q(refund_amount__gte=0), name="rma_refund_not_negative"),
        ]
        indexes = [models.Index(fields=["return_location", "status"], name="rma_location_status")]

    def __str__(self) -> str:
        return self.number

    @property
    def is_open(self) -> bool:
        """Units still expected back (they count against what may be returned)."""
        return self.status in OPEN_STATUSES


OPEN_STATUSES = (
    ReturnAuthorization.Status.REQUESTED,
    ReturnAuthorization.Status.APPROVED,
    ReturnAuthorization.Status.IN_TRANSIT,
)


class ReturnLine(models.Model):
    class Reason(models.TextChoices):
        DAMAGED = "damaged", "Arrived damaged"
        DEFECTIVE = "defective", "Defective"
        WRONG_ITEM = "wrong_item", "Wrong item sent"
        NOT_AS_DESCRIBED = "not_as_described", "Not as described"
        SIZE_FIT = "size_fit", "Size or fit"
        NO_LONGER_NEEDED = "no_longer_needed", "No longer needed"
        OTHER = "other", "Other"

    class Condition(models.TextChoices):
        NEW = "new", "New, unopened"
        OPENED = "opened", "Opened, as new"
        DAMAGED = "damaged", "Damaged"
        DEFECTIVE = "defective", "Defective"

    class Disposition(models.TextChoices):
        RESTOCK = "restock", "Restock (sellable here at once)"
        REFURBISH = "refurbish", "Refurbish"
        WRITE_OFF = "write_off", "Write off"
        RETURN_TO_VENDOR = "return_to_vendor", "Return to vendor"

    rma = models.ForeignKey(ReturnAuthorization, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey("orders.OrderLine", on_delete=models.PROTECT, related_name="return_lines")
    product = models.ForeignKey("inventory.Product", on_delete=models.PROTECT, related_name="+")
    sku = models.CharField(max_length=64)
    quantity = models.PositiveIntegerField(help_text="Units authorised for return.")
    reason = models.CharField(max_length=20, choices=Reason.choices, default=Reason.OTHER)
    reason_note = models.CharField(max_length=300, blank=True)
    unit_price = models.DecimalField(max_digits=12, decimal_places=2, default=0, help_text="From the order line.")
    quantity_received = models.PositiveIntegerField(default=0)
    condition = models.CharField(max_length=12, choices=Condition.choices, blank=True)
    disposition = models.CharField(max_length=20, choices=Disposition.choices, blank=True)

    class Meta:
        ordering = ["rma", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="return_line_quantity_positive"),
            models.CheckConstraint(
                condition=Q(quantity_received__lte=F("quantity")), name="return_line_received_le_quantity"
            ),
            models.UniqueConstraint(fields=["rma", "order_line"], name="return_line_unique_order_line"),
        ]

    def __str__(self) -> str:
        return f"{self.rma_id} {self.sku} × {self.quantity}"


class ReturnRoutingDecision(models.Model):
    """Why a return goes where it goes, kept like an order's RoutingDecision: the return rule set's version,
    the rules that fired, every candidate with its costs, the excluded locations with reasons, the choice."""

    rma = models.ForeignKey(ReturnAuthorization, on_delete=models.CASCADE, related_name="routing_decisions")
    method = models.CharField(max_length=10)
    location = models.ForeignKey(
        "inventory.Location", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    rule_set_version = models.ForeignKey(
        "routing.RuleSetVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rules_fired = models.JSONField(default=list)
    # [{location_id, location, kind, distance_km, shipping, adjustment, need_credit, cost, lines}], cheapest first
    candidates = models.JSONField(default=list)
    # {reason: [location ids]}
    excluded = models.JSONField(default=dict)
    notes = models.JSONField(default=list)
    cost = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Return decision {self.pk} for {self.rma_id}"
