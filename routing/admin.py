from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path

from common.csv import csv_response
from routing.models import (
    CarrierService,
    LocationCapacity,
    RateBand,
    RateCard,
    RateCardPrice,
    RoutingDecision,
    RoutingRule,
    RoutingSettings,
    RuleSet,
    RuleSetVersion,
)
from routing.services import (
    RATECARD_MAX_VERSION,
    RateCardRejected,
    ratecard_csv_filename,
    ratecard_csv_import,
    ratecard_csv_rows,
    ruleset_version_draft,
    ruleset_version_publish,
)


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


class RateCardPriceInline(admin.TabularInline):
    model = RateCardPrice
    extra = 0
    fields = ["service", "zone", "max_lb", "base", "per_lb", "transit_days"]


class RateCardImportForm(forms.Form):
    carrier = forms.CharField(max_length=100)
    version = forms.IntegerField(min_value=1, max_value=RATECARD_MAX_VERSION)
    effective_from = forms.DateField(help_text="YYYY-MM-DD: routing prices with this version from this day on.")
    file = forms.FileField(help_text="CSV: service,zone,max_lb,base,per_lb,transit_days (max_lb blank = no bound).")


MAX_UPLOAD_BYTES = 2 * 1024 * 1024


@admin.register(RateCard)
class RateCardAdmin(admin.ModelAdmin):
    """Rate cards: who may see and change them is the routing permissions of the roles (common.roles:
    Merchandisers change, Operations view)."""

    list_display = ["carrier", "version", "effective_from", "fuel_pct", "residential", "note"]
    list_filter = ["carrier"]
    inlines = [RateCardPriceInline]
    actions = ["export_csv"]

    def get_urls(self):
        urls = [path("import/", self.admin_site.admin_view(self.import_view), name="routing_ratecard_import")]
        return urls + super().get_urls()

    @admin.action(description="Export the price table as CSV")
    def export_csv(self, request, queryset):
        card = queryset.order_by("-effective_from", "-version").first()
        rows = ratecard_csv_rows(card=card)
        return csv_response(filename=ratecard_csv_filename(card=card), header=rows[0], rows=rows[1:])

    def import_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied("Importing a rate card needs the permission to add rate cards.")
        form = RateCardImportForm(request.POST or None, request.FILES or None)
        errors: list = []
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            raw = upload.read(MAX_UPLOAD_BYTES + 1)
            try:
                if len(raw) > MAX_UPLOAD_BYTES:
                    raise RateCardRejected([])
                card = ratecard_csv_import(
                    text=raw.decode("utf-8"),
                    carrier=form.cleaned_data["carrier"],
                    version=form.cleaned_data["version"],
                    effective_from=form.cleaned_data["effective_from"],
                )
            except UnicodeDecodeError:
                form.add_error("file", "The file is not UTF-8 text; nothing was imported.")
            except RateCardRejected as exc:
                errors = [str(e) for e in exc.errors] or ["The file is larger than 2 MB; nothing was imported."]
            else:
                self.log_addition(request, card, "Imported from CSV.")  # audit
                self.message_user(request, f"Imported {card} with {card.prices.count()} prices.")
                return redirect("admin:routing_ratecard_change", card.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "form": form,
            "errors": errors,
            "title": "Import a rate card",
        }
        return TemplateResponse(request, "admin/routing/ratecard_import.html", context, status=400 if errors else 200)


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
