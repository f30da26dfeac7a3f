"""Store screens (htmx, mobile-first): queue, order work (pick, report an issue, ready, handover, pack,
ship), handover search, carrier hand-off, ship-to-store receiving, store settings.

Every view is for the Store staff role and only ever shows the user's own stores (`Location.staff`); an
order of another store is a 404. Views are thin: they call services, and after every action re-render the
affected fragment from the database, with any error in words.
"""

from __future__ import annotations

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
from fulfillment.models import FulfillmentOrder, Shipment

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


@store_staff
def queue(request):
    store, stores = _current_store(request)
    tab = request.GET.get("tab") or "pickup_open"
    if tab not in {k for k, *_ in selectors.TABS}:
        tab = "pickup_open"
    query = request.GET.get("q", "")
    context = {
        "store": store,
        "stores": stores,
        "tab": tab,
        "query": query,
        "tabs": [(k, label, selectors.store_queue_counts(location=store)[k]) for k, label, *_ in selectors.TABS],
        "cards": selectors.store_queue(location=store, tab=tab, query=query),
        "released_today": selectors.store_released_today(location=store),
        "incoming": selectors.store_incoming_transfers(location=store).count(),
        "handoff": selectors.store_handoff_shipments(location=store).count(),
        "settings": selectors.store_settings_of(location=store),
    }
    template = "fulfillment/queue.html#queue" if request.htmx else "fulfillment/queue.html"
    return render(request, template, context)


def _work_context(request, fo: FulfillmentOrder, *, error: str = "", notice: str = "", scan=None) -> dict:
    fo.refresh_from_db()
    lines = list(fo.lines.select_related("order_line", "order_line__product").order_by("pk"))
    return {
        "fo": fo,
        "store": fo.location,
        "lines": lines,
        "shipments": list(fo.shipments.all()),
        "reasons": selectors.rejection_reasons(),
        "services": sorted(carrier_services().values(), key=lambda s: (s.mode == "courier", s.code)),
        "timeline": selectors.fulfillment_order_timeline(fo=fo),
        "settings": selectors.store_settings_of(location=fo.location),
        "error": error,
        "notice": notice,
        "scan": scan,
    }


@store_staff
def order_detail(request, pk: int):
    fo = _fo_for(request, pk)
    return render(request, "fulfillment/order.html", _work_context(request, fo))


def _act(request, fo: FulfillmentOrder, action) -> HttpResponse:
    """Run a service for a POST and re-render the work fragment (or the page without htmx)."""
    error = notice = ""
    scan = None
    try:
        result = action()
        if isinstance(result, services.ScanResult):
            scan, notice = result, result.message
        elif isinstance(result, str):
            notice = result
    except (ValidationError, PermissionDenied) as exc:
        error = _error_text(exc)
    context = _work_context(request, fo, error=error, notice=notice, scan=scan)
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
        "short": lambda: (
            services.fulfillment_line_short(
                line_id=_line(fo, p.get("line")),
                quantity=_int(p.get("quantity")),
                reason_code=p.get("reason", ""),
                actor=user,
                note=p.get("note", ""),
            )
            and "Reported: the units were released and are waiting for a new location."
        ),
        "reject": lambda: (
            services.fulfillment_order_reject(
                fo_id=fo.pk, reason_code=p.get("reason", ""), actor=user, note=p.get("note", "")
            )
            and "Order rejected: it is waiting for a new location."
        ),
        "ready": lambda: _ready_notice(
            services.fulfillment_order_ready(fo_id=fo.pk, staging_location=p.get("staging", ""), actor=user)
        ),
        "resend": lambda: _ready_notice(services.fulfillment_order_resend_ready_email(fo_id=fo.pk, actor=user)),
        "handover": lambda: (
            services.fulfillment_order_handover(
                fo_id=fo.pk,
                code=p.get("code", ""),
                quantities={ln.pk: _int(p.get(f"qty-{ln.pk}", ln.quantity_picked)) for ln in fo.lines.all()},
                collected_by_name=p.get("collected_by_name", ""),
                collected_relation=p.get("collected_relation", "customer"),
                collected_id_type=p.get("collected_id_type", ""),
                actor=user,
            )
            and "Handed over. The order is complete."
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
    }
    if action not in actions:
        raise Http404(f"Unknown action {action!r}.")
    return _act(request, fo, actions[action])


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
    return f"Ready for pickup. Email with code {fo.pickup_code} sent to the customer."


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
