"""The safety-stock screen (inventory managers): what the demand forecasts propose per product × location,
each approved (it becomes the product × location safety-stock rule) or rejected by hand."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from common.roles import INVENTORY_MANAGER, role_required
from inventory.selectors import safety_proposals_board
from inventory.services import safety_stock_proposal_decide


@role_required(INVENTORY_MANAGER)
def safety_stock_proposals(request):
    return render(request, "inventory/safety_proposals.html", safety_proposals_board())


@role_required(INVENTORY_MANAGER)
@require_POST
def safety_stock_decide(request, pk: int):
    decision = request.POST.get("decision", "")
    if decision not in ("approve", "reject"):
        return HttpResponseBadRequest("decision: choose approve or reject.")
    try:
        p = safety_stock_proposal_decide(
            proposal_id=pk, decision=decision, actor=request.user, note=request.POST.get("note", "")
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        verb = "approved: the rule now holds back" if decision == "approve" else "rejected; the rule keeps"
        units = p.proposed_quantity if decision == "approve" else (p.current_quantity or 0)
        messages.success(request, f"{p.product.sku} at {p.location.code} {verb} {units} unit(s).")
    return redirect("inventory:safety-proposals")
