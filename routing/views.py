"""Routing screens: an order's routing decision (the partial the order page embeds)."""

from django.http import Http404
from django.shortcuts import get_object_or_404, render

from common.roles import MERCHANDISER, OPERATIONS, role_required
from orders.models import Order
from routing.selectors import decision_explain, decision_latest, decisions_of_order


@role_required(OPERATIONS, MERCHANDISER)
def order_decision(request, order_id: int):
    """The order's routing decisions explained: the latest as a fragment for htmx, else every decision
    (newest first) in a page of the base layout."""
    order = get_object_or_404(Order, pk=order_id)
    decision = decision_latest(order_id=order.pk)
    if decision is None:
        raise Http404(f"Order {order.number} has not been routed yet.")
    if request.htmx:
        return render(request, "routing/_decision.html", {"decision": decision_explain(decision=decision)})
    decisions = [decision_explain(decision=d) for d in decisions_of_order(order_id=order.pk)]
    return render(request, "routing/decision.html", {"order": order, "decisions": decisions})
