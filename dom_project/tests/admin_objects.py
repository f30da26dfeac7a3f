"""One object of every model registered in the admin, for the admin permission matrix: what the matrix
world already holds, plus one made here of each model it lacks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from django.contrib import admin
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone


def _makers(world) -> dict[str, Callable[[], object]]:
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog
    from django_q.models import OrmQ, Schedule, Task
    from django_q.signing import SignedPackage
    from rest_framework.authtoken.models import Token

    from fulfillment.models import (
        Endpoint,
        FulfillmentEvent,
        OutboxMessage,
        PurchaseOrder,
        StoreSettings,
        SupplierItem,
    )
    from inventory.models import (
        ChannelAllocation,
        CycleCount,
        DemandForecast,
        FeedRun,
        LocationClosure,
        LocationGroup,
        Product,
        SafetyStockProposal,
        SafetyStockRule,
        StockImport,
        StockShortage,
        WmsEvent,
        WmsFeed,
    )

    now = timezone.now()
    store, product, feed = world["store"], Product.objects.order_by("pk").first(), WmsFeed.objects.first()
    order = world["order_x"]
    client = {"user_agent": "test", "http_accept": "*/*", "path_info": "/login/", "ip_address": "10.0.0.9"}
    return {
        "admin.logentry": lambda: LogEntry.objects.create(
            user=world["users"]["ops"],
            content_type=ContentType.objects.get_for_model(order),
            object_id=str(order.pk),
            object_repr=str(order),
            action_flag=CHANGE,
            change_message="[]",
        ),
        "axes.accessattempt": lambda: AccessAttempt.objects.create(
            username="someone", get_data="", post_data="", failures_since_start=1, **client
        ),
        "axes.accessfailurelog": lambda: AccessFailureLog.objects.create(username="someone", **client),
        "axes.accesslog": lambda: AccessLog.objects.create(username="someone", **client),
        "django_q.schedule": lambda: Schedule.objects.create(func="math.floor"),
        "django_q.ormq": lambda: OrmQ.objects.create(
            key="default", payload=SignedPackage.dumps({"id": "b" * 32, "name": "queued", "func": "math.floor"})
        ),
        "django_q.success": lambda: Task.objects.create(
            id="c" * 32, name="done", func="math.floor", started=now, stopped=now, success=True
        ),
        "django_q.failure": lambda: Task.objects.create(
            id="d" * 32, name="failed", func="math.floor", started=now, stopped=now, success=False
        ),
        "dom_project.apitoken": lambda: Token.objects.create(user=world["users"]["api_x"]),
        "fulfillment.endpoint": lambda: Endpoint.objects.create(location=store, url="https://wms.example.com/in"),
        "fulfillment.fulfillmentevent": lambda: FulfillmentEvent.objects.create(
            fulfillment_order=world["fo_a"], event_id="ev-1", type="picked"
        ),
        "fulfillment.outboxmessage": lambda: OutboxMessage.objects.create(
            idempotency_key="matrix-1", kind="release", location=store
        ),
        "fulfillment.purchaseorder": lambda: PurchaseOrder.objects.create(
            number="PO-MATRIX", supplier=store, fulfillment_order=world["order_y"].fulfillment_orders.first()
        ),
        "fulfillment.storesettings": lambda: StoreSettings.objects.create(location=store),
        "fulfillment.supplieritem": lambda: SupplierItem.objects.create(supplier=store, product=product, unit_cost=1),
        "inventory.channelallocation": lambda: ChannelAllocation.objects.create(
            channel=order.channel, product=product, value=10
        ),
        "inventory.cyclecount": lambda: CycleCount.objects.create(
            product=product, location=store, counted_quantity=5, system_quantity=5, counted_at=now
        ),
        "inventory.feedrun": lambda: FeedRun.objects.create(feed=feed),
        "inventory.locationgroup": lambda: LocationGroup.objects.create(code="east", name="East"),
        "inventory.locationclosure": lambda: LocationClosure.objects.create(
            location=store, date=date(2026, 3, 2), reason="Inventory day"
        ),
        "inventory.safetystockrule": lambda: SafetyStockRule.objects.create(product=product, quantity=1),
        "inventory.demandforecast": lambda: DemandForecast.objects.create(
            product=product, made_at=timezone.now(), history_days=28, daily_mean=1.0, sigma=0.5, model="AutoETS"
        ),
        "inventory.safetystockproposal": lambda: SafetyStockProposal.objects.create(
            product=product,
            location=store,
            proposed_quantity=3,
            service_level=0.95,
            lead_time_days=7,
            sigma=0.5,
            daily_mean=1.0,
        ),
        "inventory.stockimport": lambda: StockImport.objects.create(file="imports/stock.csv", original_name="s.csv"),
        "inventory.stockshortage": lambda: StockShortage.objects.create(
            product=product, location=store, on_hand=0, reserved=1, detected_at=now
        ),
        "inventory.inboundshipment": lambda: _inbound(store, product),
        "inventory.transferorder": lambda: _transfer(store, world["store_b"], product),
        "inventory.wmsevent": lambda: WmsEvent.objects.create(
            feed=feed,
            event_id="e-1",
            sequence=1,
            product=product,
            location=store,
            type="adjust",
            quantity=1,
            outcome="applied",
        ),
    }


def _inbound(store, product):
    from inventory.inbound import InboundIn, InboundLineIn, inbound_create

    line = InboundLineIn(product.sku, 5, timezone.localdate())
    return inbound_create(data=InboundIn(number="PO-IN-1", supplier="Acme", location_code=store.code, lines=[line]))


def _transfer(store, store_b, product):
    from inventory.transfers import TransferLineIn, transfer_create

    return transfer_create(
        source_code=store.code,
        destination_code=store_b.code,
        lines=[TransferLineIn(product.sku, 1)],
        expected_date=timezone.localdate(),
    )


def admin_objects_ensure(*, world) -> dict:
    """model label -> one object of each model registered in the admin (made when the world has none)."""
    makers = _makers(world)
    out = {}
    for model in admin.site._registry:
        label = model._meta.label_lower
        obj = model._default_manager.order_by("pk").first()
        if obj is None and label in makers:
            makers[label]()
            obj = model._default_manager.order_by("pk").first()
        out[label] = obj
    missing = sorted(label for label, obj in out.items() if obj is None)
    assert not missing, f"the admin matrix has no object of {missing}: add a maker above"
    return out
