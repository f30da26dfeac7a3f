from django.contrib import admin

from orders.models import ApiClient, Channel, Customer, FraudSettings, Order, OrderEvent, OrderHold, OrderLine


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "kind", "is_active", "shop_domain"]
    list_filter = ["kind", "is_active"]
    search_fields = ["code", "name"]


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
