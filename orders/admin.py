from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from orders.models import ApiClient, Channel, Customer, FraudSettings, Order, OrderEvent, OrderHold, OrderLine
from orders.selectors import channel_secret_status
from orders.services import channel_secret_clean, channel_secret_retire_previous, channel_secret_rotate


class ChannelAdminForm(forms.ModelForm):
    """The webhook secret is write-only: a new one may be typed (never shown back, not even after an error);
    the stored ones are not fields of this form at all."""

    new_webhook_secret = forms.CharField(
        required=False,
        strip=False,
        label="New webhook secret",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Set or rotate the secret the channel signs its webhooks with. Leave empty to keep the current one.",
    )
    overlap_hours = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=24 * 30,
        label="Previous secret keeps working (hours)",
        help_text="While the shop switches over, webhooks signed with the previous secret still verify. "
        "Empty: the default setting; 0: retire it at once.",
    )
    retire_previous_secret = forms.BooleanField(
        required=False, label="Retire the previous secret now", help_text="Only the current secret verifies."
    )

    class Meta:
        model = Channel
        fields = ["code", "name", "kind", "is_active", "shop_domain"]

    def clean_new_webhook_secret(self) -> str:
        value = self.cleaned_data.get("new_webhook_secret") or ""
        if not value:
            return ""
        try:
            secret = channel_secret_clean(new_secret=value)
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["new_secret"]) from None
        if self.instance.pk and secret in (self.instance.webhook_secret, self.instance.webhook_secret_previous):
            raise ValidationError("Choose a secret this channel has not used in its last rotation.")
        return secret


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    form = ChannelAdminForm
    list_display = ["code", "name", "kind", "is_active", "shop_domain", "webhook_secret_state"]
    list_filter = ["kind", "is_active"]
    search_fields = ["code", "name"]
    readonly_fields = ["webhook_secret_state"]
    fieldsets = [
        (None, {"fields": ["code", "name", "kind", "is_active", "shop_domain"]}),
        (
            "Webhook secret (write-only)",
            {"fields": ["webhook_secret_state", "new_webhook_secret", "overlap_hours", "retire_previous_secret"]},
        ),
    ]

    @admin.display(description="Webhook secret")
    def webhook_secret_state(self, obj: Channel) -> str:
        return channel_secret_status(channel=obj) if obj and obj.pk else "Not set."

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        data = form.cleaned_data
        if data.get("new_webhook_secret"):
            hours = 0 if data.get("retire_previous_secret") else data.get("overlap_hours")
            channel_secret_rotate(
                channel=obj,
                new_secret=data["new_webhook_secret"],
                actor=request.user,
                overlap=None if hours is None else timedelta(hours=hours),
            )
            messages.info(request, f"The webhook secret of {obj.code} was saved; it will not be shown again.")
        elif data.get("retire_previous_secret"):
            channel_secret_retire_previous(channel=obj, actor=request.user)


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    list_display = ["user", "channel"]
    list_filter = ["channel"]
    raw_id_fields = ["user"]


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["email", "name", "loyalty_tier", "order_count", "lifetime_value"]
    list_filter = ["loyalty_tier"]
    search_fields = ["email", "name", "phone"]
    raw_id_fields = ["preferred_store"]
    readonly_fields = ["order_count", "lifetime_value"]


@admin.register(FraudSettings)
class FraudSettingsAdmin(admin.ModelAdmin):
    """One row of thresholds; Operations edit it, nobody adds a second or deletes it."""

    list_display = ["__str__", "updated_at"]
    fieldsets = [
        (None, {"fields": ["hold_score"]}),
        ("First order over a value", {"fields": ["new_customer_value_limit", "new_customer_value_points"]}),
        ("Billing far from shipping", {"fields": ["address_distance_km", "address_distance_points"]}),
        (
            "Many orders from one email or to one address",
            {"fields": ["velocity_window_minutes", "velocity_max_orders", "velocity_points"]},
        ),
        ("High-risk SKUs", {"fields": ["high_risk_skus", "high_risk_sku_points"]}),
    ]

    def has_add_permission(self, request) -> bool:
        return not FraudSettings.objects.exists() and super().has_add_permission(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class OrderLineInline(admin.TabularInline):
    """Read-only: lines and their counters change only through orders.services (intake, routing, fulfilment
    and returns call them), never by editing a row."""

    model = OrderLine
    extra = 0
    can_delete = False
    fields = [
        "line_number",
        "sku",
        "product",
        "quantity",
        "quantity_allocated",
        "quantity_shipped",
        "quantity_cancelled",
        "quantity_returned",
    ]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class OrderHoldInline(admin.TabularInline):
    """Read-only here: holds are released or cancelled from the holds queue, which writes the timeline."""

    model = OrderHold
    extra = 0
    can_delete = False
    readonly_fields = ["kind", "reason", "created_at", "released_at", "released_by", "resolution", "note"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class OrderEventInline(admin.TabularInline):
    model = OrderEvent
    extra = 0
    readonly_fields = ["type", "message", "data", "actor", "created_at"]
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = [
        "number",
        "channel",
        "external_id",
        "status",
        "fulfillment_method",
        "service_level",
        "placed_at",
        "priority",
        "fraud_score",
        "total",
    ]
    list_filter = ["status", "channel", "fulfillment_method", "service_level", "payment_status"]
    search_fields = ["number", "external_id", "customer__email", "lines__sku"]
    raw_id_fields = ["customer", "pickup_location"]
    date_hierarchy = "placed_at"
    # The lifecycle changes only through orders.services (each move an OrderEvent), never by editing here.
    readonly_fields = [
        "status",
        "payment_status",
        "shipping_address",
        "billing_address",
        "fulfillment_method",
        "pickup_location",
        "number",
        "channel",
        "external_id",
        "idempotency_key",
        "fraud_score",
        "fraud_reasons",
        "priority",
        "cancel_reason",
        "address_key",
        "raw_payload",
    ]
    inlines = [OrderLineInline, OrderHoldInline, OrderEventInline]

    # Orders enter through intake (orders.services.order_ingest) and are never deleted: cancel them instead.
    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
