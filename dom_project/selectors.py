"""What each role sees on the landing page. Apps add panels here as they grow."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.urls import reverse

from common.roles import INVENTORY_MANAGER, MERCHANDISER, OPERATIONS, STORE_STAFF, user_has_role
from inventory.models import Location, Reservation
from inventory.selectors import low_stock_products
from orders.models import Order

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


@dataclass
class Panel:
    title: str
    items: list[tuple[str, str | int]] = field(default_factory=list)
    link: str | None = None
    link_text: str = "Open"


def home_panels(*, user: AbstractBaseUser) -> list[Panel]:
    panels: list[Panel] = []
    if user_has_role(user=user, roles=[STORE_STAFF]):
        stores = Location.objects.filter(staff=user) if not user.is_superuser else Location.objects.none()
        for store in stores:
            open_orders = store.fulfillment_orders.exclude(
                status__in=["shipped", "delivered", "picked_up", "cancelled", "rejected", "expired"]
            ).count()
            panels.append(
                Panel(
                    title=f"{store.name} ({store.code})",
                    items=[("Open fulfilment orders", open_orders)],
                    link=reverse("fulfillment:queue") + f"?store={store.code}",
                    link_text="Store queue",
                )
            )
    if user_has_role(user=user, roles=[INVENTORY_MANAGER, OPERATIONS]):
        low = low_stock_products(limit=10)
        panels.append(
            Panel(
                title="Inventory",
                items=[
                    ("Active reservations", Reservation.objects.filter(status="active").count()),
                    ("Products low on stock (first 10)", ", ".join(sku for _, sku, _, _ in low) or "none"),
                ],
                link=reverse("inventory:overview"),
                link_text="Stock overview",
            )
        )
    if user_has_role(user=user, roles=[OPERATIONS]):
        panels.append(
            Panel(
                title="Orders",
                items=[
                    (label, Order.objects.filter(status=status).count())
                    for status, label in [
                        ("on_hold", "On hold"),
                        ("validated", "Waiting to be routed"),
                        ("backordered", "Backordered"),
                        ("routed", "Routed"),
                    ]
                ],
                link=reverse("orders:holds"),
                link_text="Holds queue",
            )
        )
    panels.extend(_returns_panels(user=user))
    if user_has_role(user=user, roles=[MERCHANDISER]):
        panels.append(Panel(title="Routing rules", items=[("Rule sets", "see Routing")], link=reverse("admin:index")))
    return panels


def _returns_panels(*, user: AbstractBaseUser) -> list[Panel]:
    """Returns to receive (store staff: at their stores) and refunds waiting (Operations)."""
    from returns.models import ReturnAuthorization
    from returns.selectors import returns_awaiting, staff_store_ids

    panels = []
    if user_has_role(user=user, roles=[OPERATIONS]):
        panels.append(
            Panel(
                title="Returns",
                items=[
                    ("Expected back", returns_awaiting().count()),
                    (
                        "Refunds pending",
                        ReturnAuthorization.objects.filter(status="inspected", refund_status="pending").count(),
                    ),
                ],
                link=reverse("returns:list"),
                link_text="Returns",
            )
        )
    elif user_has_role(user=user, roles=[STORE_STAFF]):
        panels.append(
            Panel(
                title="Returns",
                items=[
                    ("Expected back at your stores", returns_awaiting(location_ids=staff_store_ids(user=user)).count())
                ],
                link=reverse("returns:receive"),
                link_text="Receive returns",
            )
        )
    return panels
