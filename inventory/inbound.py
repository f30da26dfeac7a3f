"""Inbound supply: purchase orders and advance ship notices into our locations, their receipts and delays.

The only writer of InboundShipment, InboundLine, InboundReceipt and InboundDateChange. Received units go
into on hand through `inventory.services.stock_apply_changes` (one ledger row per receipt, reason
"receive", reference "inbound:<number>"). Every service validates the whole request first and writes
nothing when any part is wrong; errors name the field, line or SKU.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from inventory.models import (
    InboundDateChange,
    InboundLine,
    InboundReceipt,
    InboundShipment,
    InventoryMovement,
    Location,
    LocationKind,
    Product,
)
from inventory.services import StockChange, stock_apply_changes
from inventory.services.backorders import inbound_allocations_release
from inventory.signals import inbound_received, inbound_redated

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

MAX_LINES = 1000  # lines per shipment
MAX_QUANTITY = 10_000_000  # units per line
Status = InboundShipment.Status


@dataclass(frozen=True, slots=True)
class InboundLineIn:
    sku: str
    quantity: int
    expected_date: date


@dataclass(frozen=True, slots=True)
class InboundIn:
    number: str
    supplier: str
    location_code: str
    lines: list[InboundLineIn]
    kind: str = InboundShipment.Kind.PURCHASE_ORDER


@dataclass(frozen=True, slots=True)
class ReceiptIn:
    sku: str
    quantity: int
    reason: str = ""  # required when more than the open quantity arrives


def _today() -> date:
    return timezone.localdate()


def receiving_location_check(*, location: Location | None, code: str) -> list[str]:
    """Why a location cannot receive inbound supply or transfers (empty when it can)."""
    if location is None:
        return [f"Unknown location {code!r}."]
    if location.kind in (LocationKind.TRANSIT, LocationKind.DROPSHIP):
        return [f"Location {code} ({location.get_kind_display()}) does not receive stock."]
    if not location.is_active:
        return [f"Location {code} is not active."]
    return []


def _header_errors(*, data: InboundIn, location: Location | None) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    number = data.number.strip()
    if not number or len(number) > 64:
        errors["number"] = ["Give the PO / ASN number (1 to 64 characters)."]
    elif InboundShipment.objects.filter(number=number).exists():
        errors["number"] = [f"Inbound shipment {number} already exists."]
    if not data.supplier.strip() or len(data.supplier) > 200:
        errors["supplier"] = ["Give the supplier (1 to 200 characters)."]
    if data.kind not in InboundShipment.Kind.values:
        errors["kind"] = [f"Kind must be one of {', '.join(InboundShipment.Kind.values)}."]
    if problems := receiving_location_check(location=location, code=data.location_code):
        errors["location"] = problems
    return errors


def inbound_lines_check(*, lines: list[InboundLineIn], today: date) -> tuple[dict[str, Product], list[str]]:
    """Products by SKU and one message per bad line (numbered from 1): unknown SKU, quantity, date, repeats."""
    problems: list[str] = []
    if not lines:
        return {}, ["Give at least one line."]
    if len(lines) > MAX_LINES:
        return {}, [f"At most {MAX_LINES} lines per shipment."]
    products = {p.sku: p for p in Product.objects.filter(sku__in={ln.sku for ln in lines})}
    seen: set[str] = set()
    for i, ln in enumerate(lines, start=1):
        if ln.sku not in products:
            problems.append(f"Line {i}: unknown SKU {ln.sku!r}.")
        elif ln.sku in seen:
            problems.append(f"Line {i}: SKU {ln.sku} appears twice; give one line per SKU.")
        seen.add(ln.sku)
        if not 0 < ln.quantity <= MAX_QUANTITY:
            problems.append(f"Line {i} ({ln.sku}): quantity must be 1 to {MAX_QUANTITY}, got {ln.quantity}.")
        if ln.expected_date < today:
            problems.append(f"Line {i} ({ln.sku}): expected date {ln.expected_date} is in the past.")
    return products, problems


def inbound_create(*, data: InboundIn, actor: AbstractBaseUser | None = None) -> InboundShipment:
    """Record a purchase order or ASN with its lines; raises ValidationError (by field) and writes nothing
    when anything is wrong."""
    location = Location.objects.filter(code=data.location_code).first()
    errors = _header_errors(data=data, location=location)
    products, line_problems = inbound_lines_check(lines=data.lines, today=_today())
    if line_problems:
        errors["lines"] = line_problems
    if errors:
        raise ValidationError(errors)
    try:
        return _inbound_write(data=data, location=location, products=products, actor=actor)
    except IntegrityError as exc:  # the same number created at the same moment by another request
        raise ValidationError({"number": [f"Inbound shipment {data.number.strip()} already exists."]}) from exc


def _inbound_write(*, data: InboundIn, location: Location, products: dict[str, Product], actor) -> InboundShipment:
    with transaction.atomic():
        shipment = InboundShipment.objects.create(
            number=data.number.strip(),
            kind=data.kind,
            supplier=data.supplier.strip(),
            location=location,
            created_by=actor if getattr(actor, "pk", None) else None,
        )
        InboundLine.objects.bulk_create(
            [
                InboundLine(
                    shipment=shipment,
                    location=location,
                    product=products[ln.sku],
                    quantity=ln.quantity,
                    expected_date=ln.expected_date,
                )
                for ln in data.lines
            ]
        )
    return shipment


def _lock_shipment(*, shipment_id: int) -> tuple[InboundShipment, dict[str, InboundLine]]:
    shipment = InboundShipment.objects.select_for_update().select_related("location").get(pk=shipment_id)
    lines = InboundLine.objects.select_for_update().filter(shipment=shipment).select_related("product")
    return shipment, {ln.product.sku: ln for ln in lines.order_by("pk")}


def _status_after(lines: list[InboundLine]) -> str:
    if all(not ln.is_open for ln in lines):
        return Status.RECEIVED
    if any(ln.quantity_received for ln in lines):
        return Status.PARTIAL
    return Status.OPEN


def _receipt_problems(*, receipts: list[ReceiptIn], lines: dict[str, InboundLine]) -> list[str]:
    problems: list[str] = []
    seen: set[str] = set()
    if not receipts:
        return ["Give at least one received line."]
    for r in receipts:
        line = lines.get(r.sku)
        if line is None:
            problems.append(f"SKU {r.sku!r} is not on this shipment.")
            continue
        if r.sku in seen:
            problems.append(f"SKU {r.sku} appears twice; give one count per SKU.")
        seen.add(r.sku)
        if not 0 < r.quantity <= MAX_QUANTITY:
            problems.append(f"SKU {r.sku}: received quantity must be 1 to {MAX_QUANTITY}, got {r.quantity}.")
        elif not line.is_open:
            problems.append(f"SKU {r.sku}: the line is closed; nothing more is expected.")
        elif r.quantity > line.quantity_open and not r.reason.strip():
            problems.append(
                f"SKU {r.sku}: {r.quantity} received but only {line.quantity_open} open; "
                "give a reason to accept more than ordered."
            )
        if len(r.reason) > 200:
            problems.append(f"SKU {r.sku}: the reason is longer than 200 characters.")
    return problems


def inbound_receive(
    *, shipment_id: int, receipts: list[ReceiptIn], actor: AbstractBaseUser | None = None
) -> list[InboundReceipt]:
    """Count units in against open lines (partial receipts welcome): on hand at the receiving location grows
    through the stock services (one ledger row per SKU). More than the open quantity needs a reason. All
    or nothing: any bad line refuses the whole receipt."""
    with transaction.atomic():
        shipment, lines = _lock_shipment(shipment_id=shipment_id)
        if shipment.status in (Status.RECEIVED, Status.CANCELLED):
            raise ValidationError({"status": [f"{shipment} is {shipment.get_status_display().lower()}."]})
        if problems := _receipt_problems(receipts=receipts, lines=lines):
            raise ValidationError({"lines": problems})
        stock_apply_changes(
            changes=[
                StockChange(lines[r.sku].product_id, shipment.location_id, delta_on_hand=r.quantity) for r in receipts
            ],
            reason=InventoryMovement.Reason.RECEIVE,
            reference=f"inbound:{shipment.number}",
            actor=actor,
        )
        who = actor if getattr(actor, "pk", None) else None
        made = []
        for r in receipts:
            line = lines[r.sku]
            made.append(
                InboundReceipt(
                    line=line,
                    quantity=r.quantity,
                    quantity_expected=line.quantity_open,
                    reason=r.reason.strip(),
                    received_by=who,
                )
            )
            line.quantity_received += r.quantity
            line.is_open = line.quantity_open > 0
        InboundLine.objects.bulk_update([lines[r.sku] for r in receipts], ["quantity_received", "is_open"])
        InboundReceipt.objects.bulk_create(made)
        shipment.status = _status_after(list(lines.values()))
        shipment.save(update_fields=["status", "updated_at"])
        # The allocations against the received lines end: routing places those orders from the new stock.
        waiting = inbound_allocations_release(line_ids=[lines[r.sku].pk for r in receipts])
    inbound_received.send(
        sender=InboundShipment, order_ids=waiting, product_ids={lines[r.sku].product_id for r in receipts}
    )
    return made


def inbound_line_close(
    *, shipment_id: int, sku: str, reason: str, actor: AbstractBaseUser | None = None
) -> InboundLine:
    """The rest of a line will not come (under-delivery): its open units are closed, with the reason kept as
    a zero-unit receipt."""
    if not reason.strip() or len(reason) > 200:
        raise ValidationError({"reason": ["Say why the rest will not come (1 to 200 characters)."]})
    with transaction.atomic():
        shipment, lines = _lock_shipment(shipment_id=shipment_id)
        line = lines.get(sku)
        if line is None:
            raise ValidationError({"sku": [f"SKU {sku!r} is not on {shipment}."]})
        if not line.is_open:
            raise ValidationError({"sku": [f"SKU {sku}: the line is already closed."]})
        InboundReceipt.objects.create(
            line=line,
            quantity=0,
            quantity_expected=line.quantity_open,
            reason=f"closed short: {reason.strip()}"[:200],
            received_by=actor if getattr(actor, "pk", None) else None,
        )
        line.quantity_closed = line.quantity - min(line.quantity, line.quantity_received)
        line.is_open = False
        line.save(update_fields=["quantity_closed", "is_open"])
        shipment.status = _status_after(list(lines.values()))
        if shipment.status == Status.RECEIVED and not any(ln.quantity_received for ln in lines.values()):
            shipment.status = Status.CANCELLED
        shipment.save(update_fields=["status", "updated_at"])
        # Backorders counting on the rest lose it: routing re-plans them against other supply and re-dates.
        inbound_allocations_release(line_ids=[line.pk])
    inbound_redated.send(sender=InboundShipment, product_ids={line.product_id})
    return line


def inbound_line_redate(
    *, shipment_id: int, sku: str, new_date: date, reason: str, actor: AbstractBaseUser | None = None
) -> InboundDateChange:
    """A delay (or an earlier arrival): the line's new expected date, with the old one kept as history."""
    problems: dict[str, list[str]] = {}
    if new_date < _today():
        problems["expected_date"] = [f"{new_date} is in the past."]
    if not reason.strip() or len(reason) > 200:
        problems["reason"] = ["Say why the date changes (1 to 200 characters)."]
    with transaction.atomic():
        shipment, lines = _lock_shipment(shipment_id=shipment_id)
        line = lines.get(sku)
        if line is None:
            problems["sku"] = [f"SKU {sku!r} is not on {shipment}."]
        elif not line.is_open:
            problems["sku"] = [f"SKU {sku}: the line is closed; it has no expected date any more."]
        elif line.expected_date == new_date:
            problems["expected_date"] = [f"SKU {sku} is already expected on {new_date}."]
        if problems:
            raise ValidationError(problems)
        change = InboundDateChange.objects.create(
            line=line,
            old_date=line.expected_date,
            new_date=new_date,
            reason=reason.strip(),
            changed_by=actor if getattr(actor, "pk", None) else None,
        )
        line.expected_date = new_date
        line.save(update_fields=["expected_date"])
    # Routing re-plans this product's backorders and re-dates the orders waiting on it.
    inbound_redated.send(sender=InboundShipment, product_ids={line.product_id})
    return change


def inbound_line_promise(*, line_id: int, quantity: int) -> InboundLine:
    """Promise (positive) or release (negative) units of an open line to customers: they stop counting as
    available to promise on and after its date. At most the line's open quantity is promised."""
    with transaction.atomic():
        line = InboundLine.objects.select_for_update().select_related("product").get(pk=line_id)
        promised = line.quantity_promised + quantity
        if quantity == 0 or promised < 0 or promised > line.quantity_open:
            raise ValidationError(
                {
                    "quantity": [
                        f"SKU {line.product.sku}: {promised} promised would not fit the {line.quantity_open} open."
                    ]
                }
            )
        line.quantity_promised = promised
        line.save(update_fields=["quantity_promised"])
        return line
