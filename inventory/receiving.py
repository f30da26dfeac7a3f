"""Reads for the receiving screen: which locations a user receives at, and what is on its way there."""

from __future__ import annotations

from django.db.models import QuerySet

from common.roles import INVENTORY_MANAGER, OPERATIONS, user_has_role
from inventory.models import InboundShipment, Location, LocationKind, TransferOrder


def receiving_locations_for(*, user) -> QuerySet[Location]:
    """Store staff (and anyone linked to locations) receive only at their own locations; inventory managers
    and Operations without a location of their own receive anywhere; superusers anywhere."""
    receiving = Location.objects.filter(is_active=True).exclude(kind__in=[LocationKind.TRANSIT, LocationKind.DROPSHIP])
    mine = receiving.filter(staff=user)
    if user.is_superuser or (not mine.exists() and user_has_role(user=user, roles=[INVENTORY_MANAGER, OPERATIONS])):
        return receiving.order_by("code")
    return mine.order_by("code")


def receiving_inbound_open(*, location: Location) -> QuerySet[InboundShipment]:
    return (
        InboundShipment.objects.filter(
            location=location, status__in=[InboundShipment.Status.OPEN, InboundShipment.Status.PARTIAL]
        )
        .prefetch_related("lines__product")
        .order_by("created_at", "pk")
    )


def receiving_transfers_open(*, location: Location) -> QuerySet[TransferOrder]:
    return (
        TransferOrder.objects.filter(
            destination=location, status__in=[TransferOrder.Status.IN_TRANSIT, TransferOrder.Status.PARTIAL]
        )
        .select_related("source")
        .prefetch_related("lines__product")
        .order_by("expected_date", "pk")
    )
