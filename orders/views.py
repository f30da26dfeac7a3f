"""Operations screens: orders list, order detail, holds queue, B2B CSV upload. Thin: selectors read,
services write, and every action re-renders from the database."""

from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from common.audit import audit_entries
from common.csv import csv_response
from common.roles import OPERATIONS, role_required
from inventory.models import Location, LocationKind
from orders.csv_orders import COLUMNS, CsvOrderErrors
from orders.filters import OrderScreenFilter
from orders.models import Channel, ChannelOrderUpdate, Customer, Order, OrderHold, SavedOrderFilter
from orders.selectors import customer_profile, hold_counts, hold_queue, order_detail, order_list
from orders.services import (
    BULK_MAX,
    CHANGEABLE,
    NOT_CANCELLABLE,
    OrderChangeConflict,
    OrderVersionStale,
    customer_profile_update,
    order_address_change,
    order_cancel,
    order_csv_import,
    order_filter_delete,
    order_filter_save,
    order_hold_release,
    order_line_add,
    order_line_quantity_set,
    order_method_change,
    order_units_cancel,
    orders_bulk_cancel,
    orders_bulk_holds_release,
)
from routing.selectors import decision_explain, decision_latest


@role_required(OPERATIONS)
def order_list_view(request):
    """Orders with htmx filters; an htmx request gets only the results fragment."""
    filterset = OrderScreenFilter(request.GET or None, queryset=order_list())
    page = Paginator(filterset.qs, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "filter": filterset,
        "page": page,
        "query": query.urlencode(),
        "saved_filters": SavedOrderFilter.objects.filter(user=request.user),
    }
    template = "orders/order_list.html#results" if request.htmx else "orders/order_list.html"
    return render(request, template, context)


@role_required(OPERATIONS)
def order_detail_view(request, pk: int):
    try:
        order = order_detail(pk=pk)
    except Order.DoesNotExist as exc:
        raise Http404(f"No order {pk}.") from exc
    can_cancel = order.status != Order.Status.CANCELLED and order.status not in NOT_CANCELLABLE
    decision = decision_latest(order_id=order.pk)
    context = {
        "order": order,
        "can_cancel": can_cancel,
        "can_change": order.status in CHANGEABLE,
        "pickup_stores": Location.objects.filter(is_active=True, can_pickup=True).order_by("code"),
        "address_rows": [(f, (order.shipping_address or {}).get(f, "")) for f in ADDRESS_FIELDS],
        "methods": Order.Method.choices,
        "decision": decision_explain(decision=decision) if decision else None,
    }
    return render(request, "orders/order_detail.html", context)


ADDRESS_FIELDS = ("name", "line1", "line2", "city", "region", "postal_code", "country")


def _int(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() and len(value) < 10 else None


def _change_call(request, order: Order):
    """The service call the change form asks for (`action`), with the page's version as If-Match."""
    p, actor, version, reason = request.POST, request.user, _int(request.POST.get("version")), p_reason(request)
    action = p.get("action")
    if action == "address":
        address = {k: p.get(k, "").strip() for k in ADDRESS_FIELDS if p.get(k, "").strip()}
        return lambda: order_address_change(
            order=order, address=address, reason=reason, actor=actor, expected_version=version
        )
    if action == "method":
        store = Location.objects.filter(code=p.get("pickup_location", "")).first()
        return lambda: order_method_change(
            order=order,
            method=p.get("fulfillment_method", ""),
            pickup_location=store,
            reason=reason,
            actor=actor,
            expected_version=version,
        )
    if action == "cancel_units":
        lines = {n: q for n, q in ((_int(k[6:]), _int(v)) for k, v in p.items() if k.startswith("units-")) if n and q}
        if not lines:
            raise ValidationError({"lines": ["Enter how many units of which line to cancel."]})
        return lambda: order_units_cancel(
            order=order, lines=lines, reason=reason, actor=actor, expected_version=version
        )
    if action == "line_add":
        try:
            price = Decimal(p.get("unit_price", "").strip() or "x")
        except ArithmeticError:
            raise ValidationError({"unit_price": ["Enter a price, e.g. 9.99."]}) from None
        quantity = _int(p.get("quantity"))
        if not quantity or not price.is_finite() or price < 0 or price > 10**9:
            raise ValidationError({"quantity": ["Enter a quantity of at least 1 and a price of 0 or more."]})
        return lambda: order_line_add(
            order=order,
            sku=p.get("sku", "").strip(),
            quantity=quantity,
            unit_price=price.quantize(Decimal("0.01")),
            reason=reason,
            actor=actor,
            expected_version=version,
        )
    if action == "line_quantity":
        number, quantity = _int(p.get("line_number")), _int(p.get("quantity"))
        if not number or not quantity:
            raise ValidationError({"quantity": ["Choose a line and a quantity of at least 1."]})
        return lambda: order_line_quantity_set(
            order=order, line_number=number, quantity=quantity, reason=reason, actor=actor, expected_version=version
        )
    raise ValidationError({"action": ["Unknown change."]})


def p_reason(request) -> str:
    return request.POST.get("reason", "").strip()[:300]


@role_required(OPERATIONS)
@require_POST
def order_change_view(request, pk: int):
    """Operations change an order (address, method, units, lines) against the version they were looking at."""
    order = get_object_or_404(Order, pk=pk)
    try:
        result = _change_call(request, order)()
    except ValidationError as exc:
        messages.error(request, " ".join(f"{v}" for v in exc.messages))
    except OrderVersionStale:
        messages.error(request, "Someone changed this order since you opened it: check the timeline and try again.")
    except OrderChangeConflict as exc:
        messages.error(request, " ".join(exc.messages))
    else:  # some units are with a location that was asked: that part completes when it confirms
        (messages.warning if result.requests else messages.success)(request, result.message)
    return _back(request, reverse("orders:detail", args=[pk]))


def _back(request, url: str):
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@role_required(OPERATIONS)
@require_POST
def order_cancel_view(request, pk: int):
    order = get_object_or_404(Order, pk=pk)
    reason = request.POST.get("reason", "").strip()
    try:
        result = order_units_cancel(order=order, lines=None, reason=reason, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except OrderChangeConflict as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        if result.requests:  # some units are with a location: the cancellation completes when it confirms
            messages.warning(request, result.message)
        else:
            messages.success(request, f"Order {order.number} cancelled; its reserved stock is back on sale.")
    return _back(request, reverse("orders:detail", args=[pk]))


@role_required(OPERATIONS)
def channel_updates_view(request):
    """What channels sent about their orders after placing them (Shopify orders/updated, …): the ones about
    orders never received first, then everything, newest first."""
    outcome = request.GET.get("outcome") or None
    rows = ChannelOrderUpdate.objects.select_related("channel", "order").order_by("-received_at", "-id")
    if outcome in ChannelOrderUpdate.Outcome.values:
        rows = rows.filter(outcome=outcome)
    context = {
        "rows": rows[:500],
        "outcome": outcome,
        "outcomes": ChannelOrderUpdate.Outcome.choices,
        "unknown": ChannelOrderUpdate.objects.filter(outcome=ChannelOrderUpdate.Outcome.UNKNOWN_ORDER).count(),
    }
    return render(request, "orders/channel_updates.html", context)


@role_required(OPERATIONS)
def hold_queue_view(request):
    kind = request.GET.get("kind") or None
    holds = hold_queue(kind=kind)[:500]
    counts = hold_counts()
    kinds = [(value, label, counts.get(value, 0)) for value, label in OrderHold.Kind.choices]
    return render(request, "orders/hold_queue.html", {"holds": holds, "kinds": kinds, "kind": kind})


@role_required(OPERATIONS)
@require_POST
def hold_release_view(request, pk: int):
    """Release a hold. From the queue (htmx) the row is re-rendered; from the order page, back to it."""
    hold = get_object_or_404(OrderHold.objects.select_related("order"), pk=pk)
    error = None
    try:
        order_hold_release(hold=hold, actor=request.user, note=request.POST.get("note", "").strip())
    except ValidationError as exc:
        error = " ".join(exc.messages)
    return _hold_result(request, hold, error, f"{hold.get_kind_display()} hold released.")


@role_required(OPERATIONS)
@require_POST
def hold_cancel_order_view(request, pk: int):
    """Cancel the held order from the queue (the reason is required)."""
    hold = get_object_or_404(OrderHold.objects.select_related("order"), pk=pk)
    error = None
    try:
        order_cancel(order=hold.order, actor=request.user, reason=request.POST.get("reason", "").strip())
    except ValidationError as exc:
        error = " ".join(exc.messages)
    return _hold_result(request, hold, error, f"Order {hold.order.number} cancelled.")


def _hold_result(request, hold: OrderHold, error: str | None, done: str):
    if request.POST.get("next") == "detail":
        if error:
            messages.error(request, error)
        else:
            messages.success(request, done)
        return _back(request, reverse("orders:detail", args=[hold.order_id]))
    if request.htmx:
        fresh = OrderHold.objects.select_related("order", "order__channel", "order__customer").get(pk=hold.pk)
        return render(request, "orders/hold_queue.html#hold-row", {"hold": fresh, "error": error, "done": done})
    if error:
        messages.error(request, error)
    else:
        messages.success(request, done)
    return redirect("orders:holds")


@role_required(OPERATIONS)
def order_import_view(request):
    """Upload a B2B CSV for a channel: all orders or none, with every row's problem listed."""
    context = {"channels": Channel.objects.filter(is_active=True), "columns": COLUMNS, "errors": None}
    if request.method == "POST":
        channel = Channel.objects.filter(code=request.POST.get("channel", ""), is_active=True).first()
        upload = request.FILES.get("file")
        if channel is None or upload is None:
            context["form_error"] = "Choose a channel and a CSV file."
        else:
            try:
                result = order_csv_import(channel=channel, text=upload.read().decode("utf-8-sig"), actor=request.user)
            except UnicodeDecodeError:
                context["form_error"] = "The file is not UTF-8 text; save it as CSV UTF-8."
            except CsvOrderErrors as exc:
                context["errors"] = exc.errors
            else:
                messages.success(
                    request,
                    f"Imported {len(result.created)} order(s)"
                    + (
                        f"; {len(result.existing)} were already here and were left as they are."
                        if result.existing
                        else "."
                    ),
                )
                return redirect(f"{reverse('orders:list')}?channel={channel.code}")
    return render(request, "orders/import.html", context)


# ---------------------------------------------------------------------------------------------------------
# The orders list: saved filters, bulk actions, CSV export


@role_required(OPERATIONS)
@require_POST
def order_filter_save_view(request):
    try:
        saved = order_filter_save(user=request.user, name=request.POST.get("name", ""), query=request.POST)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(reverse("orders:list") + "?" + request.POST.get("current", ""))
    messages.success(request, f"Filter “{saved.name}” saved.")
    return redirect(reverse("orders:list") + "?" + saved.query)


@role_required(OPERATIONS)
@require_POST
def order_filter_delete_view(request, pk: int):
    order_filter_delete(user=request.user, filter_id=pk)
    return redirect("orders:list")


EXPORT_HEADER = ["order", "external_id", "channel", "status", "method", "placed_at", "customer_email", "total"]


def _orders_csv(order_ids: list[int]) -> HttpResponse:
    """The ticked orders as CSV, through the formula-safe writer (a customer e-mail or code can carry a formula)."""
    orders = Order.objects.filter(pk__in=order_ids).select_related("channel", "customer").order_by("-placed_at")
    rows = (
        [
            o.number,
            o.external_id,
            o.channel.code,
            o.get_status_display(),
            o.get_fulfillment_method_display(),
            o.placed_at.isoformat(),
            o.customer.email if o.customer else "",
            f"{o.total} {o.currency}",
        ]
        for o in orders
    )
    return csv_response(filename="orders.csv", header=EXPORT_HEADER, rows=rows)


@role_required(OPERATIONS)
@require_POST
def orders_bulk_view(request):
    """Bulk actions on the ticked orders: release holds, cancel (with a reason), re-route, export CSV."""
    from routing.services import orders_reroute_now

    try:
        ids = [int(x) for x in request.POST.getlist("order")]
    except ValueError:
        return HttpResponseBadRequest("order: expected order ids.")
    action = request.POST.get("action", "")
    back = reverse("orders:list") + "?" + request.POST.get("current", "")
    if action not in ("release", "cancel", "reroute", "export"):
        return HttpResponseBadRequest("action: choose release, cancel, reroute or export.")
    if not ids:
        messages.error(request, "Tick at least one order first.")
        return redirect(back)
    if action == "export":
        return _orders_csv(ids[:BULK_MAX])
    try:
        if action == "release":
            result = orders_bulk_holds_release(order_ids=ids, actor=request.user)
            done, skipped = result.done, result.skipped
        elif action == "cancel":
            result = orders_bulk_cancel(order_ids=ids, actor=request.user, reason=request.POST.get("reason", ""))
            done, skipped = result.done, result.skipped
        else:
            outcome = orders_reroute_now(order_ids=ids[:BULK_MAX], actor=request.user)
            done = [n for n, what in outcome if not what.startswith("left alone")]
            skipped = [(n, what.removeprefix("left alone: ")) for n, what in outcome if what.startswith("left alone")]
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(back)
    verb = {"release": "Holds released", "cancel": "Cancelled", "reroute": "Re-routed"}[action]
    if done:
        messages.success(request, f"{verb}: {', '.join(done)}.")
    for number, why in skipped:
        messages.warning(request, f"{number} not changed: {why}.")
    return redirect(back)


@role_required(OPERATIONS)
def customer_view(request, pk: int):
    """A customer's page: orders, returns, lifetime value; tier and preferred store editable (POST)."""
    error = notice = ""
    if request.method == "POST":
        try:
            changed = customer_profile_update(
                customer_id=pk,
                tier=request.POST.get("tier", ""),
                preferred_store_code=request.POST.get("preferred_store", ""),
                actor=request.user,
            )
            notice = " ".join(changed) or "Nothing changed."
        except Customer.DoesNotExist as exc:
            raise Http404(f"No customer {pk}.") from exc
        except ValidationError as exc:
            error = " ".join(exc.messages)
    try:
        profile = customer_profile(pk=pk)
    except Customer.DoesNotExist as exc:
        raise Http404(f"No customer {pk}.") from exc
    context = {
        "profile": profile,
        "customer": profile.customer,
        "tiers": Customer.Tier.choices,
        "stores": Location.objects.filter(kind=LocationKind.STORE, is_active=True, can_pickup=True).order_by("name"),
        "changes": audit_entries(model_label="orders.customer", object_pk=str(pk))[:20],
        "error": error,
        "notice": notice,
    }
    return render(request, "orders/customer.html", context, status=400 if error else 200)
