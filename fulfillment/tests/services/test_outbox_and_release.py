"""Outbox delivery (retries, backoff, exactly-once acceptance), consolidation, 3PL confirmations."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from bench.factories import level, make_fo, make_order
from fulfillment.models import Endpoint, FulfillmentOrder, OutboxMessage
from fulfillment.services import (
    fulfillment_event_apply,
    fulfillment_order_release,
    fulfillment_order_release_now,
    fulfillment_orders_release_due,
    outbox_deliver_due,
    outbox_message_add,
    outbox_message_deliver,
)
from fulfillment.tests.httpstub import endpoint
from inventory.tests.helpers import assert_ledger_matches_levels

pytestmark = pytest.mark.django_db
S = FulfillmentOrder.Status


def test_endpoint_fails_twice_then_succeeds_and_is_delivered_exactly_once(
    dc, settings, django_capture_on_commit_callbacks
):
    settings.DOM = {**settings.DOM, "OUTBOX_BACKOFF_SECONDS": 30}
    with endpoint(fail_first=2) as (url, state):
        Endpoint.objects.create(location=dc, url=url)
        with django_capture_on_commit_callbacks(execute=True):  # the first attempt runs on commit
            msg = outbox_message_add(kind="test", location=dc, key="k-1", payload={"n": 1})
        msg.refresh_from_db()
        assert (msg.status, msg.attempts, "HTTP 503" in msg.last_error) == ("pending", 1, True)
        first_retry = msg.next_attempt_at
        assert outbox_deliver_due(now=timezone.now()) == 0  # not due yet: backoff
        assert outbox_deliver_due(now=first_retry + timedelta(seconds=1)) == 0  # second failure
        msg.refresh_from_db()
        assert msg.attempts == 2 and msg.next_attempt_at - first_retry >= timedelta(seconds=59)  # doubled
        assert outbox_deliver_due(now=msg.next_attempt_at + timedelta(seconds=1)) == 1
        for _ in range(3):  # the sweeper and a duplicate task run again: nothing more is sent
            outbox_deliver_due(now=timezone.now() + timedelta(days=1))
            outbox_message_deliver(message_id=msg.pk, now=timezone.now() + timedelta(days=1))
        msg.refresh_from_db()
        assert msg.status == "delivered" and msg.attempts == 3
        assert state["requests"] == ["k-1", "k-1", "k-1"]
        assert [k for k, _ in state["accepted"]] == ["k-1"]
        assert state["accepted"][0][1]["payload"] == {"n": 1}
        # The same key added again is the same message (idempotent), not a second delivery.
        assert outbox_message_add(kind="test", location=dc, key="k-1", payload={"n": 2}).pk == msg.pk


def test_gives_up_after_max_attempts(dc, settings):
    settings.DOM = {**settings.DOM, "OUTBOX_MAX_ATTEMPTS": 2, "OUTBOX_BACKOFF_SECONDS": 0}
    msg = outbox_message_add(kind="test", location=dc, key="k-none", payload={})
    outbox_message_deliver(message_id=msg.pk)
    msg = outbox_message_deliver(message_id=msg.pk, now=timezone.now() + timedelta(seconds=1))
    assert msg.status == "failed" and "No active endpoint configured for DC-EAST" in msg.last_error


def test_file_drop_and_email_endpoints(dc, tmp_path, web, product, settings):
    Endpoint.objects.create(location=dc, url=f"file://{tmp_path}/drop")
    msg = outbox_message_add(kind="test", location=dc, key="release:1-2", payload={"a": 1})
    assert outbox_message_deliver(message_id=msg.pk).status == "delivered"
    assert (tmp_path / "drop" / "release_1-2.json").read_text().count('"release:1-2"') == 1
    Endpoint.objects.filter(location=dc).update(url="mailto:orders@supplier.example")
    msg = outbox_message_add(
        kind="purchase_order",
        location=dc,
        key="po:PO-1",
        payload={
            "purchase_order": "PO-1",
            "order": "W1",
            "currency": "USD",
            "lines": [{"sku": "SKU-A", "supplier_sku": "S-A", "quantity": 2, "unit_cost": "3.00"}],
        },
    )
    assert outbox_message_deliver(message_id=msg.pk).status == "delivered"
    sent = mail.outbox[-1]
    assert sent.to == ["orders@supplier.example"]
    name, content, mimetype = sent.attachments[0]
    assert name == "PO-1.csv" and "PO-1,W1,SKU-A,S-A,2,3.00,USD" in content


def test_consolidation_holds_and_releases_same_customer_together(web, dc, product, product_b, stocked, settings):
    settings.DOM = {**settings.DOM, "CONSOLIDATION_MINUTES": 30}
    fo1 = make_fo(order=make_order(channel=web, lines=[(product, 1)]), location=dc)
    fo2 = make_fo(order=make_order(channel=web, lines=[(product_b, 1)]), location=dc)
    other = make_fo(order=make_order(channel=web, lines=[(product, 1)], email="zed@example.com"), location=dc)
    now = timezone.now()
    assert fulfillment_orders_release_due(now=now) == 0
    fo1.refresh_from_db()
    assert fo1.status == S.CREATED and fo1.hold_until and fo1.hold_until > now
    assert fulfillment_orders_release_due(now=now + timedelta(minutes=31)) == 3
    for fo in (fo1, fo2, other):
        fo.refresh_from_db()
        assert fo.status == S.RELEASED
    together = OutboxMessage.objects.get(idempotency_key=f"release:{fo1.pk}-{fo2.pk}")
    assert together.payload["consolidated"] is True
    assert [f["fulfillment_order"] for f in together.payload["fulfillment_orders"]] == [fo1.pk, fo2.pk]
    assert OutboxMessage.objects.filter(idempotency_key=f"release:{other.pk}").exists()
    assert fulfillment_orders_release_due(now=now + timedelta(minutes=40)) == 0  # idempotent
    assert OutboxMessage.objects.count() == 2


def test_high_priority_goes_at_once_and_takes_held_siblings(web, dc, product, product_b, stocked, settings):
    settings.DOM = {**settings.DOM, "CONSOLIDATION_MINUTES": 30, "HIGH_PRIORITY": 10}
    held = make_fo(order=make_order(channel=web, lines=[(product, 1)]), location=dc)
    fulfillment_order_release(fo_id=held.pk)
    held.refresh_from_db()
    assert held.status == S.CREATED
    urgent = make_fo(order=make_order(channel=web, lines=[(product_b, 1)], priority=10), location=dc)
    fulfillment_order_release(fo_id=urgent.pk)
    held.refresh_from_db()
    urgent.refresh_from_db()
    assert held.status == urgent.status == S.RELEASED
    assert OutboxMessage.objects.get().idempotency_key == f"release:{held.pk}-{urgent.pk}"


def test_3pl_events_apply_once_and_refuse_what_does_not_fit(dc_fo, product, dc):
    fulfillment_order_release_now(fo_id=dc_fo.pk)
    fo, dup = fulfillment_event_apply(fo_id=dc_fo.pk, event_id="e1", type="picked", payload={})
    assert (fo.status, dup) == (S.PICKING, False)
    fo, dup = fulfillment_event_apply(fo_id=dc_fo.pk, event_id="e1", type="picked", payload={})
    assert dup is True
    fo, dup = fulfillment_event_apply(
        fo_id=dc_fo.pk,
        event_id="e2",
        type="shipped",
        payload={"tracking_number": "1ZTRACK", "service": "ups_ground", "carrier": "UPS"},
    )
    assert fo.status == S.SHIPPED and fo.shipments.get().tracking_number == "1ZTRACK"
    assert level(product, dc) == (7, 0)
    # The same shipped event again (a retry): ignored, nothing consumed twice.
    _, dup = fulfillment_event_apply(
        fo_id=dc_fo.pk, event_id="e2", type="shipped", payload={"tracking_number": "1ZTRACK"}
    )
    assert dup is True and level(product, dc) == (7, 0)
    # A different event claiming to ship it again: refused, and not recorded (a fix can be resent).
    with pytest.raises(ValidationError, match="already shipped"):
        fulfillment_event_apply(fo_id=dc_fo.pk, event_id="e3", type="shipped", payload={"tracking_number": "X"})
    assert not fo.events.filter(event_id="e3").exists()
    fo, _ = fulfillment_event_apply(fo_id=dc_fo.pk, event_id="e4", type="delivered", payload={})
    assert fo.status == S.DELIVERED
    with pytest.raises(ValidationError, match="Unknown event type"):
        fulfillment_event_apply(fo_id=dc_fo.pk, event_id="e5", type="exploded", payload={})
    assert_ledger_matches_levels()


def test_3pl_rejection_releases_and_reroutes(dc_fo, product, dc):
    fulfillment_order_release_now(fo_id=dc_fo.pk)
    with pytest.raises(ValidationError, match="Say why"):
        fulfillment_event_apply(fo_id=dc_fo.pk, event_id="r0", type="rejected", payload={})
    fo, _ = fulfillment_event_apply(
        fo_id=dc_fo.pk, event_id="r1", type="rejected", payload={"reason": "stock damaged in flood"}
    )
    assert fo.status == S.REJECTED
    assert level(product, dc) == (10, 0)  # the 3PL's own stock is corrected by its feeds, not here
    assert "stock damaged in flood" in fo.order.events.get(type="fulfillment.lines_waiting").message


def test_partial_3pl_rejection_by_sku(web, dc, product, product_b, stocked):
    fo = make_fo(order=make_order(channel=web, lines=[(product, 2), (product_b, 1)]), location=dc)
    fo, _ = fulfillment_event_apply(
        fo_id=fo.pk,
        event_id="r1",
        type="rejected",
        payload={"reason": "short", "lines": [{"sku": "SKU-A", "quantity": 1}]},
    )
    assert fo.status == S.CREATED
    assert level(product, dc) == (10, 1)
    with pytest.raises(ValidationError, match="SKU 'NOPE' is not in FO"):
        fulfillment_event_apply(
            fo_id=fo.pk,
            event_id="r2",
            type="rejected",
            payload={"reason": "x", "lines": [{"sku": "NOPE", "quantity": 1}]},
        )
