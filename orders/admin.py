from django.contrib import admin

from orders.models import ApiClient, Channel, Customer, Order, OrderEvent, OrderHold, OrderLine


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "kind", "is_active"]
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


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    raw_id_fields = ["product"]


class OrderHoldInline(admin.TabularInline):
    model = OrderHold
    extra = 0


class OrderEventInline(admin.TabularInline):
    model = OrderEvent
    extra = 0
    readonly_fields = ["type", "message", "data", "actor", "created_at"]
    can_delete = False


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
        "total",
    ]
    list_filter = ["status", "channel", "fulfillment_method", "service_level", "payment_status"]
    search_fields = ["number", "external_id", "customer__email", "lines__sku"]
    raw_id_fields = ["customer", "pickup_location"]
    date_hierarchy = "placed_at"
    inlines = [OrderLineInline, OrderHoldInline, OrderEventInline]
