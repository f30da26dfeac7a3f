"""Ship-from-store and warehouse shipping: pack, ship (stock consumed), hand-off, deliver; handling rules;
customs and the commercial invoice; bad transitions."""

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from bench.factories import level, make_fo, make_order, put_stock
from fulfillment.documents import commercial_invoice_pdf, packing_slip_pdf
from fulfillment.models import FulfillmentOrder, Shipment
from fulfillment.services import (
    fulfillment_line_pick,
    fulfillment_order_deliver,
    fulfillment_order_pack,
    fulfillment_order_pick_confirm,
    fulfillment_order_ship,
    shipments_hand_off,
)
from inventory.models import Product, Reservation
from inventory.tests.helpers import assert_ledger_matches_levels

pytestmark = pytest.mark.django_db
S = FulfillmentOrder.Status


def pick_all(fo, actor):
    for ln in fo.lines.all():
        for _ in range(ln.quantity_open):
            fulfillment_line_pick(line_id=ln.pk, delta=1, actor=actor)


def test_ship_from_store_pack_ship_hand_off_deliver(ship_fo_store, store_user, store, product, product_b):
    fo = ship_fo_store
    with pytest.raises(ValidationError, match="Pick or report short every line before packing"):
        fulfillment_order_pack(fo_id=fo.pk, weight_grams=900, actor=store_user)
    pick_all(fo, store_user)
    with pytest.raises(ValidationError, match="weight must be more than 0"):
        fulfillment_order_pack(fo_id=fo.pk, weight_grams=0, actor=store_user)
    shipment = fulfillment_order_pack(
        fo_id=fo.pk, weight_grams=2200, length_cm=30, width_cm=20, height_cm=10, actor=store_user
    )
    fo.refresh_from_db()
    assert fo.status == S.PACKED and shipment.packed_by == store_user
    assert level(product, store) == (10, 1)  # nothing consumed before shipping
    shipped = fulfillment_order_ship(fo_id=fo.pk, service="ups_ground", tracking_number="1Z999", actor=store_user)
    assert shipped.pk == shipment.pk and shipped.tracking_url.endswith("1Z999")
    assert level(product, store) == (9, 0) and level(product_b, store) == (8, 0)
    assert Reservation.objects.get(pk=fo.reservation_id).status == "consumed"
    fo.refresh_from_db()
    fo.order.refresh_from_db()
    assert fo.status == S.SHIPPED and fo.order.status == "shipped"
    assert "tracking 1Z999" in fo.order.events.get(type="fulfillment.shipped").message
    assert shipments_hand_off(shipment_ids=[shipment.pk], location=store, actor=store_user) == 1
    assert shipments_hand_off(shipment_ids=[shipment.pk], location=store, actor=store_user) == 0  # idempotent
    fulfillment_order_deliver(fo_id=fo.pk)
    fo.order.refresh_from_db()
    assert fo.order.status == "delivered"
    assert_ledger_matches_levels()
    assert packing_slip_pdf(shipment=shipment).startswith(b"%PDF")


def test_confirming_an_already_shipped_order_is_refused(dc_fo, product, dc):
    fulfillment_order_ship(fo_id=dc_fo.pk, service="ups_ground", tracking_number="T1")
    with pytest.raises(ValidationError, match=r"already shipped \(tracking T1\)"):
        fulfillment_order_ship(fo_id=dc_fo.pk, service="ups_ground", tracking_number="T2")
    assert level(product, dc) == (7, 0)
    assert Shipment.objects.filter(fulfillment_order=dc_fo).count() == 1


def test_bad_transitions_say_what_is_wrong(pickup_fo, dc_fo, store_user):
    with pytest.raises(ValidationError, match="is a pickup"):
        fulfillment_order_pack(fo_id=pickup_fo.pk, weight_grams=100, actor=store_user)
    with pytest.raises(ValidationError, match="is a pickup"):
        fulfillment_order_ship(fo_id=pickup_fo.pk, service="ups_ground")
    with pytest.raises(ValidationError, match="cannot become delivered"):
        fulfillment_order_deliver(fo_id=dc_fo.pk)
    with pytest.raises(ValidationError, match="Unknown carrier service 'teleport'"):
        fulfillment_order_ship(fo_id=dc_fo.pk, service="teleport")
    with pytest.raises(ValidationError, match="does not exist"):
        fulfillment_order_ship(fo_id=999999, service="ups_ground")


def test_another_store_cannot_pack_ship_or_hand_off(ship_fo_store, store_user, store_b_user, store_b):
    pick_all(ship_fo_store, store_user)
    with pytest.raises(PermissionDenied):
        fulfillment_order_pack(fo_id=ship_fo_store.pk, weight_grams=100, actor=store_b_user)
    sh = fulfillment_order_pack(fo_id=ship_fo_store.pk, weight_grams=100, actor=store_user)
    with pytest.raises(PermissionDenied):
        fulfillment_order_ship(fo_id=ship_fo_store.pk, service="ups_ground", actor=store_b_user)
    fulfillment_order_ship(fo_id=ship_fo_store.pk, service="ups_ground", actor=store_user)
    with pytest.raises(PermissionDenied):
        shipments_hand_off(shipment_ids=[sh.pk], location=store_b, actor=store_b_user)


def _fo_with(web, location, handling_class, **product_kw):
    p = Product.objects.create(
        sku=f"SKU-{handling_class}", name=handling_class, handling_class=handling_class, **product_kw
    )
    put_stock(p, location, 5)
    order = make_order(channel=web, lines=[(p, 1)])
    fo = make_fo(order=order, location=location)
    fulfillment_order_pick_confirm(fo_id=fo.pk)
    return fo


def test_handling_rules_refuse_unsafe_services(web, dc, dc_west):
    chilled = _fo_with(web, dc, "chilled")
    with pytest.raises(ValidationError, match="SKU-chilled is chilled: UPS Ground takes 5 days, at most 2"):
        fulfillment_order_ship(fo_id=chilled.pk, service="ups_ground")
    fulfillment_order_ship(fo_id=chilled.pk, service="ups_2day")
    hazmat = _fo_with(web, dc_west, "hazmat")
    with pytest.raises(ValidationError, match="hazmat and may not go by air"):
        fulfillment_order_ship(fo_id=hazmat.pk, service="ups_next_day")
    fulfillment_order_ship(fo_id=hazmat.pk, service="fedex_ground")
    oversized = _fo_with(web, dc_west, "oversized")
    with pytest.raises(ValidationError, match="oversized and needs an oversized service"):
        fulfillment_order_ship(fo_id=oversized.pk, service="ups_ground")
    fulfillment_order_ship(fo_id=oversized.pk, service="freight_oversized")
    # Frozen goods from a location that cannot hold them are refused whatever the service.
    frozen = _fo_with(web, dc_west, "frozen")
    with pytest.raises(ValidationError, match="DC-WEST cannot handle frozen goods"):
        fulfillment_order_ship(fo_id=frozen.pk, service="regional_cold")


def test_same_day_only_by_local_courier(web, store, product):
    put_stock(product, store, 3)
    order = make_order(channel=web, lines=[(product, 1)], method="same_day")
    fo = make_fo(order=order, location=store, method="same_day")
    fulfillment_order_pick_confirm(fo_id=fo.pk)
    with pytest.raises(ValidationError, match="Same-day orders go by local courier"):
        fulfillment_order_ship(fo_id=fo.pk, service="ups_next_day")
    fulfillment_order_ship(fo_id=fo.pk, service="local_courier")


def test_international_shipment_carries_customs_data_and_invoice(web, dc):
    p = Product.objects.create(sku="SKU-INT", name="Kettle", hs_code="851671", country_of_origin="CN")
    q = Product.objects.create(sku="SKU-NOHS", name="Mystery")
    put_stock(p, dc, 5)
    put_stock(q, dc, 5)
    ca = {"name": "Jo Tremblay", "line1": "1 Rue", "city": "Montreal", "postal_code": "H2X", "country": "CA"}
    order = make_order(channel=web, lines=[(p, 2)], address=ca)
    fo = make_fo(order=order, location=dc)
    sh = fulfillment_order_ship(fo_id=fo.pk, service="ups_2day", tracking_number="INT1")
    assert sh.customs_items == [
        {
            "sku": "SKU-INT",
            "description": "Kettle",
            "hs_code": "851671",
            "origin": "CN",
            "quantity": 2,
            "unit_value": "10.00",
            "value": "20.00",
            "weight_grams": 1000,
        }
    ]
    pdf = commercial_invoice_pdf(shipment=sh)
    assert pdf.startswith(b"%PDF") and len(pdf) > 1000
    bad = make_fo(order=make_order(channel=web, lines=[(q, 1)], address=ca), location=dc)
    with pytest.raises(ValidationError, match="HS code and country of origin for SKU\\(s\\) SKU-NOHS"):
        fulfillment_order_ship(fo_id=bad.pk, service="ups_2day")
    domestic = make_fo(order=make_order(channel=web, lines=[(p, 1)]), location=dc)
    dsh = fulfillment_order_ship(fo_id=domestic.pk, service="ups_ground")
    assert dsh.customs_items == []
    with pytest.raises(ValidationError, match="domestic"):
        commercial_invoice_pdf(shipment=dsh)


def test_partial_ship_keeps_order_partially_shipped(web, dc, store, product, product_b, stocked, store_user):
    order = make_order(channel=web, lines=[(product, 1), (product_b, 1)])
    ol_a, ol_b = order.lines.order_by("line_number")
    fo1 = make_fo(order=order, location=dc, lines=[(ol_a, 1)])
    make_fo(order=order, location=store, lines=[(ol_b, 1)])
    fulfillment_order_ship(fo_id=fo1.pk, service="ups_ground", cost=Decimal("7.10"))
    order.refresh_from_db()
    assert order.status == "partially_shipped"
