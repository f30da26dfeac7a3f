"""Admin for inbound supply and transfers: read-only (statuses, counters, lines, receipts and date history).
They change only through inventory.inbound / inventory.transfers (the API and the receiving screen), which
write the stock ledger; nothing here adds, edits or deletes a row."""

from django.contrib import admin

from inventory.models import (
    InboundDateChange,
    InboundLine,
    InboundReceipt,
    InboundShipment,
    TransferLine,
    TransferOrder,
)


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class InboundLineInline(_ReadOnlyInline):
    model = InboundLine
    fields = readonly_fields = [
        "product",
        "quantity",
        "quantity_received",
        "quantity_closed",
        "quantity_promised",
        "open_units",
        "expected_date",
        "is_open",
    ]

    @admin.display(description="Open")
    def open_units(self, obj: InboundLine) -> int:
        return obj.quantity_open


class _ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(InboundShipment)
class InboundShipmentAdmin(_ReadOnlyAdmin):
    list_display = ["number", "kind", "supplier", "location", "status", "lines_open", "next_expected", "created_at"]
    list_filter = ["status", "kind", "location"]
    search_fields = ["number", "supplier", "lines__product__sku"]
    list_select_related = ["location"]
    inlines = [InboundLineInline]
    readonly_fields = ["receipts", "date_changes"]

    @admin.display(description="Open lines")
    def lines_open(self, obj: InboundShipment) -> int:
        return sum(1 for ln in obj.lines.all() if ln.is_open)

    @admin.display(description="Next expected")
    def next_expected(self, obj: InboundShipment):
        return min((ln.expected_date for ln in obj.lines.all() if ln.is_open), default=None)

    @admin.display(description="Receipts")
    def receipts(self, obj: InboundShipment) -> str:
        rows = InboundReceipt.objects.filter(line__shipment=obj).select_related("line__product")
        return (
            "; ".join(
                f"{r.received_at:%Y-%m-%d %H:%M} {r.line.product.sku} {r.quantity}"
                + (f" ({r.reason})" if r.reason else "")
                for r in rows
            )
            or "—"
        )

    @admin.display(description="Date changes")
    def date_changes(self, obj: InboundShipment) -> str:
        rows = InboundDateChange.objects.filter(line__shipment=obj).select_related("line__product")
        return "; ".join(f"{c.line.product.sku}: {c.old_date} → {c.new_date} ({c.reason})" for c in rows) or "—"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("lines")


class TransferLineInline(_ReadOnlyInline):
    model = TransferLine
    fields = readonly_fields = ["product", "quantity", "quantity_shipped", "quantity_received", "in_transit"]

    @admin.display(description="In transit")
    def in_transit(self, obj: TransferLine) -> int:
        return obj.quantity_in_transit


@admin.register(TransferOrder)
class TransferOrderAdmin(_ReadOnlyAdmin):
    list_display = ["number", "source", "destination", "status", "expected_date", "shipped_at", "received_at"]
    list_filter = ["status", "source", "destination"]
    search_fields = ["number", "lines__product__sku"]
    list_select_related = ["source", "destination"]
    inlines = [TransferLineInline]
