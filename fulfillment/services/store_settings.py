"""Store settings: capacity, walk-in protection, pausing a store for the day."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from fulfillment.models import (
    StoreSettings,
)
from fulfillment.services.workflow import _dom
from inventory.models import (
    Location,
)
from inventory.services import (
    location_safety_stock_set,
    location_settings_set,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

WALK_IN_NOTE = "walk-in protection (store settings)"


def store_settings_ensure(*, location: Location) -> StoreSettings:
    """The store's settings row, created with the configured defaults on first use."""
    obj, _ = StoreSettings.objects.get_or_create(
        location=location,
        defaults={
            "pickup_hold_days": _dom("PICKUP_HOLD_DAYS"),
            "reminder_days_before": _dom("PICKUP_REMINDER_DAYS_BEFORE"),
        },
    )
    return obj


def store_settings_update(
    *,
    location: Location,
    actor: AbstractBaseUser | None = None,
    scan_required: bool | None = None,
    allow_partial_rejection: bool | None = None,
    walk_in_protection: int | None = None,
    pickup_hold_days: int | None = None,
    reminder_days_before: int | None = None,
    sell_online: bool | None = None,
) -> StoreSettings:
    """Change a store's settings. Walk-in protection becomes a location-wide safety-stock rule, so every ATS
    read (and therefore routing) holds those units back from online orders."""
    if walk_in_protection is not None and walk_in_protection < 0:
        raise ValidationError({"walk_in_protection": "Walk-in protection cannot be negative."})
    if pickup_hold_days is not None and pickup_hold_days < 1:
        raise ValidationError({"pickup_hold_days": "Customers need at least 1 day to collect."})
    with transaction.atomic():
        st = store_settings_ensure(location=location)
        st = StoreSettings.objects.select_for_update().get(pk=st.pk)
        for name, value in [
            ("scan_required", scan_required),
            ("allow_partial_rejection", allow_partial_rejection),
            ("walk_in_protection", walk_in_protection),
            ("pickup_hold_days", pickup_hold_days),
            ("reminder_days_before", reminder_days_before),
        ]:
            if value is not None:
                setattr(st, name, value)
        st.save()
        if walk_in_protection is not None:
            location_safety_stock_set(location=location, quantity=walk_in_protection, note=WALK_IN_NOTE)
        if sell_online is not None:
            location_settings_set(location=location, sell_online=sell_online)
        return st


def _local_today(location: Location, now: datetime | None = None):
    return (now or timezone.now()).astimezone(ZoneInfo(location.timezone)).date()


def store_pause_today(
    *, location: Location, actor: AbstractBaseUser | None = None, now: datetime | None = None
) -> StoreSettings:
    """No new online work at this store for the rest of its local day: capacity goes to 0 (routing skips a
    location without capacity), today's capacity row (if routing opened one) is closed at what it has
    already taken, and every process's cached network is invalidated; what is already queued stays.
    Idempotent."""
    from routing.services import location_capacity_day_set

    with transaction.atomic():
        st = store_settings_ensure(location=location)
        st = StoreSettings.objects.select_for_update().get(pk=st.pk)
        loc = Location.objects.select_for_update().get(pk=location.pk)
        if st.paused_on is None:
            st.paused_capacity = loc.daily_capacity
        st.paused_on = _local_today(loc, now)
        st.save()
        location_settings_set(location=location, daily_capacity=0)
        location_capacity_day_set(location_id=location.pk, day=st.paused_on, capacity=0)
        return st


def store_resume(*, location: Location, actor: AbstractBaseUser | None = None) -> StoreSettings:
    """End a pause: the capacity saved when pausing comes back (on the location and on the paused day's
    capacity row). Idempotent."""
    from routing.services import location_capacity_day_set

    with transaction.atomic():
        st = store_settings_ensure(location=location)
        st = StoreSettings.objects.select_for_update().get(pk=st.pk)
        if st.paused_on is None:
            return st
        capacity = st.paused_capacity or 0
        location_settings_set(location=location, daily_capacity=capacity)
        location_capacity_day_set(location_id=location.pk, day=st.paused_on, capacity=capacity)
        st.paused_on, st.paused_capacity = None, None
        st.save()
        return st


def store_pauses_expire(*, now: datetime | None = None) -> int:
    """Resume every store whose pause day is over (in the store's time zone). Safe to run any time."""
    count = 0
    for st in StoreSettings.objects.filter(paused_on__isnull=False).select_related("location"):
        if st.paused_on < _local_today(st.location, now):
            store_resume(location=st.location)
            count += 1
    return count
