from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from routing.models import (
    CarrierService,
    LocationCapacity,
    RateBand,
    RoutingDecision,
    RoutingRule,
    RoutingSettings,
    RuleSet,
    RuleSetVersion,
)
from routing.services import ruleset_version_draft, ruleset_version_publish


class RuleSetVersionInline(admin.TabularInline):
    model = RuleSetVersion
    extra = 0
    fields = ["number", "status", "note", "published_at"]
    readonly_fields = ["status", "published_at"]


@admin.register(RuleSet)
class RuleSetAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "is_active"]
    inlines = [RuleSetVersionInline]


class RoutingRuleInline(admin.TabularInline):
    model = RoutingRule
    extra = 0
    fields = ["priority", "name", "enabled", "conditions", "action"]


@admin.register(RuleSetVersion)
class RuleSetVersionAdmin(admin.ModelAdmin):
    list_display = ["rule_set", "number", "status", "note", "published_at"]
    list_filter = ["status", "rule_set"]
    readonly_fields = ["status", "published_at", "created_by", "created_at"]
    inlines = [RoutingRuleInline]
    actions = ["publish", "copy_as_draft"]

    @admin.action(description="Publish the selected draft")
    def publish(self, request, queryset):
        for version in queryset:
            try:
                ruleset_version_publish(version=version, actor=request.user)
                self.log_change(request, version, "Published.")  # audit: who published what, when
                self.message_user(request, f"Published {version}.")
            except ValidationError as exc:
                self.message_user(request, "; ".join(exc.messages), level=messages.ERROR)

    @admin.action(description="Copy as a new draft")
    def copy_as_draft(self, request, queryset):
        for version in queryset:
            draft = ruleset_version_draft(version=version, actor=request.user)
            self.log_addition(request, draft, f"Copied from {version} as a draft.")  # audit
            self.message_user(request, f"Created draft {draft}.")


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "version", "priority", "enabled"]
    list_filter = ["version__rule_set", "version__status", "enabled"]


@admin.register(RoutingSettings)
class RoutingSettingsAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "split_penalty",
        "late_penalty",
        "pickup_ready_hours",
        "lookahead_horizon_hours",
        "lookahead_history_hours",
    ]

    def has_add_permission(self, request) -> bool:
        return not RoutingSettings.objects.exists()


class RateBandInline(admin.TabularInline):
    model = RateBand
    extra = 0


@admin.register(CarrierService)
class CarrierServiceAdmin(admin.ModelAdmin):
    list_display = ["service_level", "name", "max_km"]
    inlines = [RateBandInline]


@admin.register(LocationCapacity)
class LocationCapacityAdmin(admin.ModelAdmin):
    list_display = ["location", "day", "used", "capacity"]
    list_filter = ["day", "location__kind"]
    raw_id_fields = ["location"]


@admin.register(RoutingDecision)
class RoutingDecisionAdmin(admin.ModelAdmin):
    list_display = ["id", "order", "kind", "outcome", "model_cost", "oracle_cost", "compute_ms", "created_at"]
    list_filter = ["kind", "outcome", "service_level", "method"]
    raw_id_fields = ["order", "actor", "rule_set_version"]
    search_fields = ["order__number"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False
