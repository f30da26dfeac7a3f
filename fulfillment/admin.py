from django.contrib import admin
from django.utils import timezone

from fulfillment.models import (
    Endpoint,
    FulfillmentEvent,
    FulfillmentLine,
    FulfillmentOrder,
    OutboxMessage,
    PurchaseOrder,
    PurchaseOrderLine,
    RejectionReason,
    Shipment,
    StoreSettings,
    SupplierItem,
)


class FulfillmentLineInline(admin.TabularInline):
    """Read-only: fulfilment lines are created by routing through fulfillment.services and change only as
    they are picked, shipped or taken back there."""

    model = FulfillmentLine
    extra = 0
    can_delete = False
    fields = [
        "order_line",
        "quantity",
        "quantity_picked",
        "quantity_shipped",
        "quantity_short",
        "quantity_cancelled",
        "short_reason",
    ]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ShipmentInline(admin.TabularInline):
    model = Shipment
    extra = 0
    fields = ["carrier", "service", "tracking_number", "weight_grams", "shipped_at", "handed_off_at", "delivered_at"]
    readonly_fields = fields
    show_change_link = True


@admin.register(FulfillmentOrder)
class FulfillmentOrderAdmin(admin.ModelAdmin):
    list_display = ["id", "order", "location", "method", "status", "pickup_by", "created_at"]
    list_filter = ["status", "method", "location__kind"]
    search_fields = ["order__number", "location__code", "pickup_code"]
    raw_id_fields = ["order", "location", "reservation", "pickup_fulfillment_order"]
    # Status, lines and where/how it ships change only through fulfillment.services.
    readonly_fields = [
        "order",
        "location",
        "method",
        "status",
        "reservation",
        "picked_by",
        "handed_over_by",
        "received_by",
    ]
    inlines = [FulfillmentLineInline, ShipmentInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Shipment)
class ShipmentAdmin(admin.ModelAdmin):
    list_display = ["id", "fulfillment_order", "carrier", "service", "tracking_number", "shipped_at", "delivered_at"]
    search_fields = ["tracking_number", "fulfillment_order__order__number"]
    raw_id_fields = ["fulfillment_order", "packed_by"]


@admin.register(RejectionReason)
class RejectionReasonAdmin(admin.ModelAdmin):
    list_display = ["code", "label", "stock_effect", "is_active", "sort_order"]
    list_editable = ["label", "stock_effect", "is_active", "sort_order"]


@admin.register(StoreSettings)
class StoreSettingsAdmin(admin.ModelAdmin):
    list_display = ["location", "paused_on", "walk_in_protection", "scan_required", "pickup_hold_days"]
    raw_id_fields = ["location"]


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    """Operations pause and resume endpoints; where messages go and with what token (Endpoint.TRANSPORT_FIELDS)
    is set by admins or holders of `fulfillment.configure_endpoint`, who alone add endpoints. The token itself
    is never on this page: only the name of the variable holding it."""

    list_display = ["location", "url", "token_env", "is_active"]
    raw_id_fields = ["location"]

    @staticmethod
    def may_configure(request) -> bool:
        return request.user.has_perm("fulfillment.configure_endpoint")

    def has_add_permission(self, request) -> bool:
        return self.may_configure(request) and super().has_add_permission(request)

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        if not self.may_configure(request):
            fields += ["location", *Endpoint.TRANSPORT_FIELDS]
        return fields


@admin.action(description="Retry now")
def retry_now(modeladmin, request, queryset):
    # Failed or waiting messages become due; the outbox sweeper delivers them within a minute.
    queryset.exclude(status=OutboxMessage.Status.DELIVERED).update(
        status=OutboxMessage.Status.PENDING, next_attempt_at=timezone.now(), attempts=0
    )


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    list_display = ["idempotency_key", "kind", "location", "status", "attempts", "next_attempt_at", "delivered_at"]
    list_filter = ["status", "kind"]
    search_fields = ["idempotency_key"]
    readonly_fields = ["idempotency_key", "kind", "location", "payload", "delivered_at", "last_error"]
    actions = [retry_now]


@admin.register(FulfillmentEvent)
class FulfillmentEventAdmin(admin.ModelAdmin):
    list_display = ["fulfillment_order", "event_id", "type", "received_at"]
    search_fields = ["event_id"]
    raw_id_fields = ["fulfillment_order"]


@admin.register(SupplierItem)
class SupplierItemAdmin(admin.ModelAdmin):
    list_display = ["supplier", "product", "supplier_sku", "unit_cost", "currency"]
    raw_id_fields = ["supplier", "product"]


class PurchaseOrderLineInline(admin.TabularInline):
    model = PurchaseOrderLine
    extra = 0
    raw_id_fields = ["fulfillment_line", "product"]


@admin.register(PurchaseOrder)
class PurchaseOrderAdmin(admin.ModelAdmin):
    list_display = ["number", "supplier", "status", "total_cost", "created_at"]
    list_filter = ["status"]
    search_fields = ["number"]
    raw_id_fields = ["supplier", "fulfillment_order"]
    inlines = [PurchaseOrderLineInline]
