"""Fulfilment orders: the work a location does for part of a customer order."""

from django.db import models
from django.db.models import F, Q


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

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="fulfillment_line_quantity_positive"),
            models.CheckConstraint(
                condition=Q(quantity_picked__lte=F("quantity")), name="fulfillment_line_picked_le_quantity"
            ),
        ]
