from django.contrib import admin
from django.db.models import QuerySet

from inventory.models import (
    ChannelAllocation,
    InventoryMovement,
    Location,
    LocationGroup,
    Product,
    Reservation,
    ReservationLine,
    SafetyStockRule,
    StockLevel,
)
from inventory.selectors import low_stock_products


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "name",
        "kind",
        "city",
        "region",
        "postal_code",
        "is_active",
        "can_ship",
        "can_pickup",
        "daily_capacity",
    ]
    list_filter = ["kind", "is_active", "can_ship", "can_pickup", "can_same_day", "accepts_returns", "region"]
    search_fields = ["code", "name", "city", "postal_code"]
    filter_horizontal = ["staff"]
    fieldsets = [
        (None, {"fields": ["code", "name", "kind", "is_active"]}),
        (
            "Address",
            {
                "fields": [
                    "address_line1",
                    "city",
                    "region",
                    "postal_code",
                    "country",
                    "latitude",
                    "longitude",
                    "timezone",
                ]
            },
        ),
        (
            "Capabilities",
            {
                "fields": [
                    "can_ship",
                    "can_pickup",
                    "can_receive_transfers",
                    "can_same_day",
                    "accepts_returns",
                    "sell_online",
                    "handling_classes",
                ]
            },
        ),
        (
            "Capacity and cost",
            {"fields": ["daily_capacity", "cutoff_time", "handling_cost_per_order", "handling_cost_per_unit"]},
        ),
        ("Staff", {"fields": ["staff"]}),
    ]


@admin.register(LocationGroup)
class LocationGroupAdmin(admin.ModelAdmin):
    list_display = ["code", "name"]
    search_fields = ["code", "name"]
    filter_horizontal = ["locations"]


class LowStockFilter(admin.SimpleListFilter):
    title = "stock"
    parameter_name = "stock"

    def lookups(self, request, model_admin):
        return [("low", "Low stock (network ATS below threshold)")]

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        if self.value() == "low":
            return queryset.filter(pk__in=[row[0] for row in low_stock_products(limit=5000)])
        return queryset


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["sku", "name", "handling_class", "weight_grams", "returnable", "is_active"]
    list_filter = [LowStockFilter, "handling_class", "is_active", "returnable"]
    search_fields = ["sku", "name", "hs_code"]


@admin.register(StockLevel)
class StockLevelAdmin(admin.ModelAdmin):
    list_display = ["product", "location", "on_hand", "reserved", "updated_at"]
    list_filter = ["location__kind"]
    search_fields = ["product__sku", "location__code"]
    list_select_related = ["product", "location"]
    raw_id_fields = ["product", "location"]
    show_full_result_count = False

    # Stock changes only through services (they write the ledger): read-only here.
    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(SafetyStockRule)
class SafetyStockRuleAdmin(admin.ModelAdmin):
    list_display = ["__str__", "product", "location", "location_kind", "quantity"]
    list_filter = ["location_kind"]
    search_fields = ["product__sku", "location__code"]
    raw_id_fields = ["product", "location"]


@admin.register(ChannelAllocation)
class ChannelAllocationAdmin(admin.ModelAdmin):
    list_display = ["channel", "product", "mode", "value"]
    list_filter = ["channel", "mode"]
    raw_id_fields = ["product"]


class ReservationLineInline(admin.TabularInline):
    model = ReservationLine
    extra = 0
    raw_id_fields = ["product", "location"]
    readonly_fields = ["product", "location", "quantity", "quantity_closed", "reference"]
    can_delete = False


@admin.register(Reservation)
class ReservationAdmin(admin.ModelAdmin):
    list_display = ["id", "channel", "reference", "status", "expires_at", "created_at"]
    list_filter = ["status", "channel"]
    search_fields = ["reference"]
    inlines = [ReservationLineInline]
    readonly_fields = ["channel", "reference", "status", "expires_at"]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(InventoryMovement)
class InventoryMovementAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "product",
        "location",
        "delta_on_hand",
        "delta_reserved",
        "reason",
        "reference",
        "actor",
    ]
    list_filter = ["reason", "location__kind"]
    search_fields = ["product__sku", "location__code", "reference"]
    list_select_related = ["product", "location", "actor"]
    date_hierarchy = "created_at"
    show_full_result_count = False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
