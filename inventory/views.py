from django.db.models import Count, Sum
from django.shortcuts import render

from dom_project.roles import INVENTORY_MANAGER, OPERATIONS, role_required
from inventory.models import Location, StockLevel
from inventory.selectors import low_stock_products


@role_required(INVENTORY_MANAGER, OPERATIONS)
def stock_overview(request):
    """Network stock at a glance: per location kind, and the products running low."""
    by_kind = (
        StockLevel.objects.filter(location__is_active=True)
        .values("location__kind")
        .annotate(on_hand=Sum("on_hand"), reserved=Sum("reserved"), skus=Count("id"))
        .order_by("location__kind")
    )
    return render(
        request,
        "inventory/overview.html",
        {
            "by_kind": by_kind,
            "low_stock": low_stock_products(limit=50),
            "location_count": Location.objects.filter(is_active=True).count(),
        },
    )
