from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils.html import format_html
from import_export.admin import ImportExportMixin, ImportExportModelAdmin

from inventory.models import (
    ChannelAllocation,
    CycleCount,
    DemandForecast,
    FeedRun,
    InventoryMovement,
    Location,
    LocationClosure,
    LocationGroup,
    Product,
    Reservation,
    ReservationLine,
    SafetyStockProposal,
    SafetyStockRule,
    StockImport,
    StockLevel,
    StockShortage,
    WmsEvent,
    WmsFeed,
)
from inventory.resources import CycleCountResource, LocationResource, ProductResource, StockLevelResource
from inventory.selectors import low_stock_products
from inventory.services import cycle_count_log, cycle_count_record, stock_shortage_resolve


class LocationClosureInline(admin.TabularInline):
    model = LocationClosure
    extra = 0
    fields = ["date", "reason"]


@admin.register(Location)
class LocationAdmin(ImportExportModelAdmin):
    resource_classes = [LocationResource]
    inlines = [LocationClosureInline]
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
            {
                "fields": [
                    "daily_capacity",
                    "cutoff_time",
                    "handling_cost_per_order",
                    "handling_cost_per_line",
                    "handling_cost_per_unit",
                ]
            },
        ),
        ("Alerts", {"fields": ["low_stock_threshold"]}),
        ("Staff", {"fields": ["staff"]}),
    ]


@admin.register(LocationClosure)
class LocationClosureAdmin(admin.ModelAdmin):
    list_display = ["location", "date", "reason"]
    list_filter = ["location__kind"]
    search_fields = ["location__code", "location__name", "reason"]
    date_hierarchy = "date"
    autocomplete_fields = ["location"]


@admin.register(DemandForecast)
class DemandForecastAdmin(admin.ModelAdmin):
    """Read only: the forecast schedule writes these."""

    list_display = ["product", "location", "daily_mean", "sigma", "wape", "wape_naive", "model", "made_at"]
    list_select_related = ["product", "location"]
    search_fields = ["product__sku", "location__code"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(SafetyStockProposal)
class SafetyStockProposalAdmin(admin.ModelAdmin):
    """Read only: proposals are decided on the safety-stock screen (/inventory/safety-stock/)."""

    list_display = ["product", "location", "current_quantity", "proposed_quantity", "status", "decided_by"]
    list_filter = ["status"]
    list_select_related = ["product", "location", "decided_by"]
    search_fields = ["product__sku", "location__code"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


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
class ProductAdmin(ImportExportModelAdmin):
    resource_classes = [ProductResource]
    list_display = ["sku", "name", "handling_class", "weight_grams", "returnable", "is_active"]
    list_filter = [LowStockFilter, "handling_class", "is_active", "returnable"]
    search_fields = ["sku", "name", "hs_code"]


@admin.register(StockLevel)
class StockLevelAdmin(ImportExportMixin, admin.ModelAdmin):
    """Read-only rows; imports (sku, location, on_hand) go through the ledger, see resources.py."""

    resource_classes = [StockLevelResource]
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

    # Held stock is released or consumed through inventory.services (which write the ledger), never deleted.
    def has_delete_permission(self, request, obj=None) -> bool:
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


# --- Bulk stock: imports, shortages, feeds, counts --------------------------------------------------------


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(StockImport)
class StockImportAdmin(_ReadOnly):
    list_display = ["id", "original_name", "mode", "status", "rows_total", "rows_changed", "rows_rejected", "page"]
    list_filter = ["status", "mode", "dry_run"]
    search_fields = ["original_name", "checksum"]

    @admin.display(description="Details")
    def page(self, obj: StockImport) -> str:
        return format_html('<a href="{}">open</a>', reverse("inventory:import-detail", args=[obj.pk]))


class OpenShortageFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("open", "Open"), ("resolved", "Resolved")]

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        if self.value() == "open":
            return queryset.filter(resolved_at__isnull=True)
        if self.value() == "resolved":
            return queryset.filter(resolved_at__isnull=False)
        return queryset


@admin.register(StockShortage)
class StockShortageAdmin(_ReadOnly):
    list_display = [
        "product",
        "location",
        "on_hand",
        "reserved",
        "quantity_short",
        "source",
        "detected_at",
        "resolved_at",
    ]
    list_filter = [OpenShortageFilter, "location__kind"]
    search_fields = ["product__sku", "location__code", "source"]
    list_select_related = ["product", "location"]
    actions = ["resolve"]

    def has_change_permission(self, request, obj=None) -> bool:
        return request.user.has_perm("inventory.change_stockshortage")

    @admin.action(description="Mark as resolved")
    def resolve(self, request, queryset):
        for pk in queryset.values_list("pk", flat=True):
            stock_shortage_resolve(shortage_id=pk, actor=request.user)
        self.message_user(request, "Marked as resolved.", messages.SUCCESS)


@admin.action(description="Pause the selected feeds", permissions=["change"])
def feeds_pause(modeladmin, request, queryset) -> None:
    from inventory.feeds import wms_feeds_activate

    n = wms_feeds_activate(feed_ids=list(queryset.values_list("pk", flat=True)), active=False)
    modeladmin.message_user(request, f"{n} feed(s) paused.")


@admin.action(description="Resume the selected feeds", permissions=["change"])
def feeds_resume(modeladmin, request, queryset) -> None:
    from inventory.feeds import wms_feeds_activate

    n = wms_feeds_activate(feed_ids=list(queryset.values_list("pk", flat=True)), active=True)
    modeladmin.message_user(request, f"{n} feed(s) resumed.")


@admin.action(description="Run the selected feeds now", permissions=["change"])
def feeds_run_now(modeladmin, request, queryset) -> None:
    from inventory.feeds import wms_feeds_run_now

    n = wms_feeds_run_now(feed_ids=list(queryset.values_list("pk", flat=True)))
    modeladmin.message_user(request, f"{n} feed run(s) queued; see Feed runs.")


@admin.register(WmsFeed)
class WmsFeedAdmin(admin.ModelAdmin):
    """Inventory managers pause, resume, run and map feeds; where a feed reads from and with what secret
    (WmsFeed.TRANSPORT_FIELDS) is set by admins or holders of `inventory.configure_wmsfeed`, who alone add
    feeds. The secret itself is never on this page: only the name of the variable holding it."""

    list_display = ["name", "format", "transport", "every_minutes", "is_active", "last_sequence", "last_run"]
    list_filter = ["is_active", "transport", "format"]
    search_fields = ["name"]
    readonly_fields = ["last_sequence", "push_url"]
    actions = [feeds_pause, feeds_resume, feeds_run_now]
    fieldsets = [
        (None, {"fields": ["name", "format", "is_active", "every_minutes"]}),
        ("Transport", {"fields": ["transport", "directory", "url", "push_url", "auth", "secret_env"]}),
        ("Locations", {"fields": ["location_map", "default_location"]}),
        ("State", {"fields": ["last_sequence"]}),
    ]
    raw_id_fields = ["default_location"]

    @staticmethod
    def may_configure(request) -> bool:
        return request.user.has_perm("inventory.configure_wmsfeed")

    def has_add_permission(self, request) -> bool:
        return self.may_configure(request) and super().has_add_permission(request)

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        if not self.may_configure(request):
            fields += [f for f in WmsFeed.TRANSPORT_FIELDS if f not in fields]
        return fields

    @admin.display(description="Push URL")
    def push_url(self, obj: WmsFeed) -> str:
        return f"/api/v1/wms/{obj.name}/events" if obj.pk else "—"

    @admin.display(description="Last run")
    def last_run(self, obj: WmsFeed) -> str:
        run = obj.runs.order_by("-started_at").first()
        return f"{run.get_status_display()} {run.started_at:%Y-%m-%d %H:%M}" if run else "—"

    def save_model(self, request, obj, form, change) -> None:
        from inventory.feeds import wms_feed_schedules_sync

        super().save_model(request, obj, form, change)
        transaction.on_commit(wms_feed_schedules_sync)  # the feed's schedule follows its settings

    def delete_model(self, request, obj) -> None:
        from inventory.feeds import wms_feed_schedules_sync

        super().delete_model(request, obj)
        transaction.on_commit(wms_feed_schedules_sync)


class FeedProblemFilter(admin.SimpleListFilter):
    """Runs that need the Inventory manager: failed, rejected, interrupted, or with rejected rows or gaps."""

    title = "problems"
    parameter_name = "problems"

    def lookups(self, request, model_admin):
        return [("yes", "Needs attention"), ("no", "Clean")]

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        problem = (
            Q(status__in=FeedRun.FAILURES) | Q(rows_rejected__gt=0) | ~Q(report__gaps=[]) & Q(report__has_key="gaps")
        )
        if self.value() == "yes":
            return queryset.filter(problem)
        if self.value() == "no":
            return queryset.exclude(problem)
        return queryset


@admin.register(FeedRun)
class FeedRunAdmin(_ReadOnly):
    list_display = ["id", "feed", "status", "source", "started_at", "rows_applied", "rows_rejected", "message"]
    list_filter = [FeedProblemFilter, "status", "feed"]
    search_fields = ["source", "checksum", "message"]
    list_select_related = ["feed"]
    date_hierarchy = "started_at"


@admin.register(WmsEvent)
class WmsEventAdmin(_ReadOnly):
    list_display = ["feed", "event_id", "sequence", "product", "location", "type", "quantity", "outcome", "at"]
    list_filter = ["feed", "type", "outcome"]
    search_fields = ["event_id", "product__sku"]
    list_select_related = ["feed", "product", "location"]
    show_full_result_count = False


@admin.register(CycleCount)
class CycleCountAdmin(ImportExportMixin, admin.ModelAdmin):
    """Counts are entered here (or imported); saving records the system quantity at that moment and,
    when 'adjusted' is ticked, sets on hand to the count through the ledger."""

    resource_classes = [CycleCountResource]
    list_display = [
        "counted_at",
        "product",
        "location",
        "counted_quantity",
        "system_quantity",
        "variance",
        "counted_by",
    ]
    list_filter = ["location__kind", "adjusted"]
    search_fields = ["product__sku", "location__code"]
    list_select_related = ["product", "location", "counted_by"]
    raw_id_fields = ["product", "location"]
    fields = ["product", "location", "counted_quantity", "adjusted", "note"]
    date_hierarchy = "counted_at"

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change) -> None:
        record = cycle_count_record if obj.adjusted else cycle_count_log
        saved = record(
            product=obj.product,
            location=obj.location,
            counted_quantity=obj.counted_quantity,
            note=obj.note,
            actor=request.user,
        )
        obj.pk = saved.pk
        obj.system_quantity = saved.system_quantity


# Inbound supply and transfers (read-only) live in their own module.
from inventory import admin_supply  # noqa: E402, F401
