"""Open shortages (on hand fell below reserved) and re-routing the orders they affect: a routing screen, since
routing re-plans those orders; it reads inventory's shortages and fulfilment's open lines through their selectors."""

from django.contrib import messages
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from common.roles import INVENTORY_MANAGER, OPERATIONS, role_required
from fulfillment.selectors import orders_holding_stock
from inventory.selectors import shortage_source_describe, stock_shortages_open
from routing.services import shortages_reroute_now


@role_required(INVENTORY_MANAGER, OPERATIONS)
def shortage_list(request):
    """Open shortages: on hand fell below reserved; routing re-routes from this list. Each names what found
    it (linked to the stock file) and the orders it affects, with "re-route now"."""
    shortages = list(stock_shortages_open()[:500])
    affected = orders_holding_stock(pairs=[(s.product_id, s.location_id) for s in shortages])
    rows = [
        {
            "s": s,
            "source": shortage_source_describe(source=s.source),
            "orders": affected.get((s.product_id, s.location_id), []),
        }
        for s in shortages
    ]
    return render(request, "routing/shortages.html", {"rows": rows})


@role_required(INVENTORY_MANAGER, OPERATIONS)
@require_POST
def shortage_reroute(request):
    """Re-route now the orders the chosen shortages affect (routing.services), then close those shortages."""
    try:
        chosen = [request.POST["one"]] if request.POST.get("one") else request.POST.getlist("shortage")
        ids = [int(x) for x in chosen]
    except ValueError:
        return HttpResponseBadRequest("shortage: expected shortage ids.")
    if not ids:
        return HttpResponseBadRequest("shortage: choose at least one shortage.")
    handled = shortages_reroute_now(shortage_ids=ids, actor=request.user)
    if handled:
        messages.success(request, f"Re-routed the orders of {handled} shortage{'s' if handled != 1 else ''}.")
    else:
        messages.error(request, "Those shortages are already closed; nothing was re-routed.")
    return redirect("routing:shortages")
