from django.contrib import admin

from fulfillment.models import FulfillmentLine, FulfillmentOrder


class FulfillmentLineInline(admin.TabularInline):
    model = FulfillmentLine
    extra = 0
    raw_id_fields = ["order_line"]


@admin.register(FulfillmentOrder)
class FulfillmentOrderAdmin(admin.ModelAdmin):
    list_display = ["id", "order", "location", "method", "status", "created_at"]
    list_filter = ["status", "method", "location__kind"]
    search_fields = ["order__number", "location__code"]
    raw_id_fields = ["order", "location", "reservation"]
    inlines = [FulfillmentLineInline]
