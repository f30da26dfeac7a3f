"""Reservations: units held for an order at a location (one at a time or in bulk for a routing batch),
consumed when shipped or handed over, released when short, cancelled or expired."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from common.bulk import model_rows_insert
from inventory.models import (
    Location,
    RefType,
    Reservation,
    ReservationLine,
)
from inventory.selectors import ats_for_products
from inventory.services.stock import InsufficientStock, Reason, Shortage, StockChange, stock_apply_changes

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from orders.models import Channel


@dataclass(frozen=True, slots=True)
class ReserveLine:
    product_id: int
    quantity: int
    location_id: int | None = None
    reference: str = ""
    ref_type: str = RefType.NONE  # what the line is held for (typed reference, see inventory.models.RefType)
    ref_id: int | None = None


def _reserve_place(*, lines: list[ReserveLine], ats: dict) -> tuple[list[tuple[ReserveLine, int, int]], list[Shortage]]:
    """Place each line on the locked ATS: at its own location, or from the locations with the most ATS
    first. Returns what is placed, (line, location id, units), and every shortage."""
    # Remaining ATS per product × location and per product (pool-capped), spent as lines are placed.
    left_at = {(pid, la.location_id): la.available for pid, pa in ats.items() for la in pa.locations}
    left_total = {pid: pa.available for pid, pa in ats.items()}
    codes = {la.location_id: la.location_code for pa in ats.values() for la in pa.locations}
    placed: list[tuple[ReserveLine, int, int]] = []
    shortages: list[Shortage] = []
    for ln in lines:
        pa = ats[ln.product_id]
        if ln.location_id is not None:
            here = min(left_at.get((ln.product_id, ln.location_id), 0), left_total[ln.product_id])
            if here < ln.quantity:
                code = codes.get(ln.location_id) or Location.objects.get(pk=ln.location_id).code
                shortages.append(Shortage(pa.sku, ln.quantity, here, code))
                continue
            take = [(ln.location_id, ln.quantity)]
        else:
            if left_total[ln.product_id] < ln.quantity:
                shortages.append(Shortage(pa.sku, ln.quantity, left_total[ln.product_id]))
                continue
            need, take = ln.quantity, []
            for la in sorted(pa.locations, key=lambda a: (-left_at[(ln.product_id, a.location_id)], a.location_code)):
                can = left_at[(ln.product_id, la.location_id)]
                if can <= 0:
                    break
                q = min(can, need)
                take.append((la.location_id, q))
                need -= q
                if need == 0:
                    break
        for loc_id, q in take:
            left_at[(ln.product_id, loc_id)] -= q
            left_total[ln.product_id] -= q
            placed.append((ln, loc_id, q))
    return placed, shortages


def stock_reserve(
    *,
    lines: list[ReserveLine],
    channel: Channel | None = None,
    method: str | None = None,
    ttl: timedelta | None = None,
    reference: str = "",
    ref_type: str = RefType.NONE,
    ref_id: int | None = None,
    actor: AbstractBaseUser | None = None,
) -> Reservation:
    """Hold stock for every line or for none (all-or-nothing), never more than ATS. `ref_type`/`ref_id`
    name what it is held for (an order), as do each line's.

    Lines naming a location are held there; others are taken from the locations with the most ATS for
    the channel and method. Raises InsufficientStock listing every shortage; nothing is held then.
    """
    if not lines:
        raise ValidationError("A reservation needs at least one line.")
    for ln in lines:
        if ln.quantity <= 0:
            raise ValidationError(f"Quantity must be positive (got {ln.quantity}).")
    with transaction.atomic():
        product_ids = sorted({ln.product_id for ln in lines})
        ats = ats_for_products(product_ids=product_ids, channel=channel, method=method, for_update=True)
        placed, shortages = _reserve_place(lines=lines, ats=ats)
        if shortages:
            raise InsufficientStock(shortages)
        reservation = Reservation.objects.create(
            channel=channel,
            reference=reference[:100],
            ref_type=ref_type,
            ref_id=ref_id,
            expires_at=timezone.now() + ttl if ttl else None,
        )
        ReservationLine.objects.bulk_create(
            [
                ReservationLine(
                    reservation=reservation,
                    product_id=ln.product_id,
                    location_id=loc_id,
                    quantity=q,
                    reference=ln.reference,
                    ref_type=ln.ref_type,
                    ref_id=ln.ref_id,
                )
                for ln, loc_id, q in placed
            ]
        )
        stock_apply_changes(
            changes=[StockChange(ln.product_id, loc_id, delta_reserved=q) for ln, loc_id, q in placed],
            reason=Reason.RESERVE,
            reference=f"reservation:{reservation.pk}",
            actor=actor,
        )
        return reservation


@dataclass(frozen=True, slots=True)
class HoldLine:
    product_id: int
    location_id: int
    quantity: int
    reference: str = ""
    ref_type: str = RefType.NONE
    ref_id: int | None = None


@dataclass(frozen=True, slots=True)
class ReservationHold:
    """One reservation to create: placed units at named locations (the caller decided where)."""

    channel_id: int | None
    reference: str
    lines: list[HoldLine]
    ref_type: str = RefType.NONE
    ref_id: int | None = None


def reservations_hold_bulk(
    *,
    holds: list[ReservationHold],
    movement_reference: str | None = None,
    actor: AbstractBaseUser | None = None,
    now: datetime | None = None,
) -> list[int]:
    """Create many reservations at once (routing's batch writer, ship-to-store receipts) and hold their stock,
    in the caller's transaction: reservations and their lines streamed set-based (COPY on PostgreSQL), then
    one `stock_apply_changes` with one ledger movement per product × location (the lines keep the detail).

    No ATS check: the caller already decided against fresh ATS (routing re-checks under lock); the stock
    write still refuses to drive reserved past on_hand's invariants. Returns the reservation ids in order."""
    if not holds:
        return []
    res_ids = model_rows_insert(
        model=Reservation,
        rows=[
            {
                "channel_id": h.channel_id,
                "reference": h.reference[:100],
                "ref_type": h.ref_type,
                "ref_id": h.ref_id,
                "status": "active",
            }
            for h in holds
        ],
        now=now,
    )
    rows, merged = [], defaultdict(int)
    for res_id, h in zip(res_ids, holds, strict=True):
        for ln in h.lines:
            rows.append(
                {
                    "reservation_id": res_id,
                    "product_id": ln.product_id,
                    "location_id": ln.location_id,
                    "quantity": ln.quantity,
                    "reference": ln.reference,
                    "ref_type": ln.ref_type,
                    "ref_id": ln.ref_id,
                }
            )
            merged[(ln.product_id, ln.location_id)] += ln.quantity
    model_rows_insert(model=ReservationLine, rows=rows, now=now)
    if merged:
        changes = [StockChange(p, lid, delta_reserved=q) for (p, lid), q in sorted(merged.items())]
        ref = movement_reference or (f"reservation:{res_ids[0]}" if len(res_ids) == 1 else "reservations")
        stock_apply_changes(changes=changes, reason=Reason.RESERVE, reference=ref, actor=actor)
    return res_ids


def reservation_hold(*, hold: ReservationHold, actor: AbstractBaseUser | None = None) -> Reservation:
    """Create one reservation of placed units (see `reservations_hold_bulk`) and return it."""
    with transaction.atomic():
        (pk,) = reservations_hold_bulk(holds=[hold], actor=actor)
        return Reservation.objects.get(pk=pk)


def _close_lines(
    *,
    reservation: Reservation,
    quantities: dict[int, int] | None,
    consume: bool,
    reason: str,
    actor: AbstractBaseUser | None,
    reference: str,
) -> list[ReservationLine]:
    lines = list(reservation.lines.select_for_update().order_by("pk"))
    changes, touched = [], []
    for line in lines:
        q = line.quantity_open if quantities is None else quantities.get(line.pk, 0)
        if q <= 0:
            continue
        if q > line.quantity_open:
            raise ValidationError(f"Reservation line {line.pk}: only {line.quantity_open} open, cannot close {q}.")
        line.quantity_closed += q
        touched.append(line)
        changes.append(
            StockChange(line.product_id, line.location_id, delta_on_hand=-q if consume else 0, delta_reserved=-q)
        )
    stock_apply_changes(
        changes=changes, reason=reason, reference=reference or f"reservation:{reservation.pk}", actor=actor
    )
    ReservationLine.objects.bulk_update(touched, ["quantity_closed"])
    return lines


def _lock_reservation(reservation_id: int) -> Reservation:
    return Reservation.objects.select_for_update().get(pk=reservation_id)


def reservation_release(
    *,
    reservation: Reservation,
    quantities: dict[int, int] | None = None,
    reason: str = Reason.RELEASE,
    actor: AbstractBaseUser | None = None,
    reference: str = "",
) -> Reservation:
    """Give held units back to sale: all open units, or `quantities` per reservation line id.

    Safe to call twice: a reservation that is no longer active is returned unchanged.
    """
    with transaction.atomic():
        res = _lock_reservation(reservation.pk)
        if res.status != Reservation.Status.ACTIVE:
            return res
        lines = _close_lines(
            reservation=res, quantities=quantities, consume=False, reason=reason, actor=actor, reference=reference
        )
        _finish_if_closed(
            res, lines, Reservation.Status.EXPIRED if reason == Reason.EXPIRE else Reservation.Status.RELEASED
        )
        return res


def reservation_consume(
    *,
    reservation: Reservation,
    quantities: dict[int, int] | None = None,
    actor: AbstractBaseUser | None = None,
    reference: str = "",
) -> Reservation:
    """Units left the building (shipped or handed over): on_hand and reserved go down together."""
    with transaction.atomic():
        res = _lock_reservation(reservation.pk)
        if res.status != Reservation.Status.ACTIVE:
            raise ValidationError(f"Reservation {res.pk} is {res.status}; only active reservations can ship.")
        lines = _close_lines(
            reservation=res,
            quantities=quantities,
            consume=True,
            reason=Reason.CONSUME,
            actor=actor,
            reference=reference,
        )
        _finish_if_closed(res, lines, Reservation.Status.CONSUMED)
        return res


def _finish_if_closed(res: Reservation, lines: list[ReservationLine], status: str) -> None:
    if all(line.quantity_open == 0 for line in lines):
        res.status = status
        res.save(update_fields=["status", "updated_at"])


def reservation_expire_due(*, now: datetime | None = None, batch: int = 500) -> int:
    """Release every active reservation past its expiry. Idempotent: run it as often as you like."""
    now = now or timezone.now()
    count = 0
    ids = list(
        Reservation.objects.filter(status=Reservation.Status.ACTIVE, expires_at__lte=now)
        .order_by("pk")
        .values_list("pk", flat=True)[:batch]
    )
    for pk in ids:
        res = reservation_release(reservation=Reservation(pk=pk), reason=Reason.EXPIRE, reference=f"expired:{pk}")
        count += res.status == Reservation.Status.EXPIRED
    return count
