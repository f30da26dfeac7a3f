"""Cycle counts: a counted quantity recorded against the system's figure, adjusting stock with its reason."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from inventory.models import (
    CycleCount,
    Location,
    Product,
)
from inventory.services.merge import stock_snapshot_apply
from inventory.services.stock import Reason, _lock_levels

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


def _cycle_count_create(
    *,
    product: Product,
    location: Location,
    counted_quantity: int,
    counted_at: datetime | None,
    adjust: bool,
    note: str,
    actor: AbstractBaseUser | None,
) -> CycleCount:
    """Record a physical count against the system's on hand at this moment; with `adjust`, set on hand to
    the count (ledger reason "count") and flag a shortage if it is now below reserved."""
    if counted_quantity < 0:
        raise ValidationError(f"Counted quantity for SKU {product.sku} at {location.code} cannot be negative.")
    with transaction.atomic():
        level = _lock_levels([(product.pk, location.pk)]).get((product.pk, location.pk))
        count = CycleCount.objects.create(
            product=product,
            location=location,
            counted_quantity=counted_quantity,
            system_quantity=level.on_hand if level else 0,
            counted_at=counted_at or timezone.now(),
            counted_by=actor if getattr(actor, "pk", None) else None,
            adjusted=adjust,
            note=note[:200],
        )
        if adjust:
            stock_snapshot_apply(
                levels=[(product.pk, location.pk, counted_quantity)],
                reason=Reason.COUNT,
                reference=f"count:{count.pk}",
                actor=actor,
            )
        return count


def cycle_count_record(
    *,
    product: Product,
    location: Location,
    counted_quantity: int,
    counted_at: datetime | None = None,
    note: str = "",
    actor: AbstractBaseUser | None = None,
) -> CycleCount:
    """Record a physical count and set on hand to it (ledger reason "count"); a shortage is flagged if on
    hand is now below reserved."""
    return _cycle_count_create(
        product=product,
        location=location,
        counted_quantity=counted_quantity,
        counted_at=counted_at,
        adjust=True,
        note=note,
        actor=actor,
    )


def cycle_count_log(
    *,
    product: Product,
    location: Location,
    counted_quantity: int,
    counted_at: datetime | None = None,
    note: str = "",
    actor: AbstractBaseUser | None = None,
) -> CycleCount:
    """Record a physical count for the accuracy figures only: on hand stays as it is."""
    return _cycle_count_create(
        product=product,
        location=location,
        counted_quantity=counted_quantity,
        counted_at=counted_at,
        adjust=False,
        note=note,
        actor=actor,
    )
