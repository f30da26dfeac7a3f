"""The receiving screen: warehouse and store staff count inbound shipments and transfers in, by scanning (one
unit per scan) or typing counts, partial receipts welcome; more than expected needs a reason, and the rest of
a line that will not come is closed with one. Scoped like the store screens: store staff see only their own
locations' deliveries (another location's is a 404). Views stay thin: inventory.inbound / transfers write."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, render

from common.roles import INVENTORY_MANAGER, OPERATIONS, STORE_STAFF, role_required
from inventory.inbound import ReceiptIn, inbound_line_close, inbound_receive
from inventory.models import InboundShipment, Location, TransferOrder
from inventory.receiving import receiving_inbound_open, receiving_locations_for, receiving_transfers_open
from inventory.transfers import TransferLineIn, transfer_receive

receivers = role_required(STORE_STAFF, INVENTORY_MANAGER, OPERATIONS)
MAX_COUNT = 1_000_000


def _location(request) -> tuple[Location, list[Location]]:
    locations = list(receiving_locations_for(user=request.user))
    if not locations:
        raise PermissionDenied("Your account is not linked to a location; ask an administrator to add you.")
    code = request.GET.get("location") or request.session.get("receiving_location")
    chosen = next((loc for loc in locations if loc.code == code), None)
    if chosen is None and request.GET.get("location"):
        raise Http404("You do not receive at that location.")
    chosen = chosen or locations[0]
    request.session["receiving_location"] = chosen.code
    return chosen, locations


def _count(raw: str | None, *, label: str) -> int:
    text = (raw or "").strip()
    if not text:
        return 0
    if not text.isascii() or not text.isdigit() or int(text) > MAX_COUNT:
        raise ValidationError(f"{label}: {text[:20]!r} is not a whole number of units (0 to {MAX_COUNT}).")
    return int(text)


@receivers
def receiving(request):
    location, locations = _location(request)
    context = {
        "location": location,
        "locations": locations,
        "inbound": receiving_inbound_open(location=location),
        "transfers": receiving_transfers_open(location=location),
    }
    return render(request, "inventory/receiving.html", context)


def _inbound_post(request, shipment: InboundShipment) -> str:
    p = request.POST
    if "close" in p:
        line = inbound_line_close(
            shipment_id=shipment.pk, sku=p.get("sku", ""), reason=p.get("reason", ""), actor=request.user
        )
        return f"{line.product.sku}: the rest is closed; nothing more is expected."
    if "scan" in p:
        code = p.get("code", "").strip()
        if not code:
            raise ValidationError("Scan or type a SKU.")
        receipts = [ReceiptIn(code, _count(p.get("quantity"), label=code) or 1, p.get("reason", ""))]
    else:
        receipts = []
        for line in shipment.lines.select_related("product"):
            sku = line.product.sku
            if n := _count(p.get(f"count-{sku}"), label=sku):
                receipts.append(ReceiptIn(sku, n, p.get(f"reason-{sku}", "")))
        if not receipts:
            raise ValidationError("Type how many units arrived of at least one SKU.")
    inbound_receive(shipment_id=shipment.pk, receipts=receipts, actor=request.user)
    return "Received: " + ", ".join(f"{r.sku} × {r.quantity}" for r in receipts) + "."


@receivers
def receiving_inbound(request, number: str):
    locations = receiving_locations_for(user=request.user)
    shipment = get_object_or_404(InboundShipment.objects.filter(location__in=locations), number=number)
    error = notice = ""
    if request.method == "POST":
        try:
            notice = _inbound_post(request, shipment)
        except ValidationError as exc:
            error = " ".join(exc.messages)
        shipment.refresh_from_db()
    lines = list(shipment.lines.select_related("product").order_by("pk"))
    context = {"shipment": shipment, "lines": lines, "error": error, "notice": notice}
    return render(request, "inventory/receiving_inbound.html", context)


def _transfer_post(request, transfer: TransferOrder) -> str:
    p = request.POST
    if "scan" in p:
        code = p.get("code", "").strip()
        if not code:
            raise ValidationError("Scan or type a SKU.")
        wanted = [TransferLineIn(code, _count(p.get("quantity"), label=code) or 1)]
    else:
        wanted = []
        for line in transfer.lines.select_related("product"):
            if n := _count(p.get(f"count-{line.product.sku}"), label=line.product.sku):
                wanted.append(TransferLineIn(line.product.sku, n))
        if not wanted:
            raise ValidationError("Type how many units arrived of at least one SKU.")
    transfer_receive(transfer_id=transfer.pk, lines=wanted, actor=request.user)
    return "Received: " + ", ".join(f"{w.sku} × {w.quantity}" for w in wanted) + "."


@receivers
def receiving_transfer(request, number: str):
    locations = receiving_locations_for(user=request.user)
    transfer = get_object_or_404(TransferOrder.objects.filter(destination__in=locations), number=number)
    error = notice = ""
    if request.method == "POST":
        try:
            notice = _transfer_post(request, transfer)
        except ValidationError as exc:
            error = " ".join(exc.messages)
        transfer.refresh_from_db()
    lines = list(transfer.lines.select_related("product").order_by("pk"))
    context = {"transfer": transfer, "lines": lines, "error": error, "notice": notice}
    return render(request, "inventory/receiving_transfer.html", context)
