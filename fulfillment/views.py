"""Store screens (htmx, mobile-first): queue, order work (pick, report an issue, ready, handover, pack,
ship), handover search, carrier hand-off, ship-to-store receiving, store settings.

Every view is for the Store staff role and only ever shows the user's own stores (`Location.staff`); an
order of another store is a 404. Views are thin: they call services, and after every action re-render the
affected fragment from the database, with any error in words.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from common.roles import STORE_STAFF, role_required
from fulfillment import selectors, services
from fulfillment.carriers import carrier_services
from fulfillment.documents import commercial_invoice_pdf, packing_slip_pdf
from fulfillment.models import FulfillmentLine, FulfillmentOrder, RejectionReason, Shipment

store_staff = role_required(STORE_STAFF)


def _error_text(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc)


def _current_store(request):
    """The store the user is working in: ?store=CODE (remembered in the session) or their first store."""
    stores = selectors.staff_stores(user=request.user)
    code = request.GET.get("store") or request.POST.get("store") or request.session.get("store_code")
    store = stores.filter(code=code).first() if code else None
    if store is None:
        if code and request.GET.get("store"):
            raise Http404("You do not work at that store.")
        store = stores.order_by("code").first()
    if store is None:
        raise PermissionDenied("Your account is not linked to a store; ask an administrator to add you.")
    request.session["store_code"] = store.code
    return store, stores


def _fo_for(request, pk: int) -> FulfillmentOrder:
    stores = selectors.staff_stores(user=request.user)
    return get_object_or_404(
        FulfillmentOrder.objects.select_related("order", "order__customer", "location").filter(location__in=stores),
        pk=pk,
    )


def _tab_groups(counts: dict[str, int]) -> list[tuple[str, list[tuple[str, str, int]]]]:
    """The queue's tabs grouped by kind of work ("Pickup", "Ship"), each with its stage label and count."""
    groups: dict[str, list[tuple[str, str, int]]] = {}
    for key, label, *_ in selectors.TABS:
        group, _, stage = label.partition(" · ")
        groups.setdefault(group, []).append((key, stage or label, counts[key]))
    return list(groups.items())


@store_staff
def queue(request):
    store, stores = _current_store(request)
    tab = request.GET.get("tab") or "pickup_open"
    if tab not in {k for k, *_ in selectors.TABS}:
        tab = "pickup_open"
    query = request.GET.get("q", "")
    counts = selectors.store_queue_counts(location=store)
    context = {
        "store": store,
        "stores": stores,
        "tab": tab,
        "query": query,
        "tab_groups": _tab_groups(counts),
        "here": counts["here"],
        "cards": selectors.store_queue(location=store, tab=tab, query=query),
        "released_today": selectors.store_released_today(location=store),
        "incoming": selectors.store_incoming_transfers(location=store).count(),
        "handoff": selectors.store_handoff_shipments(location=store).count(),
        "settings": selectors.store_settings_of(location=store),
    }
    template = "fulfillment/queue.html#queue" if request.htmx else "fulfillment/queue.html"
    return render(request, template, context)


def _work_context(
    request, fo: FulfillmentOrder, *, error: str = "", notice: str = "", scan=None, confirm_short=None
) -> dict:
    fo.refresh_from_db()
    lines = list(
        fo.lines.select_related("order_line", "order_line__product", "fulfillment_order__location").order_by("pk")
    )
    reasons = selectors.rejection_reasons()
    outcomes = selectors.fulfillment_line_outcomes(fo=fo, lines=lines)
    S = FulfillmentOrder.Status
    working = fo.status in (S.CREATED, S.RELEASED, S.PICKING)
    for ln in lines:
        ln.outcomes = outcomes[ln.pk]
        # Each reason with its stock effect for the whole open quantity, said before the clerk chooses.
        ln.short_choices = (
            [(r, selectors.short_pick_effect(line=ln, reason=r, quantity=ln.quantity_open)) for r in reasons]
            if working and ln.quantity_open
            else []
        )
    return {
        "fo": fo,
        "store": fo.location,
        "lines": lines,
        "open_units": sum(ln.quantity_open for ln in lines),
        "confirm_short": confirm_short,
        "shipments": list(fo.shipments.all()),
        "reasons": reasons,
        "services": sorted(carrier_services().values(), key=lambda s: (s.mode == "courier", s.code)),
        "timeline": selectors.fulfillment_order_timeline(fo=fo),
        "settings": selectors.store_settings_of(location=fo.location),
        "error": error,
        "notice": notice,
        "scan": scan,
        "checkin_open": services.CHECKIN_OPEN,
        "cancel_requests": services.fulfillment_cancel_requests_waiting(fo=fo),
    }


@store_staff
def order_detail(request, pk: int):
    fo = _fo_for(request, pk)
    return render(request, "fulfillment/order.html", _work_context(request, fo))


def _act(request, fo: FulfillmentOrder, action) -> HttpResponse:
    """Run a service for a POST and re-render the work fragment (or the page without htmx)."""
    error = notice = ""
    scan = confirm_short = None
    try:
        result = action()
        if isinstance(result, services.ScanResult):
            scan, notice = result, result.message
        elif isinstance(result, ShortConfirmation):
            confirm_short = result
        elif isinstance(result, str):
            notice = result
    except (ValidationError, PermissionDenied) as exc:
        error = _error_text(exc)
    context = _work_context(request, fo, error=error, notice=notice, scan=scan, confirm_short=confirm_short)
    if confirm_short is not None and not request.htmx:
        return render(request, "fulfillment/order.html", context)
    if request.htmx:
        return render(request, "fulfillment/order.html#work", context, status=200)
    if error:
        messages.error(request, error)
    elif notice:
        messages.success(request, notice)
    return redirect("fulfillment:order", pk=fo.pk)


def _int(value, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValidationError(f"{value!r} is not a whole number.") from None


@store_staff
@require_POST
def order_action(request, pk: int, action: str):
    fo = _fo_for(request, pk)
    p, user = request.POST, request.user
    actions = {
        "scan": lambda: services.fulfillment_line_scan(fo_id=fo.pk, code=p.get("code", ""), actor=user),
        "pick": lambda: _pick(fo, p, user),
        "short": lambda: _short(fo, p, user),
        "reject": lambda: (
            services.fulfillment_order_reject(
                fo_id=fo.pk, reason_code=p.get("reason", ""), actor=user, note=p.get("note", "")
            )
            and "Order rejected: every unit is re-routed to another location."
        ),
        "ready": lambda: _ready_notice(
            services.fulfillment_order_ready(fo_id=fo.pk, staging_location=p.get("staging", ""), actor=user)
        ),
        "resend": lambda: _ready_notice(services.fulfillment_order_resend_ready_email(fo_id=fo.pk, actor=user)),
        "handover": lambda: _handover_notice(
            services.fulfillment_order_handover(
                fo_id=fo.pk,
                code=p.get("code", ""),
                quantities={ln.pk: _int(p.get(f"qty-{ln.pk}", ln.quantity_picked)) for ln in fo.lines.all()},
                collected_by_name=p.get("collected_by_name", ""),
                collected_relation=p.get("collected_relation", "customer"),
                collected_id_type=p.get("collected_id_type", ""),
                actor=user,
            )
        ),
        "pack": lambda: (
            services.fulfillment_order_pack(
                fo_id=fo.pk,
                weight_grams=_int(p.get("weight_grams")),
                length_cm=_int(p.get("length_cm") or 0),
                width_cm=_int(p.get("width_cm") or 0),
                height_cm=_int(p.get("height_cm") or 0),
                package_type=p.get("package_type") or "default box",
                actor=user,
            )
            and "Packed."
        ),
        "ship": lambda: _ship_notice(
            services.fulfillment_order_ship(
                fo_id=fo.pk,
                service=p.get("service", ""),
                tracking_number=p.get("tracking_number", ""),
                carrier=p.get("carrier", ""),
                actor=user,
            )
        ),
        "cancel-confirm": lambda: (
            services.fulfillment_cancel_request_confirm(request_id=_request_of(fo, p), actor=user)
            and "Cancellation confirmed: the units are off this order and back in stock; the customer is refunded."
        ),
        "cancel-refuse": lambda: (
            services.fulfillment_cancel_request_refuse(
                request_id=_request_of(fo, p), actor=user, note=p.get("note", "") or "Already packed."
            )
            and "Answered: already packed. The units will ship."
        ),
    }
    if action not in actions:
        raise Http404(f"Unknown action {action!r}.")
    return _act(request, fo, actions[action])


def _request_of(fo: FulfillmentOrder, p) -> int:
    """The cancel request named in the form, which must be this fulfilment order's."""
    pk = _int(p.get("request"))
    if not fo.cancel_requests.filter(pk=pk).exists():
        raise ValidationError(f"Cancel request {pk} is not on FO-{fo.pk}.")
    return pk


@dataclass(frozen=True)
class ShortConfirmation:
    """A short pick the clerk has chosen but not confirmed yet, with its stock effect in words."""

    line: FulfillmentLine
    reason: RejectionReason
    quantity: int
    effect: str


def _short(fo: FulfillmentOrder, p, user) -> ShortConfirmation | str:
    """First post: say what the short pick will do to stock and ask to confirm; second post (confirm=yes):
    report it, and say what it did."""
    line = fo.lines.select_related("order_line", "fulfillment_order__location").get(pk=_line(fo, p.get("line")))
    quantity = _int(p.get("quantity"))
    reason = next((r for r in selectors.rejection_reasons() if r.code == p.get("reason")), None)
    if reason is None:
        raise ValidationError(f"{line.order_line.sku}: choose a reason (can't find it now, we have none, …).")
    if not 0 < quantity <= line.quantity_open:
        raise ValidationError(f"{line.order_line.sku}: report 1 to {line.quantity_open} units short, not {quantity}.")
    effect = selectors.short_pick_effect(line=line, reason=reason, quantity=quantity)
    if not selectors.store_settings_of(location=fo.location).allow_partial_rejection:
        effect += " This store does not allow partial rejection: every line of the order is rejected and re-routed."
    if p.get("confirm") != "yes":
        return ShortConfirmation(line=line, reason=reason, quantity=quantity, effect=effect)
    services.fulfillment_line_short(
        line_id=line.pk, quantity=quantity, reason_code=reason.code, actor=user, note=p.get("note", "")
    )
    return f"Reported {quantity} × {line.order_line.sku} short ({reason.label}). {effect}"


def _handover_notice(fo: FulfillmentOrder) -> str:
    fo.order.refresh_from_db()
    handed = [f"{ln.order_line.sku} × {ln.quantity_shipped}" for ln in fo.lines.all() if ln.quantity_shipped]
    rest = any(ln.quantity_short or ln.quantity_cancelled for ln in fo.lines.all())
    return (
        f"Handed over to {fo.collected_by_name}: {', '.join(handed)}."
        + (" Each line below says what happened to the rest." if rest else "")
        + f" Order {fo.order.number} is now {fo.order.get_status_display().lower()}."
    )


def _pick(fo: FulfillmentOrder, p, user) -> str:
    undo = p.get("delta") == "-1"
    line = services.fulfillment_line_pick(line_id=_line(fo, p.get("line")), delta=-1 if undo else 1, actor=user)
    return f"{line.order_line.sku}: pick undone." if undo else f"{line.order_line.sku}: picked {line.quantity_picked}."


def _line(fo: FulfillmentOrder, value) -> int:
    line_id = _int(value)
    if not fo.lines.filter(pk=line_id).exists():
        raise ValidationError(f"Line {line_id} is not part of FO-{fo.pk}.")
    return line_id


def _ready_notice(fo: FulfillmentOrder) -> str:
    if fo.ready_email_error:
        raise ValidationError(f"Marked ready, but the email was not sent ({fo.ready_email_error}). Use Resend.")
    # The pickup code is the customer's proof at handover: it is never shown to staff.
    to = fo.order.customer.email if fo.order.customer_id else "the customer"
    return f"Ready for pickup. The pickup code was emailed to {to}; ask for it at handover."


def _ship_notice(shipment: Shipment) -> str:
    if not shipment.tracking_number:
        return "Shipped — warning: this package has no tracking number."
    return f"Shipped with tracking {shipment.tracking_number}."


@store_staff
def handover_search(request):
    store, stores = _current_store(request)
    query = request.GET.get("q", "").strip()
    found = selectors.handover_search(location=store, query=query) if query else []
    elsewhere = None
    if query and not found:
        # Refuse, in words, an order waiting at another store (without showing its details).
        other = (
            FulfillmentOrder.objects.filter(status="ready_for_pickup")
            .exclude(location=store)
            .filter(order__number__iexact=query)
            .select_related("location")
            .first()
        )
        elsewhere = other.location.code if other else None
    if len(found) == 1:
        url = reverse("fulfillment:order", args=[found[0].pk])
        return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    waiting = selectors.store_queue_counts(location=store)["pickup_ready"]
    context = {
        "store": store,
        "stores": stores,
        "query": query,
        "found": found,
        "elsewhere": elsewhere,
        "waiting": waiting,
    }
    template = "fulfillment/handover.html#results" if request.htmx else "fulfillment/handover.html"
    return render(request, template, context)


@store_staff
def handoff(request):
    store, stores = _current_store(request)
    error = notice = ""
    if request.method == "POST":
        ids = [_int(v) for v in request.POST.getlist("shipment")]
        try:
            n = services.shipments_hand_off(shipment_ids=ids, location=store, actor=request.user)
            notice = f"{n} package(s) handed to the carrier."
        except (ValidationError, PermissionDenied) as exc:
            error = _error_text(exc)
    shipments = list(selectors.store_handoff_shipments(location=store))
    context = {
        "store": store,
        "stores": stores,
        "shipments": shipments,
        "error": error,
        "notice": notice,
        "missing_tracking": [s for s in shipments if not s.tracking_number],
    }
    template = "fulfillment/handoff.html#list" if request.htmx else "fulfillment/handoff.html"
    return render(request, template, context)


@store_staff
def receive(request):
    store, stores = _current_store(request)
    error = notice = ""
    if request.method == "POST":
        fo_id = _int(request.POST.get("fulfillment_order"))
        if not selectors.store_incoming_transfers(location=store).filter(pk=fo_id).exists():
            raise Http404("No such parcel on its way to this store.")
        try:
            fo = services.transfer_receive(fo_id=fo_id, actor=request.user)
            notice = f"Received. Pick-up order FO-{fo.pickup_fulfillment_order_id} is in the queue."
        except (ValidationError, PermissionDenied) as exc:
            error = _error_text(exc)
    context = {
        "store": store,
        "stores": stores,
        "incoming": selectors.store_incoming_transfers(location=store),
        "error": error,
        "notice": notice,
    }
    template = "fulfillment/receive.html#list" if request.htmx else "fulfillment/receive.html"
    return render(request, template, context)


@store_staff
def store_settings(request):
    store, stores = _current_store(request)
    error = notice = ""
    if request.method == "POST":
        p = request.POST
        try:
            if "pause" in p:
                services.store_pause_today(location=store, actor=request.user)
                notice = "No new online work today. Orders already queued stay."
            elif "resume" in p:
                services.store_resume(location=store, actor=request.user)
                notice = "Online work resumed."
            else:
                services.store_settings_update(
                    location=store,
                    actor=request.user,
                    scan_required=p.get("scan_required") == "on",
                    allow_partial_rejection=p.get("allow_partial_rejection") == "on",
                    sell_online=p.get("sell_online") == "on",
                    walk_in_protection=_int(p.get("walk_in_protection") or 0),
                    pickup_hold_days=_int(p.get("pickup_hold_days") or 1),
                    reminder_days_before=_int(p.get("reminder_days_before") or 0),
                )
                notice = "Settings saved."
        except ValidationError as exc:
            error = _error_text(exc)
        store.refresh_from_db()
    context = {
        "store": store,
        "stores": stores,
        "settings": selectors.store_settings_of(location=store),
        "reasons": selectors.rejection_reasons(),
        "error": error,
        "notice": notice,
    }
    template = "fulfillment/settings.html#form" if request.htmx else "fulfillment/settings.html"
    return render(request, template, context)


@store_staff
def shipment_document(request, pk: int, kind: str):
    stores = selectors.staff_stores(user=request.user)
    shipment = get_object_or_404(Shipment.objects.filter(fulfillment_order__location__in=stores), pk=pk)
    try:
        pdf = commercial_invoice_pdf(shipment=shipment) if kind == "invoice" else packing_slip_pdf(shipment=shipment)
    except ValidationError as exc:
        raise Http404(_error_text(exc)) from exc
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{kind}-{shipment.pk}.pdf"'
    return response
