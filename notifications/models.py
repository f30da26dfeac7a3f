"""E-mails: per-channel settings (on/off, sender), the operations alert settings, and the sent-message log
that is also the outbox (one row per event, recipient and template, written in the transaction of the
event; the send job marks it sent)."""

from django.db import models
from django.db.models import Q


class Template(models.TextChoices):
    SHIPPED = "shipped", "Shipped (with tracking)"
    READY_FOR_PICKUP = "ready_for_pickup", "Ready for pickup (with the pickup code)"
    PICKUP_REMINDER = "pickup_reminder", "Pickup reminder (with the pickup code)"
    DELAYED = "delayed", "Delayed / backordered (with the expected date)"
    CANCELLED = "cancelled", "Cancelled, fully or partly (with the refund amount)"
    REFUND_ISSUED = "refund_issued", "Refund issued"
    STOCK_LOW = "stock_low", "Low stock alert (operations)"


# Templates that go to the customer (per-channel on/off and sender apply); the rest go to operations.
CUSTOMER_TEMPLATES = frozenset(t for t in Template.values if t != Template.STOCK_LOW)


class ChannelNotificationSettings(models.Model):
    """A channel's customer e-mails. No row: e-mails on, sent from DEFAULT_FROM_EMAIL."""

    channel = models.OneToOneField("orders.Channel", on_delete=models.CASCADE, related_name="+")
    emails_enabled = models.BooleanField(default=True)
    from_name = models.CharField(max_length=100, blank=True)
    from_email = models.EmailField(blank=True, help_text="Blank: the site's DEFAULT_FROM_EMAIL.")
    reply_to = models.EmailField(blank=True)

    def __str__(self) -> str:
        return f"{self.channel_id}: {'on' if self.emails_enabled else 'off'}"


class AlertSettings(models.Model):
    """Operations alerts (one row, pk 1). No recipients: INVENTORY_ALERT_EMAILS from the environment."""

    low_stock_enabled = models.BooleanField(default=True)
    low_stock_recipients = models.TextField(blank=True, help_text="E-mail addresses, one per line or comma-separated.")

    def __str__(self) -> str:
        return "Alert settings"


class Message(models.Model):
    """One e-mail: the outbox row and the log. `key` is the event it answers (its uid, or a stable key such
    as the order and expected date of a delay); unique with recipient and template, so an event, a retry or
    a replay never queues it twice. The body is rendered at send time and never stored (the pickup code
    is only ever in the customer's mail)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed (gave up)"
        UNCONFIRMED = "unconfirmed", "Unconfirmed (worker stopped mid-send)"
        SKIPPED = "skipped", "Skipped (e-mails off)"

    key = models.CharField(max_length=100)
    template = models.CharField(max_length=30, choices=Template.choices)
    recipient = models.EmailField(max_length=254)
    event = models.ForeignKey("webhooks.Event", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    order = models.ForeignKey("orders.Order", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    channel = models.ForeignKey("orders.Channel", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    data = models.JSONField(default=dict, blank=True)
    subject = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["key", "recipient", "template"], name="notification_message_once")
        ]
        indexes = [
            models.Index(fields=["next_attempt_at", "id"], condition=Q(status="pending"), name="notification_due"),
            models.Index(fields=["claimed_until"], condition=Q(status="sending"), name="notification_sending"),
        ]

    def __str__(self) -> str:
        return f"{self.template} to {self.recipient} ({self.status})"
