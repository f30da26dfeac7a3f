"""Returns in the admin: read-only (RMAs change only through returns.services, which keep stock, the order
and its timeline in step)."""

from django.contrib import admin

from returns.models import ReturnAuthorization, ReturnLine, ReturnRoutingDecision


class ReadOnlyMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReturnLineInline(ReadOnlyMixin, admin.TabularInline):
    model = ReturnLine
    extra = 0
    fields = ["sku", "quantity", "reason", "unit_price", "quantity_received", "condition", "disposition"]
    readonly_fields = fields


class ReturnRoutingDecisionInline(ReadOnlyMixin, admin.StackedInline):
    model = ReturnRoutingDecision
    extra = 0
    fields = ["method", "location", "rule_set_version", "cost", "rules_fired", "notes", "created_at"]
    readonly_fields = fields


@admin.register(ReturnAuthorization)
class ReturnAuthorizationAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = [
        "number",
        "order",
        "method",
        "return_location",
        "status",
        "refund_status",
        "refund_amount",
        "created_at",
    ]
    list_filter = ["status", "method", "refund_status", "source"]
    search_fields = ["number", "order__number", "order__customer__email"]
    list_select_related = ["order", "return_location"]
    inlines = [ReturnLineInline, ReturnRoutingDecisionInline]
