"""Ship-to-store, dropship purchase orders, cancellation, store settings (pause, walk-in), same-day."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from bench.factories import level, make_fo, make_order, put_stock
from fulfillment.models import FulfillmentOrder, OutboxMessage, PurchaseOrder, SupplierItem
from fulfillment.receivers import on_order_cancelled
from fulfillment.selectors import same_day_locations
from fulfillment.services import (
    fulfillment_line_pick,
    fulfillment_order_handover,
    fulfillment_order_ready,
    fulfillment_order_ship,
    fulfillment_orders_release_due,
    purchase_order_confirm_shipment,
    purchase_order_create,
    purchase_orders_confirm_csv,
    store_pause_today,
    store_pauses_expire,
    store_resume,
    store_settings_update,
    transfer_receive,
)
from inventory.models import Location, Reservation
from inventory.selectors import ats_for_products
from inventory.tests.helpers import assert_ledger_matches_levels

pytestmark = pytest.mark.django_db
S = FulfillmentOrder.Status


def test_ship_to_store_transfer_received_becomes_pickup(web, dc, store, product, stocked, store_user, store_b_user):
    order = make_order(channel=web, lines=[(product, 2)], method="ship_to_store", pickup_location=store)
    transfer = make_fo(order=order, location=dc, method="transfer")
    with pytest.raises(ValidationError, match="not in transit"):
        transfer_receive(fo_id=transfer.pk, actor=store_user)
    fulfillment_order_ship(fo_id=transfer.pk, service="ups_ground", tracking_number="TR1")
    transfer.refresh_from_db()
    order.refresh_from_db()
    assert transfer.status == S.IN_TRANSIT and order.status == "routed"  # a transfer is not the customer's parcel
    assert level(product, dc) == (8, 0)
    with pytest.raises(PermissionDenied, match="STORE-0001"):
        transfer_receive(fo_id=transfer.pk, actor=store_b_user)
    store_settings_update(location=store, walk_in_protection=50)  # must not stop the customer's units
    transfer = transfer_receive(fo_id=transfer.pk, actor=store_user)
    assert transfer.status == S.RECEIVED
    pickup = transfer.pickup_fulfillment_order
    assert (pickup.method, pickup.location, pickup.status) == ("pickup", store, S.CREATED)
    assert level(product, store) == (12, 2)
    assert Reservation.objects.get(pk=pickup.reservation_id).reference == f"order:{order.pk}"
    order.refresh_from_db()
    assert order.status == "routed"  # not closed before handover
    line = pickup.lines.get()
    fulfillment_line_pick(line_id=line.pk, delta=2, actor=store_user)
    ready = fulfillment_order_ready(fo_id=pickup.pk, actor=store_user)
    fulfillment_order_handover(fo_id=pickup.pk, code=ready.pickup_code, actor=store_user)
    order.refresh_from_db()
    assert order.status == "delivered" and level(product, store) == (10, 0)
    assert_ledger_matches_levels()


@pytest.fixture
def supplier(db):
    return Location.objects.create(code="SUP-1", name="Supplier", kind="dropship", postal_code="49503")


def test_dropship_purchase_order_sent_and_confirmed_by_csv(web, supplier, product, product_b, settings):
    put_stock(product, supplier, 5)
    put_stock(product_b, supplier, 5)
    order = make_order(channel=web, lines=[(product, 2), (product_b, 1)])
    fo = make_fo(order=order, location=supplier, method="dropship")
    SupplierItem.objects.create(supplier=supplier, product=product, unit_cost=Decimal("3.50"), supplier_sku="S-A")
    with pytest.raises(ValidationError, match="No supplier cost at SUP-1 for SKU\\(s\\) SKU-B"):
        purchase_order_create(fo_id=fo.pk)
    SupplierItem.objects.create(supplier=supplier, product=product_b, unit_cost=Decimal("10"))
    assert fulfillment_orders_release_due() == 1
    po = PurchaseOrder.objects.get(fulfillment_order=fo)
    assert po.total_cost == Decimal("17.00") and po.status == "sent"
    assert purchase_order_create(fo_id=fo.pk).pk == po.pk  # idempotent
    msg = OutboxMessage.objects.get(idempotency_key=f"po:{po.number}")
    assert msg.kind == "purchase_order" and len(msg.payload["lines"]) == 2
    bad = "purchase_order,tracking_number,carrier,service\nPO-NOPE,T1,UPS,ups_ground\n" + f"{po.number},,UPS,teleport\n"
    with pytest.raises(ValidationError) as exc:
        purchase_orders_confirm_csv(text=bad)
    assert exc.value.messages == [
        "Row 2: purchase_order 'PO-NOPE' is unknown.",
        "Row 3: tracking_number is empty.",
        "Row 3: service 'teleport' is unknown.",
    ]
    po.refresh_from_db()
    assert po.status == "sent"
    good = f"purchase_order,tracking_number,carrier,service\n{po.number},SUPTRACK,UPS,ups_ground\n"
    [shipment] = purchase_orders_confirm_csv(text=good)
    po.refresh_from_db()
    fo.refresh_from_db()
    assert (po.status, fo.status, shipment.tracking_number) == ("shipped", S.SHIPPED, "SUPTRACK")
    assert level(product, supplier) == (3, 0)
    with pytest.raises(ValidationError, match="already confirmed"):
        purchase_order_confirm_shipment(po_number=po.number, tracking_number="again")


def test_cancelled_order_stops_open_work_and_tells_the_supplier(web, supplier, store, product, stocked, store_user):
    put_stock(product, supplier, 5)
    SupplierItem.objects.create(supplier=supplier, product=product, unit_cost=Decimal("1"))
    order = make_order(channel=web, lines=[(product, 1), (product, 1)])
    ol1, ol2 = order.lines.order_by("line_number")
    at_store = make_fo(order=order, location=store, lines=[(ol1, 1)])
    drop = make_fo(order=order, location=supplier, method="dropship", lines=[(ol2, 1)])
    purchase_order_create(fo_id=drop.pk)
    on_order_cancelled(sender=None, order=order, actor=None)
    at_store.refresh_from_db()
    drop.refresh_from_db()
    assert at_store.status == drop.status == S.CANCELLED
    assert level(product, store) == (10, 0) and level(product, supplier) == (5, 0)
    assert PurchaseOrder.objects.get().status == "cancelled"
    assert OutboxMessage.objects.filter(kind="purchase_order.cancel").count() == 1
    on_order_cancelled(sender=None, order=order, actor=None)  # twice: no change
    assert OutboxMessage.objects.filter(kind="purchase_order.cancel").count() == 1


def test_pause_today_sets_capacity_to_zero_until_the_next_local_day(store):
    store_pause_today(location=store)
    store_pause_today(location=store)  # twice: the saved capacity stays the real one
    store.refresh_from_db()
    assert store.daily_capacity == 0 and store.store_settings.paused_capacity == 40
    assert store_pauses_expire(now=timezone.now()) == 0
    assert store_pauses_expire(now=timezone.now() + timedelta(days=1)) == 1
    store.refresh_from_db()
    assert store.daily_capacity == 40 and store.store_settings.paused_on is None
    store_pause_today(location=store)
    store_resume(location=store)
    store.refresh_from_db()
    assert store.daily_capacity == 40


def test_walk_in_protection_holds_units_back_from_online(web, store, product, stocked):
    before = {
        la.location_id: la.available
        for la in ats_for_products(product_ids=[product.pk], channel=web)[product.pk].locations
    }
    store_settings_update(location=store, walk_in_protection=4)
    after = {
        la.location_id: la.available
        for la in ats_for_products(product_ids=[product.pk], channel=web)[product.pk].locations
    }
    assert after[store.pk] == before[store.pk] - 4
    store_settings_update(location=store, walk_in_protection=0)
    again = {
        la.location_id: la.available
        for la in ats_for_products(product_ids=[product.pk], channel=web)[product.pk].locations
    }
    assert again == before
    with pytest.raises(ValidationError, match="cannot be negative"):
        store_settings_update(location=store, walk_in_protection=-1)


def test_same_day_locations_within_radius_and_before_cutoff(store, store_b, dc_west):
    Location.objects.filter(pk__in=[store.pk, store_b.pk, dc_west.pk]).update(can_same_day=True, cutoff_time="15:00")
    morning = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)  # 09:00 in New York
    found = [(loc.code, km) for loc, km in same_day_locations(postal_code="10001", now=morning)]
    assert [c for c, _ in found] == ["STORE-0001", "STORE-0002"]  # DC-WEST is across the country
    evening = datetime(2026, 11, 25, 21, 0, tzinfo=UTC)  # 16:00 in New York, past cut-off
    assert same_day_locations(postal_code="10001", now=evening) == []
