"""The main screens of each role in the seeded demo, by name: what the screenshots (`demo_screenshots`) show and
what the accessibility scan (dom_project/tests/test_accessibility_browser.py) checks. Store screens at phone
width, the others at laptop width."""

from __future__ import annotations

from dataclasses import dataclass

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1366, "height": 900}


@dataclass(frozen=True)
class Screen:
    name: str  # also the PNG's name in docs/screens/
    username: str
    path: str
    phone: bool = False
    title: str = ""

    @property
    def viewport(self) -> dict:
        return PHONE if self.phone else LAPTOP


def demo_screens() -> list[Screen]:
    """Every main screen, its URL read from the demo data (the ids differ from one seed to another)."""
    from fulfillment.models import FulfillmentOrder
    from orders.models import Order
    from routing.editor.models import Simulation
    from routing.models import RuleSetVersion

    store_fos = FulfillmentOrder.objects.filter(location__code="STORE-0001").order_by("pk")
    picking = store_fos.filter(status__in=["picking", "created"]).order_by("-status", "pk").first()
    ready = store_fos.filter(status="ready_for_pickup").first()
    draft = RuleSetVersion.objects.filter(rule_set__is_active=True, status="draft").first()
    simulation = Simulation.objects.filter(status="done").order_by("-pk").first()
    order = (
        Order.objects.filter(status__in=["partially_returned", "delivered"], fulfillment_orders__isnull=False)
        .order_by("-placed_at")
        .first()
    )
    screens = [
        Screen("demo-store-queue-phone", "store", "/fulfillment/store/", phone=True, title="Store queue"),
        Screen(
            "demo-store-handover-phone", "store", "/fulfillment/store/handover/", phone=True, title="Pickup handover"
        ),
        Screen("demo-store-returns-phone", "store", "/returns/", phone=True, title="Store returns"),
        Screen("demo-merchandiser-rules", "merch", "/routing/rules/", title="Routing rules"),
        Screen("demo-inventory-feeds", "inventory", "/inventory/feeds/", title="WMS feeds"),
        Screen("demo-inventory-imports", "inventory", "/inventory/imports/", title="Stock imports"),
        Screen("demo-inventory-accuracy", "inventory", "/inventory/accuracy/", title="Inventory accuracy"),
        Screen(
            "demo-inventory-safety-stock-phone",
            "inventory",
            "/inventory/safety-stock/",
            phone=True,
            title="Safety stock proposals",
        ),
        Screen("demo-operations-orders", "ops", "/orders/", title="Orders"),
        Screen("demo-operations-holds", "ops", "/orders/holds/", title="Holds queue"),
        Screen("demo-operations-dashboard", "ops", "/dashboard/", title="Performance dashboard"),
        Screen("demo-operations-webhooks", "ops", "/webhooks/", title="Webhooks"),
    ]
    if picking:
        screens.insert(
            1,
            Screen(
                "demo-store-pick-phone", "store", f"/fulfillment/store/orders/{picking.pk}/", phone=True, title="Pick"
            ),
        )
    if ready:
        screens.insert(
            2,
            Screen(
                "demo-store-ready-phone",
                "store",
                f"/fulfillment/store/orders/{ready.pk}/",
                phone=True,
                title="Ready for pickup",
            ),
        )
    if draft:
        screens.append(
            Screen(
                "demo-merchandiser-editor", "merch", f"/routing/rules/versions/{draft.pk}/", title="Rule editor (draft)"
            )
        )
        screens.append(
            Screen(
                "demo-merchandiser-history",
                "merch",
                f"/routing/rules/sets/{draft.rule_set_id}/history/",
                title="Rule set history",
            )
        )
    if simulation:
        screens.append(
            Screen(
                "demo-merchandiser-simulation",
                "merch",
                f"/routing/rules/simulations/{simulation.pk}/",
                title="Simulation",
            )
        )
    if order:
        screens.append(Screen("demo-operations-order", "ops", f"/orders/{order.pk}/", title="Order page"))
    return screens
