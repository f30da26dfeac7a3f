"""Customer and operations e-mails: queued with the event in the change's transaction, rendered from the
templates with the order's real data, sent once through Django's mail backend (locmem here)."""

from datetime import timedelta

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from bench.factories import make_fo, make_order, put_stock
from fulfillment.services import (
    fulfillment_line_pick,
    fulfillment_order_ready,
    fulfillment_order_resend_ready_email,
    fulfillment_order_ship,
    pickup_reminders_send,
)
from inventory.services import stock_adjust
from notifications import services
from notifications.models import Message
from notifications.services import (
    _claim,
    _deliver,
    alert_settings_set,
    channel_notification_settings_set,
    message_resend,
    messages_send_due,
)
from orders.services import order_cancel, order_event_add

pytestmark = pytest.mark.django_db


def html_of(msg) -> str:
    (body, mime) = msg.alternatives[0]
    assert mime == "text/html"
    return body


@pytest.fixture
def shipped(web, dc, product, product_b):
    put_stock(product, dc, 10)
    put_stock(product_b, dc, 10)
    order = make_order(channel=web, lines=[(product, 2), (product_b, 1)])
    fo = make_fo(order=order, location=dc)
    fulfillment_order_ship(fo_id=fo.pk, service="ups_ground", tracking_number="1ZTRACK42")
    return order


def ready(fo, actor):
    for ln in fo.lines.all():
        fulfillment_line_pick(line_id=ln.pk, delta=ln.quantity_open, actor=actor)
    return fulfillment_order_ready(fo_id=fo.pk, staging_location="Shelf B2", actor=actor)


def test_shipped_email_with_tracking_link(shipped):
    assert Message.objects.filter(order=shipped, template="shipped").count() == 1
    assert mail.outbox == []  # queued, not sent inside the change
    assert messages_send_due() == 1
    (msg,) = mail.outbox
    assert msg.to == ["ann@example.com"] and shipped.number in msg.subject and "shipped" in msg.subject
    assert "1ZTRACK42" in msg.body and "https://www.ups.com/track?tracknum=1ZTRACK42" in msg.body
    assert 'href="https://www.ups.com/track?tracknum=1ZTRACK42"' in html_of(msg)
    assert "SKU-A × 2" in msg.body and "UPS Ground" in msg.body
    assert Message.objects.get(order=shipped).status == "sent"


def test_ready_for_pickup_carries_the_code_and_a_checkin_slot(pickup_fo, store_user, monkeypatch):
    fo = ready(pickup_fo, store_user)
    assert messages_send_due() == 1
    (msg,) = mail.outbox
    assert fo.pickup_code in msg.body and fo.pickup_code in html_of(msg)
    assert "ready for pickup" in msg.subject and "Shelf" not in msg.body
    # The store check-in's signed "I'm here" link, in both versions.
    assert "/fulfillment/here/" in msg.body and "I'm here" in html_of(msg)
    # Without a link (nothing waits at the counter any more), the slot shows nothing.
    monkeypatch.setattr(services, "notification_checkin_url", lambda order: None)
    fulfillment_order_resend_ready_email(fo_id=fo.pk, actor=store_user)
    assert messages_send_due() == 1
    assert "/fulfillment/here/" not in mail.outbox[1].body and "I'm here" not in html_of(mail.outbox[1])
    assert fo.order.events.filter(type="fulfillment.email_sent").count() == 3  # sent, queued again, sent


def test_pickup_reminder_once(pickup_fo, store_user):
    fo = ready(pickup_fo, store_user)
    messages_send_due()
    assert pickup_reminders_send(now=fo.pickup_by - timedelta(hours=20)) == 1
    assert pickup_reminders_send(now=fo.pickup_by - timedelta(hours=19)) == 0
    assert messages_send_due() == 1
    assert len(mail.outbox) == 2 and "Reminder" in mail.outbox[1].subject and fo.pickup_code in mail.outbox[1].body


def test_delay_with_the_new_date_once_per_date(web, product):
    order = make_order(channel=web, lines=[(product, 1)])
    order_event_add(order=order, type="backordered", data={"expected_date": "2027-01-15"})
    order_event_add(order=order, type="backordered", data={"expected_date": "2027-01-15"})  # a retry, same date
    assert messages_send_due() == 1
    assert "2027-01-15" in mail.outbox[0].body and "delayed" in mail.outbox[0].subject
    order_event_add(order=order, type="partial", data={"expected_date": "2027-02-01"})  # a new date: told again
    assert messages_send_due() == 1
    assert "2027-02-01" in mail.outbox[1].body and "Part of your order" in mail.outbox[1].subject


def test_cancelled_fully_and_partly_with_the_refund(web, product, product_b, ops_user):
    order = make_order(channel=web, lines=[(product, 2), (product_b, 1)])  # $10.00 a unit
    order_cancel(order=order, actor=ops_user, reason="Customer asked")
    partly = make_order(channel=web, lines=[(product, 2), (product_b, 1)])
    order_event_add(
        order=partly, type="cancelled", data={"lines": [{"line_number": 1, "sku": "SKU-A", "quantity": 1}], "units": 1}
    )
    assert messages_send_due() == 2
    full, part = mail.outbox
    assert "Your order" in full.subject and "Refund: 30.00 USD" in full.body and "30.00 USD" in html_of(full)
    assert "Part of your order" in part.subject and "Refund: 10.00 USD" in part.body
    assert "SKU-A × 1" in part.body and "goes ahead as planned" in part.body


def test_refund_issued(web, product):
    order = make_order(channel=web, lines=[(product, 1)])
    order_event_add(
        order=order,
        type="refund_issued",
        data={"rma": "RMA-7", "amount": "12.50", "currency": "USD", "reference": "PAY-1"},
    )
    assert messages_send_due() == 1
    (msg,) = mail.outbox
    assert "12.50 USD" in msg.subject and "RMA-7" in msg.body and "PAY-1" in html_of(msg)


def test_the_send_job_twice_sends_once(shipped):
    now = timezone.now()
    assert messages_send_due(now=now) == 1
    assert messages_send_due(now=now) == 0
    assert messages_send_due(now=now + timedelta(hours=2)) == 0
    assert len(mail.outbox) == 1


def test_a_worker_dying_after_the_send_before_the_mark_does_not_send_again(shipped):
    m = Message.objects.get(order=shipped)
    now = timezone.now()
    assert _claim(message_id=m.pk, now=now)
    _deliver(m)  # the mail is out … and the worker dies before marking it sent
    assert len(mail.outbox) == 1
    assert messages_send_due(now=now) == 0  # still claimed
    assert messages_send_due(now=now + timedelta(hours=1)) == 0  # claim expired: unconfirmed, not re-sent
    assert messages_send_due(now=now + timedelta(hours=2)) == 0
    m.refresh_from_db()
    assert m.status == "unconfirmed" and len(mail.outbox) == 1
    message_resend(message=m)  # Operations decide: send again, on purpose
    assert messages_send_due() == 1 and len(mail.outbox) == 2
    assert mail.outbox[0].extra_headers["Message-ID"] == mail.outbox[1].extra_headers["Message-ID"]


def test_a_failed_send_is_retried_and_sent_once(shipped, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 1
    now = timezone.now()
    assert messages_send_due(now=now) == 0
    m = Message.objects.get(order=shipped)
    assert m.status == "pending" and m.attempts == 1 and m.last_error and m.next_attempt_at > now
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert messages_send_due(now=now) == 0  # not due yet
    assert messages_send_due(now=now + timedelta(minutes=5)) == 1
    assert messages_send_due(now=now + timedelta(minutes=10)) == 0
    assert len(mail.outbox) == 1


def test_channel_off_sends_nothing_and_the_sender_is_the_channels(web, dc, product, product_b):
    channel_notification_settings_set(channel=web, emails_enabled=False)
    put_stock(product, dc, 10)
    order = make_order(channel=web, lines=[(product, 1)])
    fo = make_fo(order=order, location=dc)
    fulfillment_order_ship(fo_id=fo.pk, service="ups_ground", tracking_number="1ZOFF")
    assert not Message.objects.exists()
    assert messages_send_due() == 0 and mail.outbox == []
    channel_notification_settings_set(
        channel=web,
        emails_enabled=True,
        from_name="Brand Shop",
        from_email="shop@brand.example",
        reply_to="care@brand.example",
    )
    order_event_add(order=order, type="refund_issued", data={"rma": "R", "amount": "1.00", "currency": "USD"})
    assert messages_send_due() == 1
    assert mail.outbox[0].from_email == '"Brand Shop" <shop@brand.example>' and mail.outbox[0].reply_to == [
        "care@brand.example"
    ]
    # Turned off after an e-mail was queued: it is skipped, not sent.
    order_event_add(order=order, type="refund_issued", data={"rma": "R2", "amount": "1.00", "currency": "USD"})
    channel_notification_settings_set(channel=web, emails_enabled=False)
    assert messages_send_due() == 0 and len(mail.outbox) == 1
    assert Message.objects.filter(status="skipped").count() == 1


def test_a_rolled_back_change_queues_nothing(web, product):
    order = make_order(channel=web, lines=[(product, 1)])
    with pytest.raises(RuntimeError), transaction.atomic():
        order_event_add(order=order, type="refund_issued", data={"rma": "R", "amount": "1.00", "currency": "USD"})
        assert Message.objects.count() == 1
        raise RuntimeError("the change fails after its event")
    assert not Message.objects.exists()
    assert messages_send_due() == 0 and mail.outbox == []


def test_low_stock_alert_once_per_crossing_to_the_operations_list(dc, product):
    alert_settings_set(low_stock_enabled=True, low_stock_recipients="ops@example.com, buyer@example.com")
    product.low_stock_threshold = 5
    product.save()
    put_stock(product, dc, 10)
    stock_adjust(product=product, location=dc, delta=-8)
    stock_adjust(product=product, location=dc, delta=-1)  # still low: no second alert
    assert messages_send_due() == 2
    assert sorted(m.to[0] for m in mail.outbox) == ["buyer@example.com", "ops@example.com"]
    assert "SKU-A" in mail.outbox[0].subject and "(network)" in mail.outbox[0].subject
    assert "Available to sell: 2 (threshold 5)" in mail.outbox[0].body
    alert_settings_set(low_stock_enabled=False, low_stock_recipients="ops@example.com")
    stock_adjust(product=product, location=dc, delta=+9)
    stock_adjust(product=product, location=dc, delta=-9)  # a new crossing, alerts off: event only
    assert messages_send_due() == 0 and len(mail.outbox) == 2
