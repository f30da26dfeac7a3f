"""The backorders screen (Operations, inventory managers): what every backordered unit waits for, grouped by
product, by inbound shipment or by expected date. Read only; inventory.services.backorders builds it."""

from __future__ import annotations

from django.shortcuts import render

from common.roles import INVENTORY_MANAGER, OPERATIONS, role_required
from inventory.services import BOARD_GROUPS, backorders_board


@role_required(OPERATIONS, INVENTORY_MANAGER)
def backorders(request):
    by = request.GET.get("by", "product")
    if by not in BOARD_GROUPS:
        by = "product"
    groups = backorders_board(by=by)
    units = sum(r.units for _, rows in groups for r in rows)
    return render(
        request, "inventory/backorders.html", {"groups": groups, "by": by, "choices": BOARD_GROUPS, "units": units}
    )
