"""Stock levels: every change to on_hand or reserved goes through `stock_apply_changes`, which locks the
affected rows in primary-key order, checks the non-negative invariants (naming SKU and location), updates
the rows and appends the ledger in the caller's transaction. Location settings and safety stock live here too."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from common.bulk import model_rows_insert, values_cte
from inventory.models import (
    InventoryMovement,
    Location,
    Product,
    SafetyStockRule,
    StockLevel,
)
from inventory.signals import stock_levels_changed_send_for_deltas

if TYPE_CHECKING:
    from datetime import datetime

    from django.contrib.auth.models import AbstractBaseUser


Reason = InventoryMovement.Reason


@dataclass(frozen=True, slots=True)
class StockChange:
    product_id: int
    location_id: int
    delta_on_hand: int = 0
    delta_reserved: int = 0


@dataclass(frozen=True, slots=True)
class Shortage:
    sku: str
    requested: int
    available: int
    location: str | None = None

    def as_dict(self) -> dict:
        d = {"sku": self.sku, "requested": self.requested, "available": self.available}
        if self.location:
            d["location"] = self.location
        return d


class InsufficientStock(Exception):
    """Raised with every shortage of a request at once; nothing was held."""

    def __init__(self, shortages: list[Shortage]) -> None:
        self.shortages = shortages
        super().__init__(
            "Not enough stock: "
            + "; ".join(f"{s.sku} requested {s.requested}, available {s.available}" for s in shortages)
        )


def _describe(product_id: int, location_id: int) -> str:
    sku = Product.objects.filter(pk=product_id).values_list("sku", flat=True).first() or product_id
    code = Location.objects.filter(pk=location_id).values_list("code", flat=True).first() or location_id
    return f"SKU {sku} at {code}"


def stock_apply_changes(
    *,
    changes: list[StockChange],
    reason: str,
    reference: str = "",
    actor: AbstractBaseUser | None = None,
) -> list[StockLevel]:
    """Apply deltas to stock levels and append one ledger movement per change.

    Set-based whatever the size: one statement locks the rows (primary-key order), one creates missing
    rows, one updates them all, one inserts the ledger. Raises ValidationError naming SKU and location
    (nothing written) when on_hand or reserved would go below zero.
    """
    if not changes:
        return []
    merged: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0])
    for c in changes:
        m = merged[(c.product_id, c.location_id)]
        m[0] += c.delta_on_hand
        m[1] += c.delta_reserved
    with transaction.atomic():
        keys = list(merged)
        existing = _lock_levels(keys)
        missing = [k for k in keys if k not in existing]
        if missing:
            _refuse_unknown_keys(missing)
            StockLevel.objects.bulk_create(
                [StockLevel(product_id=p, location_id=loc) for p, loc in missing], ignore_conflicts=True
            )
            existing.update(_lock_levels(missing))
        errors = []
        for key, (d_on_hand, d_reserved) in merged.items():
            level = existing[key]
            level.on_hand += d_on_hand
            level.reserved += d_reserved
            if level.on_hand < 0:
                errors.append(f"{_describe(*key)}: on hand would become {level.on_hand}.")
            if level.reserved < 0:
                errors.append(f"{_describe(*key)}: reserved would become {level.reserved}.")
        if errors:
            raise ValidationError(errors)
        now = timezone.now()
        levels = [existing[k] for k in keys if merged[k] != [0, 0]]
        for level in levels:
            level.updated_at = now
        _levels_write(levels=levels, now=now)
        # The ledger by COPY on PostgreSQL (common.bulk): a routing batch appends thousands of rows here.
        actor_id = actor.pk if getattr(actor, "pk", None) else None
        model_rows_insert(
            model=InventoryMovement,
            rows=[
                {
                    "product_id": c.product_id,
                    "location_id": c.location_id,
                    "delta_on_hand": c.delta_on_hand,
                    "delta_reserved": c.delta_reserved,
                    "reason": reason,
                    "reference": reference[:200],
                    "actor_id": actor_id,
                }
                for c in changes
                if c.delta_on_hand or c.delta_reserved
            ],
            now=now,
            returning=False,
        )
        stock_levels_changed_send_for_deltas(deltas=merged, levels=existing)
        return [existing[k] for k in keys]


# Rows per statement: well under SQLite's 32k-parameter limit with three or two parameters a row.
_CHUNK = 5000


def _levels_write(*, levels: list[StockLevel], now: datetime) -> None:
    """One UPDATE … FROM a VALUES list per chunk (PostgreSQL and SQLite ≥ 3.33 both support it)."""
    with connection.cursor() as cur:
        for i in range(0, len(levels), _CHUNK):
            chunk = levels[i : i + _CHUNK]
            cte, params = values_cte(
                rows=[(lv.pk, lv.on_hand, lv.reserved) for lv in chunk], columns=("id", "on_hand", "reserved")
            )
            cur.execute(
                f"{cte} UPDATE inventory_stocklevel SET on_hand = v.on_hand, reserved = v.reserved, updated_at = %s "
                "FROM v WHERE inventory_stocklevel.id = v.id",
                [*params, now],
            )


def _refuse_unknown_keys(keys: list[tuple[int, int]]) -> None:
    """Refuse new stock rows for products or locations that do not exist (StockLevel has no database FK
    checks: they cost too much on bulk loads, so the services check the ids they are about to create)."""
    products = {p for p, _ in keys}
    locations = {loc for _, loc in keys}
    unknown_p = products - set(Product.objects.filter(pk__in=products).values_list("pk", flat=True))
    unknown_l = locations - set(Location.objects.filter(pk__in=locations).values_list("pk", flat=True))
    if unknown_p or unknown_l:
        raise ValidationError(
            "Unknown "
            + "; ".join(
                f"{what} id(s) {', '.join(map(str, sorted(ids)[:10]))}"
                for what, ids in (("product", unknown_p), ("location", unknown_l))
                if ids
            )
            + ": no stock was changed."
        )


def _lock_levels(keys: list[tuple[int, int]]) -> dict[tuple[int, int], StockLevel]:
    """Read (and on PostgreSQL lock, in primary-key order) the stock rows of these product × location keys."""
    found: dict[tuple[int, int], StockLevel] = {}
    lock = " FOR UPDATE OF s" if connection.features.has_select_for_update_of else ""
    with connection.cursor() as cur:
        for i in range(0, len(keys), _CHUNK):
            cte, params = values_cte(rows=keys[i : i + _CHUNK], columns=("p", "l"))
            cur.execute(
                f"{cte} SELECT s.id, s.product_id, s.location_id, s.on_hand, s.reserved FROM inventory_stocklevel s "
                f"JOIN v ON s.product_id = v.p AND s.location_id = v.l ORDER BY s.id{lock}",
                params,
            )
            for pk, pid, lid, on_hand, reserved in cur.fetchall():
                found[(pid, lid)] = StockLevel(
                    pk=pk, product_id=pid, location_id=lid, on_hand=on_hand, reserved=reserved
                )
    return found


def stock_adjust(
    *,
    product: Product,
    location: Location,
    delta: int,
    reason: str = Reason.ADJUST,
    reference: str = "",
    actor: AbstractBaseUser | None = None,
) -> StockLevel:
    """Add (or remove, with a negative delta) units on hand, with a reason for the ledger."""
    if delta == 0:
        raise ValidationError("An adjustment needs a non-zero quantity.")
    return stock_apply_changes(
        changes=[StockChange(product.pk, location.pk, delta_on_hand=delta)],
        reason=reason,
        reference=reference,
        actor=actor,
    )[0]


def stock_receive(
    *, product: Product, location: Location, quantity: int, reference: str = "", actor: AbstractBaseUser | None = None
) -> StockLevel:
    """Units arrived at a location (purchase order, transfer, return to stock)."""
    if quantity <= 0:
        raise ValidationError(f"Received quantity for SKU {product.sku} must be positive, got {quantity}.")
    return stock_adjust(
        product=product, location=location, delta=quantity, reason=Reason.RECEIVE, reference=reference, actor=actor
    )


def stock_set_on_hand(
    *,
    product: Product,
    location: Location,
    on_hand: int,
    reason: str = Reason.COUNT,
    reference: str = "",
    actor: AbstractBaseUser | None = None,
) -> StockLevel:
    """Set on_hand absolutely (a count or a snapshot); reserved stays as it was."""
    if on_hand < 0:
        raise ValidationError(f"On hand for SKU {product.sku} at {location.code} cannot be negative.")
    with transaction.atomic():
        current = _lock_levels([(product.pk, location.pk)]).get((product.pk, location.pk))
        delta = on_hand - (current.on_hand if current else 0)
        if delta == 0 and current:
            return current
        return stock_apply_changes(
            changes=[StockChange(product.pk, location.pk, delta_on_hand=delta)],
            reason=reason,
            reference=reference,
            actor=actor,
        )[0]


def location_settings_set(
    *, location: Location, daily_capacity: int | None = None, sell_online: bool | None = None
) -> Location:
    """Change a location's daily capacity and/or whether it sells online. Saved through the model, so the
    post_save signal fires and every process's cached routing network is rebuilt on its next routing."""
    if daily_capacity is not None and daily_capacity < 0:
        raise ValidationError({"daily_capacity": "Capacity cannot be negative."})
    with transaction.atomic():
        loc = Location.objects.select_for_update().get(pk=location.pk)
        changed = []
        for name, value in (("daily_capacity", daily_capacity), ("sell_online", sell_online)):
            if value is not None and getattr(loc, name) != value:
                setattr(loc, name, value)
                setattr(location, name, value)
                changed.append(name)
        if changed:
            loc.save(update_fields=changed)
        return loc


def location_safety_stock_set(*, location: Location, quantity: int, note: str = "") -> None:
    """The location-wide safety-stock rule (every product): `quantity` units held back from online orders;
    0 removes the rule."""
    if quantity < 0:
        raise ValidationError({"quantity": "Safety stock cannot be negative."})
    rule = SafetyStockRule.objects.filter(product=None, location=location, location_kind="").first()
    if quantity > 0:
        if rule is None:
            SafetyStockRule.objects.create(location=location, quantity=quantity, note=note)
        else:
            rule.quantity, rule.note = quantity, note
            rule.save(update_fields=["quantity", "note"])
    elif rule is not None:
        rule.delete()
