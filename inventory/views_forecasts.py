"""The safety-stock screen (inventory managers): what the demand forecasts propose per product × location,
each approved (it becomes the product × location safety-stock rule) or rejected by hand."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from common.roles import INVENTORY_MANAGER, role_required
from inventory.selectors import safety_proposals_board
from inventory.services import safety_stock_proposal_decide


def _board(request) -> dict:
    """The screen's data for the filter of the request (`location`, `page`; anything unreadable: the default)."""
    query = request.GET if request.method == "GET" else request.POST
    page = query.get("page", "1")
    return safety_proposals_board(
        location_code=query.get("location", "")[:32], page=int(page) if page.isdigit() and len(page) < 7 else 1
    )


@role_required(INVENTORY_MANAGER)
def safety_stock_proposals(request):
    return render(request, "inventory/safety_proposals.html", _board(request))


@role_required(INVENTORY_MANAGER)
@require_POST
def safety_stock_decide(request, pk: int):
    decision = request.POST.get("decision", "")
    try:
        p = safety_stock_proposal_decide(
            proposal_id=pk, decision=decision, actor=request.user, note=request.POST.get("note", "")
        )
    except ValidationError as exc:
        if "proposal" not in exc.message_dict:  # a form no screen sends: refused, the screen shown again
            fields = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
            messages.error(request, f"Nothing changed. {fields}")
            return render(request, "inventory/safety_proposals.html", _board(request), status=400)
        messages.error(request, " ".join(exc.messages))
    else:
        what = f"{p.product.name} ({p.product.sku}) at {p.location.name}"
        if decision == "approve":
            messages.success(request, f"Approved: {what} now holds back {p.proposed_quantity} unit(s).")
        else:
            messages.success(request, f"Rejected: {what} keeps holding back {p.current_quantity or 0} unit(s).")
    back = reverse("inventory:safety-proposals")
    location = request.POST.get("location", "")
    return redirect(f"{back}?{urlencode({'location': location})}" if location else back)
