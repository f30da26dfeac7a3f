"""Customer profile changes by Operations: loyalty tier and preferred pickup store.

The tier feeds order priority (`orders.checks.priority_score`): orders still waiting for routing take the
new tier at the next `order_priorities_refresh`. The preferred store ranks first among pickup suggestions
(`inventory.selectors.pickup_stores_near`). Every change is kept in the audit log with who made it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from auditlog.models import LogEntry
from django.core.exceptions import ValidationError
from django.db import transaction

from inventory.models import Location, LocationKind
from orders.models import Customer

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


def _preferred_store(code: str) -> Location | None:
    code = (code or "").strip()
    if not code:
        return None
    store = Location.objects.filter(code=code[:40], kind=LocationKind.STORE, is_active=True).first()
    if store is None:
        raise ValidationError({"preferred_store": f"{code[:40]!r} is not an open store."})
    if not store.can_pickup:
        raise ValidationError({"preferred_store": f"{store.name} does not offer pickup."})
    return store


def customer_profile_update(
    *, customer_id: int, tier: str, preferred_store_code: str, actor: AbstractBaseUser | None = None
) -> list[str]:
    """Set a customer's tier and preferred store (a store code, "" for none); returns what changed, in
    words, and writes one audit-log entry for the change (nothing when nothing changed)."""
    if tier not in Customer.Tier.values:
        raise ValidationError({"tier": f"Choose one of: {', '.join(Customer.Tier.labels)}."})
    store = _preferred_store(preferred_store_code)
    with transaction.atomic():
        customer = (
            Customer.objects.select_for_update(of=("self",)).select_related("preferred_store").get(pk=customer_id)
        )
        changes: dict[str, list[str]] = {}
        words = []
        if customer.loyalty_tier != tier:
            old = customer.get_loyalty_tier_display()
            changes["loyalty_tier"] = [customer.loyalty_tier, tier]
            customer.loyalty_tier = tier
            words.append(f"Tier {old} → {customer.get_loyalty_tier_display()}.")
        if customer.preferred_store_id != (store.pk if store else None):
            old = customer.preferred_store.name if customer.preferred_store else "none"
            changes["preferred_store"] = [
                customer.preferred_store.code if customer.preferred_store else "None",
                store.code if store else "None",
            ]
            customer.preferred_store = store
            words.append(f"Preferred store {old} → {store.name if store else 'none'}.")
        if not changes:
            return []
        customer.save(update_fields=["loyalty_tier", "preferred_store"])
        LogEntry.objects.log_create(
            customer,
            action=LogEntry.Action.UPDATE,
            changes=changes,
            additional_data={"summary": " ".join(words)},
            actor=actor if getattr(actor, "pk", None) else None,
        )
    return words
