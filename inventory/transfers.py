"""Transfer orders between our locations (rebalancing), the only writer of TransferOrder and TransferLine.

Shipping moves the units from the source's on hand to the network's transit location (LocationKind.TRANSIT,
code IN-TRANSIT: never active, never sells); receiving moves them from there into the destination's on hand.
Both steps go through `inventory.services.stock_apply_changes`, so every step has its ledger rows and "the
ledger sums equal the levels" holds with units in transit too. The transit location's on hand for a product
equals the shipped-but-not-received units of the open transfer lines (`transfer_transit_mismatches`).

Ship-to-store parcels of customer orders stay fulfilment's (the units are consumed at the DC and received at
the store for the customer); these transfers are stock moves that no order owns.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from inventory.inbound import MAX_LINES, MAX_QUANTITY, receiving_location_check
from inventory.models import InventoryMovement, Location, LocationKind, Product, StockLevel, TransferLine, TransferOrder
from inventory.services import StockChange, stock_apply_changes

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

TRANSIT_CODE = "IN-TRANSIT"
Status = TransferOrder.Status
Reason = InventoryMovement.Reason


@dataclass(frozen=True, slots=True)
class TransferLineIn:
    sku: str
    quantity: int


def transit_location() -> Location:
    """The network's one transit location (created on first use)."""
    loc, _ = Location.objects.get_or_create(
        code=TRANSIT_CODE,
        defaults={
            "name": "Units in transit between locations",
            "kind": LocationKind.TRANSIT,
            "postal_code": "",
            "is_active": False,
            "can_ship": False,
            "sell_online": False,
            "daily_capacity": 0,
            "handling_classes": [],
        },
    )
    return loc


def _lines_check(lines: list[TransferLineIn]) -> tuple[dict[str, Product], list[str]]:
    if not lines:
        return {}, ["Give at least one line."]
    if len(lines) > MAX_LINES:
        return {}, [f"At most {MAX_LINES} lines per transfer."]
    products = {p.sku: p for p in Product.objects.filter(sku__in={ln.sku for ln in lines})}
    problems, seen = [], set()
    for i, ln in enumerate(lines, start=1):
        if ln.sku not in products:
            problems.append(f"Line {i}: unknown SKU {ln.sku!r}.")
        elif ln.sku in seen:
            problems.append(f"Line {i}: SKU {ln.sku} appears twice; give one line per SKU.")
        seen.add(ln.sku)
        if not 0 < ln.quantity <= MAX_QUANTITY:
            problems.append(f"Line {i} ({ln.sku}): quantity must be 1 to {MAX_QUANTITY}, got {ln.quantity}.")
    return products, problems


def transfer_create(
    *,
    source_code: str,
    destination_code: str,
    lines: list[TransferLineIn],
    expected_date: date,
    note: str = "",
    actor: AbstractBaseUser | None = None,
) -> TransferOrder:
    """A draft transfer (nothing moves until it ships); refuses wholly, by field, when anything is wrong."""
    locations = {loc.code: loc for loc in Location.objects.filter(code__in=[source_code, destination_code])}
    errors: dict[str, list[str]] = {}
    for field, code in (("source", source_code), ("destination", destination_code)):
        if problems := receiving_location_check(location=locations.get(code), code=code):
            errors[field] = problems
    if source_code == destination_code and "source" not in errors:
        errors["destination"] = ["The destination must differ from the source."]
    if expected_date < timezone.localdate():
        errors["expected_date"] = [f"{expected_date} is in the past."]
    if len(note) > 200:
        errors["note"] = ["At most 200 characters."]
    products, line_problems = _lines_check(lines)
    if line_problems:
        errors["lines"] = line_problems
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        transfer = TransferOrder.objects.create(
            number=f"TMP-{uuid.uuid4().hex[:20]}",
            source=locations[source_code],
            destination=locations[destination_code],
            expected_date=expected_date,
            note=note,
            created_by=actor if getattr(actor, "pk", None) else None,
        )
        transfer.number = f"TO-{transfer.pk:06d}"
        transfer.save(update_fields=["number"])
        TransferLine.objects.bulk_create(
            [TransferLine(transfer=transfer, product=products[ln.sku], quantity=ln.quantity) for ln in lines]
        )
    return transfer


def _lock(transfer_id: int) -> tuple[TransferOrder, list[TransferLine]]:
    transfer = TransferOrder.objects.select_for_update().select_related("source", "destination").get(pk=transfer_id)
    lines = list(
        TransferLine.objects.select_for_update().filter(transfer=transfer).select_related("product").order_by("pk")
    )
    return transfer, lines


def transfer_ship(*, transfer_id: int, actor: AbstractBaseUser | None = None) -> TransferOrder:
    """The source sends every line: units leave its on hand into transit (ledger rows at both). Only units
    not reserved for customers can leave; otherwise nothing moves and the SKUs short are named."""
    with transaction.atomic():
        transfer, lines = _lock(transfer_id)
        if transfer.status != Status.DRAFT:
            raise ValidationError({"status": [f"{transfer.number} is {transfer.get_status_display().lower()}."]})
        transit = transit_location()
        ref = f"transfer:{transfer.number}"
        levels = stock_apply_changes(
            changes=[StockChange(ln.product_id, transfer.source_id, delta_on_hand=-ln.quantity) for ln in lines],
            reason=Reason.TRANSFER_OUT,
            reference=ref,
            actor=actor,
        )
        sku = {ln.product_id: ln.product.sku for ln in lines}
        short = [
            f"SKU {sku[lv.product_id]}: {transfer.source.code} would keep {lv.on_hand} on hand "
            f"for {lv.reserved} reserved."
            for lv in levels
            if lv.on_hand < lv.reserved
        ]
        if short:
            raise ValidationError({"lines": short})
        stock_apply_changes(
            changes=[StockChange(ln.product_id, transit.pk, delta_on_hand=ln.quantity) for ln in lines],
            reason=Reason.TRANSFER_OUT,
            reference=ref,
            actor=actor,
        )
        TransferLine.objects.filter(transfer=transfer).update(quantity_shipped=F("quantity"))
        transfer.status = Status.IN_TRANSIT
        transfer.shipped_at = timezone.now()
        transfer.save(update_fields=["status", "shipped_at"])
        return transfer


def transfer_receive(
    *, transfer_id: int, lines: list[TransferLineIn] | None = None, actor: AbstractBaseUser | None = None
) -> TransferOrder:
    """The destination counts units in (all in-transit units when `lines` is None; partial receipts
    welcome): they leave transit into its on hand. More than is in transit is refused, naming the SKU."""
    with transaction.atomic():
        transfer, current = _lock(transfer_id)
        if transfer.status not in (Status.IN_TRANSIT, Status.PARTIAL):
            raise ValidationError({"status": [f"{transfer.number} is {transfer.get_status_display().lower()}."]})
        by_sku = {ln.product.sku: ln for ln in current}
        wanted = (
            [TransferLineIn(ln.product.sku, ln.quantity_in_transit) for ln in current if ln.quantity_in_transit]
            if lines is None
            else lines
        )
        problems = []
        for ln in wanted:
            line = by_sku.get(ln.sku)
            if line is None:
                problems.append(f"SKU {ln.sku!r} is not on {transfer.number}.")
            elif not 0 < ln.quantity <= line.quantity_in_transit:
                problems.append(f"SKU {ln.sku}: received {ln.quantity}, in transit {line.quantity_in_transit}.")
        if len({ln.sku for ln in wanted}) != len(wanted):
            problems.append("Give one count per SKU.")
        if problems or not wanted:
            raise ValidationError({"lines": problems or ["Nothing to receive."]})
        _move_in(transfer=transfer, moves=[(by_sku[ln.sku], ln.quantity) for ln in wanted], actor=actor)
        done = all(ln.quantity_received == ln.quantity_shipped for ln in current)
        transfer.status = Status.RECEIVED if done else Status.PARTIAL
        transfer.received_at = timezone.now() if done else None
        transfer.save(update_fields=["status", "received_at"])
        return transfer


def _move_in(*, transfer: TransferOrder, moves: list[tuple[TransferLine, int]], actor) -> None:
    transit = transit_location()
    changes = []
    for line, q in moves:
        changes += [
            StockChange(line.product_id, transit.pk, delta_on_hand=-q),
            StockChange(line.product_id, transfer.destination_id, delta_on_hand=q),
        ]
        line.quantity_received += q
    stock_apply_changes(
        changes=changes, reason=Reason.TRANSFER_IN, reference=f"transfer:{transfer.number}", actor=actor
    )
    TransferLine.objects.bulk_update([line for line, _ in moves], ["quantity_received"])


def transfer_cancel(*, transfer_id: int, actor: AbstractBaseUser | None = None) -> TransferOrder:
    """Cancel a transfer that has not shipped (nothing moved, so nothing to undo)."""
    with transaction.atomic():
        transfer, _ = _lock(transfer_id)
        if transfer.status != Status.DRAFT:
            raise ValidationError({"status": [f"{transfer.number} has shipped; receive it instead."]})
        transfer.status = Status.CANCELLED
        transfer.save(update_fields=["status"])
        return transfer


def transfer_transit_mismatches() -> list[tuple[int, int, int]]:
    """(product_id, transit on hand, open transfer units in transit) where they differ: empty when the
    in-transit bucket equals what the transfer lines say is on its way."""
    transit = Location.objects.filter(code=TRANSIT_CODE).first()
    levels = dict(StockLevel.objects.filter(location=transit).values_list("product_id", "on_hand")) if transit else {}
    lines = defaultdict(int)
    for pid, q in (
        TransferLine.objects.values("product_id")
        .annotate(q=Sum(F("quantity_shipped") - F("quantity_received")))
        .values_list("product_id", "q")
    ):
        lines[pid] = q or 0
    return [
        (p, levels.get(p, 0), lines.get(p, 0))
        for p in sorted(set(levels) | set(lines))
        if levels.get(p, 0) != lines.get(p, 0)
    ]
