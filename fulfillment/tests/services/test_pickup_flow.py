"""BOPIS: pick (tap, scan, undo), short pick → release + re-route, ready + email, handover, no-shows."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import OrmQ

from bench.factories import level
from fulfillment.models import FulfillmentOrder, StoreSettings
from fulfillment.services import (
    fulfillment_line_pick,
    fulfillment_line_scan,
    fulfillment_line_short,
    fulfillment_order_handover,
    fulfillment_order_ready,
    fulfillment_order_resend_ready_email,
    pickup_no_shows_expire,
    pickup_reminders_send,
    store_settings_update,
)
from inventory.models import Reservation
from inventory.selectors import ats_for_products
from inventory.tests.helpers import assert_ledger_matches_levels
from notifications.services import messages_send_due

pytestmark = pytest.mark.django_db

S = FulfillmentOrder.Status


def _lines(fo):
    return {ln.order_line.sku: ln for ln in fo.lines.select_related("order_line")}


def pick_all(fo, actor):
    for ln in fo.lines.all():
        for _ in range(ln.quantity_open):
            fulfillment_line_pick(line_id=ln.pk, delta=1, actor=actor)


def test_pick_moves_to_picking_and_records_the_picker(pickup_fo, store_user):
    a = _lines(pickup_fo)["SKU-A"]
    fulfillment_line_pick(line_id=a.pk, delta=1, actor=store_user)
    pickup_fo.refresh_from_db()
    a.refresh_from_db()
    assert (pickup_fo.status, a.quantity_picked, pickup_fo.picked_by) == (S.PICKING, 1, store_user)
    fulfillment_line_pick(line_id=a.pk, delta=-1, actor=store_user)  # undo
    a.refresh_from_db()
    assert a.quantity_picked == 0
    with pytest.raises(ValidationError, match="nothing picked to undo"):
        fulfillment_line_pick(line_id=a.pk, delta=-1, actor=store_user)
    fulfillment_line_pick(line_id=a.pk, delta=1, actor=store_user)
    fulfillment_line_pick(line_id=a.pk, delta=1, actor=store_user)
    with pytest.raises(ValidationError, match="all 2 already picked"):
        fulfillment_line_pick(line_id=a.pk, delta=1, actor=store_user)


def test_scan_feedback_scanned_already_and_not_in_order(pickup_fo, store_user):
    assert fulfillment_line_scan(fo_id=pickup_fo.pk, code="sku-b", actor=store_user).outcome == "scanned"
    r = fulfillment_line_scan(fo_id=pickup_fo.pk, code="SKU-B", actor=store_user)
    assert r.outcome == "already_scanned" and "already scanned" in r.message
    r = fulfillment_line_scan(fo_id=pickup_fo.pk, code="SKU-ZZZ", actor=store_user)
    assert r.outcome == "not_in_order" and "not in this order" in r.message


def test_scan_required_refuses_taps_but_accepts_scans(pickup_fo, store_user, store):
    store_settings_update(location=store, scan_required=True)
    a = _lines(pickup_fo)["SKU-A"]
    with pytest.raises(ValidationError, match="requires scanning"):
        fulfillment_line_pick(line_id=a.pk, delta=1, actor=store_user)
    assert fulfillment_line_scan(fo_id=pickup_fo.pk, code="SKU-A", actor=store_user).outcome == "scanned"


def test_short_pick_releases_records_and_enqueues_reroute(
    pickup_fo, store_user, store, product, monkeypatch, django_capture_on_commit_callbacks
):
    # Queue for real (ORM broker) instead of running inline, so the enqueued task can be inspected.
    monkeypatch.setattr(Conf, "SYNC", False)
    a = _lines(pickup_fo)["SKU-A"]
    assert level(product, store) == (10, 2)
    with django_capture_on_commit_callbacks(execute=True):
        fulfillment_line_short(line_id=a.pk, quantity=1, reason_code="mismatch", actor=store_user)
    a.refresh_from_db()
    assert (a.quantity_short, a.short_reason) == (1, "mismatch")
    # Released 1 from the reservation, and "mismatch" lowers on hand by the short quantity.
    assert level(product, store) == (9, 1)
    event = pickup_fo.order.events.get(type="fulfillment.lines_waiting")
    assert "Waiting for a new location: SKU-A × 1" in event.message
    tasks = [q.task for q in OrmQ.objects.all()]
    reroute = [t for t in tasks if t["func"] == "routing.tasks.reroute_order"]
    assert len(reroute) == 1
    assert reroute[0]["args"] == (pickup_fo.order_id, {a.order_line_id: 1}, [store.pk], "STORE-0001: mismatch")
    a.order_line.refresh_from_db()
    assert a.order_line.quantity_allocated == 1
    assert_ledger_matches_levels()


@pytest.mark.parametrize(
    "reason,expected",
    [("not_in_stock", (2, 1)), ("mismatch", (9, 1)), ("damaged", (9, 1)), ("avoid_split", (10, 1))],
)
def test_each_reason_has_its_stock_effect(pickup_fo, store_user, store, product, reason, expected):
    a = _lines(pickup_fo)["SKU-A"]
    fulfillment_line_short(line_id=a.pk, quantity=1, reason_code=reason, actor=store_user)
    # not_in_stock: nothing left to sell here (on hand = what is still held for orders).
    on_hand, reserved = level(product, store)
    if reason == "not_in_stock":
        assert (on_hand, reserved) == (1, 1)
    else:
        assert (on_hand, reserved) == expected
    assert_ledger_matches_levels()


def test_short_more_than_open_and_unknown_reason_are_refused(pickup_fo, store_user):
    a = _lines(pickup_fo)["SKU-A"]
    with pytest.raises(ValidationError, match="only 2 left to pick, cannot report 3 short"):
        fulfillment_line_short(line_id=a.pk, quantity=3, reason_code="damaged", actor=store_user)
    with pytest.raises(ValidationError, match="Unknown reason 'lost'"):
        fulfillment_line_short(line_id=a.pk, quantity=1, reason_code="lost", actor=store_user)
    a.refresh_from_db()
    assert a.quantity_short == 0


def test_everything_short_rejects_the_fulfilment_order(pickup_fo, store_user, product, product_b, store):
    for ln in pickup_fo.lines.all():
        fulfillment_line_short(line_id=ln.pk, quantity=ln.quantity, reason_code="avoid_split", actor=store_user)
    pickup_fo.refresh_from_db()
    assert pickup_fo.status == S.REJECTED
    assert level(product, store) == (10, 0) and level(product_b, store) == (10, 0)
    assert Reservation.objects.get(pk=pickup_fo.reservation_id).status == "released"


def test_without_partial_rejection_one_short_line_rejects_the_whole_order(pickup_fo, store_user, store, product_b):
    store_settings_update(location=store, allow_partial_rejection=False)
    a = _lines(pickup_fo)["SKU-A"]
    fulfillment_line_short(line_id=a.pk, quantity=1, reason_code="avoid_split", actor=store_user)
    pickup_fo.refresh_from_db()
    assert pickup_fo.status == S.REJECTED
    assert level(product_b, store) == (10, 0)


def test_ready_needs_every_line_done_and_emails_code_and_date(pickup_fo, store_user):
    with pytest.raises(ValidationError, match="still open"):
        fulfillment_order_ready(fo_id=pickup_fo.pk, actor=store_user)
    pick_all(pickup_fo, store_user)
    fo = fulfillment_order_ready(fo_id=pickup_fo.pk, staging_location="Shelf B2", actor=store_user)
    assert fo.status == S.READY_FOR_PICKUP and len(fo.pickup_code) == 6
    assert fo.pickup_by - fo.ready_at == timedelta(days=3)
    assert messages_send_due() == 1  # queued with the ready event, sent by the e-mail job (notifications)
    assert len(mail.outbox) == 1
    msg = mail.outbox[0]
    assert msg.to == ["ann@example.com"]
    assert fo.pickup_code in msg.body and "collect it by" in msg.body
    fulfillment_order_resend_ready_email(fo_id=fo.pk, actor=store_user)
    assert messages_send_due() == 1
    assert len(mail.outbox) == 2


def test_failed_email_keeps_order_ready_and_says_so(pickup_fo, store_user, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 1
    settings.DOM = {**settings.DOM, "OUTBOX_MAX_ATTEMPTS": 1}
    pick_all(pickup_fo, store_user)
    fo = fulfillment_order_ready(fo_id=pickup_fo.pk, actor=store_user)
    assert fo.status == S.READY_FOR_PICKUP
    assert messages_send_due() == 0
    fo.refresh_from_db()
    assert fo.status == S.READY_FOR_PICKUP
    failed = fo.order.events.get(type="fulfillment.email_failed")
    assert "not sent" in failed.message


def test_handover_checks_code_consumes_stock_and_cancels_the_rest(pickup_fo, store_user, product, product_b, store):
    pick_all(pickup_fo, store_user)
    fo = fulfillment_order_ready(fo_id=pickup_fo.pk, actor=store_user)
    a, b = _lines(fo)["SKU-A"], _lines(fo)["SKU-B"]
    with pytest.raises(ValidationError, match="pickup code does not match"):
        fulfillment_order_handover(fo_id=fo.pk, code="WRONG1", actor=store_user)
    fo = fulfillment_order_handover(
        fo_id=fo.pk,
        code=fo.pickup_code.lower(),
        quantities={a.pk: 1, b.pk: 1},
        collected_by_name="Bob Smith",
        collected_relation="spouse",
        collected_id_type="driving licence",
        actor=store_user,
    )
    assert fo.status == S.PICKED_UP and fo.handed_over_by == store_user
    # SKU-A: 1 handed over (consumed), 1 not taken (released); SKU-B: 1 consumed.
    assert level(product, store) == (9, 0)
    assert level(product_b, store) == (9, 0)
    a.refresh_from_db()
    assert (a.quantity_shipped, a.quantity_cancelled) == (1, 1)
    a.order_line.refresh_from_db()
    assert (a.order_line.quantity_shipped, a.order_line.quantity_cancelled) == (1, 1)
    fo.order.refresh_from_db()
    assert fo.order.status == "delivered"
    ev = fo.order.events.get(type="fulfillment.picked_up")
    assert "Bob Smith (spouse)" in ev.message and "handed over by clerk" in ev.message
    with pytest.raises(ValidationError, match="not waiting for pickup"):
        fulfillment_order_handover(fo_id=fo.pk, code=fo.pickup_code, actor=store_user)
    assert_ledger_matches_levels()


def test_another_stores_clerk_cannot_act(pickup_fo, store_b_user, store_user):
    a = _lines(pickup_fo)["SKU-A"]
    with pytest.raises(PermissionDenied, match="STORE-0001"):
        fulfillment_line_pick(line_id=a.pk, delta=1, actor=store_b_user)
    with pytest.raises(PermissionDenied):
        fulfillment_line_short(line_id=a.pk, quantity=1, reason_code="damaged", actor=store_b_user)
    with pytest.raises(PermissionDenied):
        fulfillment_line_scan(fo_id=pickup_fo.pk, code="SKU-A", actor=store_b_user)
    pick_all(pickup_fo, store_user)
    with pytest.raises(PermissionDenied):
        fulfillment_order_ready(fo_id=pickup_fo.pk, actor=store_b_user)
    fo = fulfillment_order_ready(fo_id=pickup_fo.pk, actor=store_user)
    with pytest.raises(PermissionDenied):
        fulfillment_order_handover(fo_id=fo.pk, code=fo.pickup_code, actor=store_b_user)
    with pytest.raises(PermissionDenied):
        fulfillment_order_resend_ready_email(fo_id=fo.pk, actor=store_b_user)
    fo.refresh_from_db()
    assert fo.status == S.READY_FOR_PICKUP


def test_reminder_once_then_no_show_releases_stock(pickup_fo, store_user, product, store, web):
    pick_all(pickup_fo, store_user)
    fo = fulfillment_order_ready(fo_id=pickup_fo.pk, actor=store_user)
    mail.outbox.clear()
    assert pickup_reminders_send(now=fo.pickup_by - timedelta(days=2)) == 0  # too early
    assert pickup_reminders_send(now=fo.pickup_by - timedelta(hours=20)) == 1
    assert pickup_reminders_send(now=fo.pickup_by - timedelta(hours=19)) == 0  # idempotent
    assert messages_send_due() == 2  # the ready e-mail and the reminder
    assert len(mail.outbox) == 2 and "Reminder" in mail.outbox[1].subject
    assert pickup_no_shows_expire(now=fo.pickup_by - timedelta(minutes=1)) == 0
    before = ats_for_products(product_ids=[product.pk], channel=web)[product.pk].available
    assert pickup_no_shows_expire(now=fo.pickup_by + timedelta(minutes=1)) == 1
    assert pickup_no_shows_expire(now=fo.pickup_by + timedelta(minutes=2)) == 0  # idempotent
    fo.refresh_from_db()
    assert fo.status == S.EXPIRED and fo.expired_at
    assert level(product, store) == (10, 0)
    assert ats_for_products(product_ids=[product.pk], channel=web)[product.pk].available == before + 2
    fo.order.refresh_from_db()
    assert fo.order.status == "cancelled"
    assert_ledger_matches_levels()


def test_pickup_days_are_configurable_per_store(pickup_fo, store_user, store):
    store_settings_update(location=store, pickup_hold_days=5)
    pick_all(pickup_fo, store_user)
    fo = fulfillment_order_ready(fo_id=pickup_fo.pk, actor=store_user, now=timezone.now())
    assert fo.pickup_by - fo.ready_at == timedelta(days=5)
    assert StoreSettings.objects.get(location=store).pickup_hold_days == 5
