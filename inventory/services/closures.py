"""Days a location is closed (a stock count, a move): routing offers its next open day instead. Saved through
the model, so every process's cached routing network is rebuilt on its next routing."""

from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction

from inventory.models import Location, LocationClosure


def location_closure_set(*, location: Location, day: date, reason: str) -> LocationClosure:
    """Close `location` on `day` (or change the reason of a closure that exists)."""
    if not isinstance(day, date):
        raise ValidationError({"day": ["A date is required."]})
    reason = (reason or "").strip()
    if len(reason) > 200:
        raise ValidationError({"reason": ["At most 200 characters."]})
    with transaction.atomic():
        closure, created = LocationClosure.objects.get_or_create(
            location=location, date=day, defaults={"reason": reason}
        )
        if not created and closure.reason != reason:
            closure.reason = reason
            closure.save(update_fields=["reason"])
    return closure


def location_closure_remove(*, location: Location, day: date) -> bool:
    """Open `location` again on `day`; False when it was not closed then."""
    closures = LocationClosure.objects.filter(location=location, date=day)
    found = False
    for closure in closures:  # deleted one by one so the post_delete signal refreshes routing's network
        closure.delete()
        found = True
    return found
