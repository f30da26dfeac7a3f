"""Routing screens: an order's routing decision (the partial the order page embeds)."""

from django.http import Http404
from django.shortcuts import get_object_or_404, render

from common.roles import MERCHANDISER, OPERATIONS, role_required
from orders.models import Order
from routing.selectors import decision_explain, decision_latest


@role_required(OPERATIONS, MERCHANDISER)
def order_decision(request, order_id: int):
    order = get_object_or_404(Order, pk=order_id)
    decision = decision_latest(order_id=order.pk)
    if decision is None:
        raise Http404(f"Order {order.number} has not been routed yet.")
    return render(request, "routing/_decision.html", {"decision": decision_explain(decision=decision)})
