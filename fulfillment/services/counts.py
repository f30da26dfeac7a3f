"""Cycle counts from the store phone: a clerk counts one SKU or a shelf of SKUs at their store.

The counts go to inventory's cycle count service (`inventory.services.cycle_count_record`), which records
the counted and the system quantity (for the accuracy KPI) and sets on hand to the count. A count is all
or nothing: every SKU and quantity is checked before anything is written, and an error names the SKU."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction

from inventory.models import Location, Product, StockLevel
from inventory.services import cycle_count_record

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

COUNT_MAX_QUANTITY = 1_000_000
COUNT_MAX_LINES = 200
SHELF_MAX = 40


@dataclass(frozen=True)
class CountLine:
    sku: str
    counted: int


@dataclass(frozen=True)
class CountOutcome:
    sku: str
    before: int
    after: int


def store_count_effect(*, location: Location, sku: str, on_hand: int, counted: int) -> str:
    """What recording a count does to stock, in words, said before the clerk confirms."""
    if on_hand == counted:
        return f"{sku}: matches the system ({counted}); on hand at {location.code} stays {counted}."
    return f"Sets on hand of {sku} at {location.code} from {on_hand} to {counted}."


def store_count_validate(*, lines: list[CountLine], shelf: str) -> dict[str, Product]:
    """Check a count before anything is written: the products by lower-cased SKU, or a ValidationError
    naming each bad SKU."""
    if not lines:
        raise ValidationError({"skus": "Add at least one SKU to count."})
    if len(lines) > COUNT_MAX_LINES:
        raise ValidationError({"skus": f"Count at most {COUNT_MAX_LINES} SKUs at a time."})
    if len(shelf) > SHELF_MAX:
        raise ValidationError({"shelf": f"Shelf: at most {SHELF_MAX} characters."})
    products = {p.sku.lower(): p for p in Product.objects.filter(sku__in=[ln.sku for ln in lines])}
    errors = []
    for ln in lines:
        if ln.sku.lower() not in products:
            errors.append(f"{ln.sku}: no such SKU.")
        elif not 0 <= ln.counted <= COUNT_MAX_QUANTITY:
            errors.append(f"{ln.sku}: count 0 to {COUNT_MAX_QUANTITY} units, not {ln.counted}.")
    if len({ln.sku.lower() for ln in lines}) != len(lines):
        errors.append("Each SKU once per count.")
    if errors:
        raise ValidationError(errors)
    return products


def store_count_record(
    *, location: Location, lines: list[CountLine], shelf: str = "", actor: AbstractBaseUser | None = None
) -> list[CountOutcome]:
    """Record a count of one SKU or a shelf at a store, all or nothing: each line becomes a cycle count
    (on hand set to the count, ledger reason "count", counted and system quantity kept for accuracy)."""
    shelf = " ".join((shelf or "").split())
    products = store_count_validate(lines=lines, shelf=shelf)
    note = f"Store count, shelf {shelf}" if shelf else "Store count"
    outcomes = []
    with transaction.atomic():
        for ln in lines:
            product = products[ln.sku.lower()]
            count = cycle_count_record(
                product=product, location=location, counted_quantity=ln.counted, note=note, actor=actor
            )
            outcomes.append(CountOutcome(product.sku, count.system_quantity, ln.counted))
    return outcomes


def store_count_on_hand(*, location: Location, skus: list[str]) -> dict[str, int]:
    """On hand now at `location` for each SKU (0 without a stock row)."""
    rows = StockLevel.objects.filter(location=location, product__sku__in=skus).values_list("product__sku", "on_hand")
    found = dict(rows)
    return {s: found.get(s, 0) for s in skus}
