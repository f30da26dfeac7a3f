"""Returns screens (htmx): the receiving screen (find an RMA or start an in-store return), the RMA page with
the receive form (condition and disposition per line), the returns list, and creating a return from the
order page. Store staff only ever act on their own stores' returns; Operations on all. Views are thin."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from common.roles import OPERATIONS, STORE_STAFF, role_required, user_has_role
from inventory.models import Location
from orders.models import Order
from returns import selectors
from returns.models import ReturnAuthorization, ReturnLine
from returns.services import (
    ReceiveLineIn,
    ReturnLineIn,
    rma_create,
    rma_receive,
    rma_refund_issue,
    rma_reject,
)

returns_staff = role_required(STORE_STAFF, OPERATIONS)


def _is_ops(user) -> bool:
    return user.is_superuser or user_has_role(user=user, roles=[OPERATIONS])


def _stores(user):
    """Stores the user may receive at: Operations every location that accepts returns; staff their stores."""
    qs = Location.objects.filter(accepts_returns=True, is_active=True)
    return qs if _is_ops(user) else qs.filter(pk__in=selectors.staff_store_ids(user=user))


def _refusal(user, rma: ReturnAuthorization) -> str:
    """Why this user may not handle this RMA ("" when they may)."""
    if _is_ops(user) or rma.return_location_id in selectors.staff_store_ids(user=user):
        return ""
    where = rma.return_location.code if rma.return_location_id else "no store yet"
    return f"Return {rma.number} is handled at {where}, not at your store."


def _error_text(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc)


VERIFIED_ORDERS = "returns_verified_orders"  # session key: orders a clerk found with number and second fact
NO_MATCH = "No order matches that order number and e-mail or postal code."


@returns_staff
def receive(request):
    """Find an RMA by its number, the order number or the customer's email (store staff: among their stores'
    returns); Operations also find orders to return. Store staff start a return with `start`."""
    query = request.GET.get("q", "").strip()
    rmas = [(rma, _refusal(request.user, rma)) for rma in selectors.rma_search(query=query, user=request.user)]
    is_ops = _is_ops(request.user)
    orders = selectors.orders_for_return(query=query) if query and is_ops else []
    if len(rmas) == 1 and not rmas[0][1] and not request.GET.get("list"):
        url = reverse("returns:detail", args=[rmas[0][0].number])
        return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    context = {"query": query, "rmas": rmas, "orders": orders, "stores": _stores(request.user), "is_ops": is_ops}
    template = "returns/receive.html#results" if request.htmx else "returns/receive.html"
    return render(request, template, context)


@returns_staff
@require_POST
def start(request):
    """A customer at the counter returns an order: its number plus a second fact (the customer's e-mail or
    the order's postal code) find it. A wrong fact and an unknown number get the same answer."""
    stores = _stores(request.user)
    context = {"query": "", "rmas": [], "orders": [], "stores": stores, "is_ops": _is_ops(request.user)}
    failures_key = f"returns-start-failures:{request.user.pk}"
    if cache.get(failures_key, 0) >= settings.DOM["RETURNS_START_FAILURES_PER_15_MIN"]:
        context["start_error"] = "Too many look-ups that matched no order: try again in 15 minutes."
        return render(request, "returns/receive.html", context, status=429)
    order = selectors.order_for_counter_return(
        number=request.POST.get("order", ""), proof=request.POST.get("proof", "")
    )
    if order is None or not stores:
        cache.add(failures_key, 0, timeout=15 * 60)
        cache.incr(failures_key)
        context["start_error"] = NO_MATCH if stores else "Your account is not linked to a store that accepts returns."
        return render(request, "returns/receive.html", context)
    verified = [pk for pk in request.session.get(VERIFIED_ORDERS, []) if pk != order.pk][-9:]
    request.session[VERIFIED_ORDERS] = [*verified, order.pk]
    return redirect(f"{reverse('returns:create', args=[order.pk])}?store={stores[0].code}")


def _detail_context(request, rma: ReturnAuthorization, *, error: str = "", notice: str = "") -> dict:
    rma = selectors.rma_get(number=rma.number)
    return {
        "rma": rma,
        "lines": list(rma.lines.select_related("order_line", "product").order_by("pk")),
        "decision": selectors.decision_explain(decision=selectors.decision_latest(rma=rma)),
        "conditions": ReturnLine.Condition.choices,
        "dispositions": ReturnLine.Disposition.choices,
        "can_receive": rma.status in ("approved", "in_transit"),
        "is_ops": _is_ops(request.user),
        "error": error,
        "notice": notice,
    }


def _rma_for(request, number: str) -> ReturnAuthorization:
    try:
        rma = selectors.rma_get(number=number)
    except ReturnAuthorization.DoesNotExist as exc:
        raise Http404(f"No return {number}.") from exc
    refusal = _refusal(request.user, rma)
    if refusal:
        raise PermissionDenied(refusal)
    return rma


@returns_staff
def detail(request, number: str):
    try:
        rma = _rma_for(request, number)
    except PermissionDenied as exc:
        return render(request, "returns/refused.html", {"message": str(exc)}, status=403)
    return render(request, "returns/rma_detail.html", _detail_context(request, rma))


def _int(value) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        raise ValidationError(f"{value!r} is not a whole number.") from None


def _after(request, rma: ReturnAuthorization, action):
    error = notice = ""
    try:
        notice = action()
    except (ValidationError, PermissionDenied) as exc:
        error = _error_text(exc)
    context = _detail_context(request, rma, error=error, notice=notice)
    if request.htmx:
        return render(request, "returns/rma_detail.html#rma", context)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, notice)
    return redirect("returns:detail", number=rma.number)


@returns_staff
@require_POST
def receive_rma(request, number: str):
    """Record what arrived: per line the units received, their condition and disposition."""
    try:
        rma = _rma_for(request, number)
    except PermissionDenied as exc:
        return render(request, "returns/refused.html", {"message": str(exc)}, status=403)

    def act() -> str:
        lines = [
            ReceiveLineIn(
                return_line_id=rl.pk,
                quantity=_int(request.POST.get(f"qty-{rl.pk}")),
                condition=request.POST.get(f"condition-{rl.pk}", ""),
                disposition=request.POST.get(f"disposition-{rl.pk}", ""),
            )
            for rl in rma.lines.all()
        ]
        done = rma_receive(rma=rma, lines=lines, actor=request.user)
        restocked = sum(ln.quantity for ln in lines if ln.disposition == "restock")
        return (
            f"Return {done.number} received at {done.return_location.code}"
            + (f"; {restocked} unit(s) back on sale here" if restocked else "")
            + f". Refund pending: {done.refund_amount} {done.currency}."
        )

    return _after(request, rma, act)


@role_required(OPERATIONS)
@require_POST
def refund(request, number: str):
    rma = _rma_for(request, number)

    def act() -> str:
        done = rma_refund_issue(rma=rma, reference=request.POST.get("reference", ""), actor=request.user)
        return f"Refund of {done.refund_amount} {done.currency} recorded; return {done.number} closed."

    return _after(request, rma, act)


@role_required(OPERATIONS)
@require_POST
def reject(request, number: str):
    rma = _rma_for(request, number)

    def act() -> str:
        rma_reject(rma=rma, reason=request.POST.get("reason", ""), actor=request.user)
        return f"Return {rma.number} rejected."

    return _after(request, rma, act)


@returns_staff
def rma_list(request):
    status = request.GET.get("status") or None
    rmas = selectors.rma_list(user=request.user, status=status)[:200]
    return render(
        request,
        "returns/list.html",
        {"rmas": rmas, "status": status, "statuses": ReturnAuthorization.Status.choices},
    )


@returns_staff
def create(request, order_pk: int):
    """Start a return of an order: Operations mail-in or in-store; store staff in-store at their store, and
    only of an order they found at the counter with its number and a second fact (`start`)."""
    is_ops = _is_ops(request.user)
    if not is_ops and order_pk not in request.session.get(VERIFIED_ORDERS, []):
        raise Http404("No such order.")
    order = get_object_or_404(Order.objects.select_related("customer", "channel"), pk=order_pk)
    stores = _stores(request.user)
    context = {
        "order": order,
        "lines": selectors.order_lines_for_return(order=order),
        "reasons": ReturnLine.Reason.choices,
        "stores": stores,
        "is_ops": is_ops,
        "method": request.POST.get("method") or ("mail" if is_ops else "in_store"),
        "store_code": request.POST.get("store") or request.GET.get("store", ""),
        "errors": [],
    }
    if request.method == "POST":
        method = context["method"] if is_ops else "in_store"
        store = stores.filter(code=request.POST.get("store", "")).first() if method == "in_store" else None
        try:
            lines = [
                ReturnLineIn(
                    order_line_id=item["line"].pk,
                    quantity=_int(request.POST.get(f"qty-{item['line'].pk}")),
                    reason=request.POST.get(f"reason-{item['line'].pk}") or "other",
                )
                for item in context["lines"]
                if request.POST.get(f"qty-{item['line'].pk}") not in (None, "", "0")
            ]
            if method == "in_store" and store is None:
                raise ValidationError("Choose the store where the customer is returning the items.")
            if not lines:
                raise ValidationError("Enter how many units of at least one line come back.")
            result = rma_create(
                order=order,
                lines=lines,
                method=method,
                store=store,
                source="store" if method == "in_store" and not is_ops else "back-office",
                customer_note=request.POST.get("customer_note", ""),
                actor=request.user,
            )
        except (ValidationError, PermissionDenied) as exc:
            context["errors"] = exc.messages if isinstance(exc, ValidationError) else [str(exc)]
        else:
            if not is_ops:
                request.session[VERIFIED_ORDERS] = [
                    pk for pk in request.session.get(VERIFIED_ORDERS, []) if pk != order.pk
                ]
            messages.success(request, f"Return {result.rma.number} created.")
            url = reverse("returns:detail", args=[result.rma.number])
            return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    template = "returns/create.html#form" if request.htmx else "returns/create.html"
    return render(request, template, context)
