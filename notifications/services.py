"""Customer and operations e-mails: every write of this app's tables.

Queueing: `notifications_queue_for_events` receives the outbound events (`webhooks.signals.events_written`,
sent inside the transaction of the change) and writes one `Message` per event, recipient and template
(unique), in that same transaction: a change that rolls back queues no e-mail, a change that commits has
its e-mail queued. Customer e-mails follow the channel's settings (off: nothing is queued or sent).

Sending: `message_send` claims a pending message with a conditional update (committed before anything is
sent), renders it from the Django templates, sends it through Django's mail backend and marks it sent.
A send that raises is retried with backoff (DOM["OUTBOX_BACKOFF_SECONDS"], doubling) until
DOM["OUTBOX_MAX_ATTEMPTS"], then the message is failed. A worker that stops between the claim and the mark
leaves the message `sending`; once its claim expires it becomes `unconfirmed` and is NOT sent again on its
own (the mail may already be out): at most one e-mail per message, and Operations can "send again" an
unconfirmed or failed one from the e-mails screen (same Message-ID header, so a mail client can tell).
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.mail.utils import DNS_NAME
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django_q.tasks import async_task

from fulfillment.models import FulfillmentOrder
from notifications.models import CUSTOMER_TEMPLATES, AlertSettings, ChannelNotificationSettings, Message, Template
from notifications.rendering import Rendered, notification_context, notification_render
from orders.models import Channel, Order
from orders.services import order_event_add
from webhooks.models import Event, EventType

EVENT_TEMPLATES = {
    EventType.FULFILLMENT_SHIPPED: Template.SHIPPED,
    EventType.ORDER_READY_FOR_PICKUP: Template.READY_FOR_PICKUP,
    EventType.ORDER_BACKORDERED: Template.DELAYED,
    EventType.ORDER_CANCELLED: Template.CANCELLED,
    EventType.REFUND_ISSUED: Template.REFUND_ISSUED,
    EventType.STOCK_LOW: Template.STOCK_LOW,
}
S = Message.Status


def _dom(name: str):
    return settings.DOM[name]


def notification_checkin_url(order: Order) -> str | None:
    """The customer's "I'm here" check-in link for a pickup order, shown in the ready-for-pickup e-mail
    (template variable `checkin_url`; the link is rendered only when this returns one): the store check-in's
    signed link for the order's pickup waiting at the counter, none when nothing waits."""
    from fulfillment.services import pickup_checkin_url

    fo = (
        FulfillmentOrder.objects.filter(
            order=order, method=FulfillmentOrder.Method.PICKUP, status=FulfillmentOrder.Status.READY_FOR_PICKUP
        )
        .order_by("pk")
        .first()
    )
    return pickup_checkin_url(fo=fo) if fo else None


# --- Settings ----------------------------------------------------------------------------------------------


def channel_notification_settings_get(*, channel: Channel) -> ChannelNotificationSettings:
    """The channel's settings, unsaved defaults (on, site sender) when it has none."""
    found = ChannelNotificationSettings.objects.filter(channel=channel).first()
    return found or ChannelNotificationSettings(channel=channel)


def channel_notification_settings_set(
    *, channel: Channel, emails_enabled: bool, from_name: str = "", from_email: str = "", reply_to: str = ""
) -> ChannelNotificationSettings:
    """Turn a channel's customer e-mails on or off and set its sender. Raises ValidationError naming the
    field (an address that is not one, a name with a line break); nothing is written then."""
    row = channel_notification_settings_get(channel=channel)
    row.emails_enabled = emails_enabled
    row.from_name, row.from_email, row.reply_to = from_name.strip(), from_email.strip(), reply_to.strip()
    if re.search(r"[\r\n<>\"]", row.from_name):
        raise ValidationError({"from_name": ["A sender name has no line breaks, quotes or angle brackets."]})
    row.full_clean()
    row.save()
    return row


def alert_settings_get() -> AlertSettings:
    return AlertSettings.objects.filter(pk=1).first() or AlertSettings(pk=1)


def _addresses(text: str) -> list[str]:
    return [a for a in (p.strip() for p in re.split(r"[,;\s]+", text or "")) if a]


def alert_settings_set(*, low_stock_enabled: bool, low_stock_recipients: str) -> AlertSettings:
    """Set who gets the low-stock alerts. Raises ValidationError naming each bad address."""
    addresses = _addresses(low_stock_recipients)
    bad = []
    for a in addresses:
        try:
            validate_email(a)
        except ValidationError:
            bad.append(a)
    if bad:
        raise ValidationError({"low_stock_recipients": [f"Not an e-mail address: {', '.join(bad[:10])}."]})
    if len(addresses) > 50:
        raise ValidationError({"low_stock_recipients": ["At most 50 addresses."]})
    row = alert_settings_get()
    row.low_stock_enabled, row.low_stock_recipients = low_stock_enabled, "\n".join(addresses)
    row.save()
    return row


def low_stock_recipients() -> list[str]:
    """Who gets low-stock alerts now: the screen's list, else INVENTORY_ALERT_EMAILS; none when off."""
    row = alert_settings_get()
    if not row.low_stock_enabled:
        return []
    return _addresses(row.low_stock_recipients) or list(getattr(settings, "INVENTORY_ALERT_EMAILS", []))


# --- Queueing (inside the change's transaction) -------------------------------------------------------------


def _customer_email(o: dict) -> str:
    return (
        o["customer__email"]
        or (o["shipping_address"] or {}).get("email", "")
        or (o["billing_address"] or {}).get("email", "")
    )


def _key(event: Event, template: str) -> str:
    # A delay is announced once per expected date: routing re-announces a backorder it retries.
    if template == Template.DELAYED:
        return f"delayed:{event.order_id}:{event.data.get('expected_date') or 'unknown'}"
    return event.uid


def notifications_queue_for_events(*, events: list[Event], now: datetime | None = None) -> int:
    """Queue the e-mails these events call for, in the caller's transaction (see the module docstring).
    Set-based: one read of the orders, one of the channel settings, one insert. Returns messages queued."""
    wanted = [e for e in events if e.type in EVENT_TEMPLATES]
    if not wanted:
        return 0
    now = now or timezone.now()
    order_ids = {e.order_id for e in wanted if e.order_id}
    orders = {
        o["pk"]: o
        for o in Order.objects.filter(pk__in=order_ids).values(
            "pk", "channel_id", "customer__email", "shipping_address", "billing_address"
        )
    }
    channels_off = set(
        ChannelNotificationSettings.objects.filter(
            channel_id__in={o["channel_id"] for o in orders.values()}, emails_enabled=False
        ).values_list("channel_id", flat=True)
    )
    ops = low_stock_recipients() if any(e.type == EventType.STOCK_LOW for e in wanted) else []
    rows = []
    for e in wanted:
        template = EVENT_TEMPLATES[e.type]
        common = {"key": _key(e, template), "template": template, "event": e, "data": e.data, "created_at": now}
        if template == Template.STOCK_LOW:
            rows.extend(Message(recipient=to[:254], **common) for to in ops)
            continue
        o = orders.get(e.order_id)
        to = _customer_email(o) if o else ""
        if o and to and o["channel_id"] not in channels_off:
            rows.append(Message(recipient=to[:254], order_id=o["pk"], channel_id=o["channel_id"], **common))
    if not rows:
        return 0
    Message.objects.bulk_create(rows, ignore_conflicts=True)
    _send_soon()
    return len(rows)


def notification_pickup_queue(*, fo_id: int, order: Order, template: str, key: str) -> Message | None:
    """Queue a pickup e-mail that no event calls for (a reminder, a resend the clerk asked for), in the
    caller's transaction. `key` makes it once: the same key queues nothing the second time. Returns the
    message, or None when the customer has no address or the channel's e-mails are off."""
    if template not in (Template.READY_FOR_PICKUP, Template.PICKUP_REMINDER):
        raise ValueError(f"Not a pickup template: {template!r}")
    o = Order.objects.filter(pk=order.pk).values(
        "pk", "channel_id", "customer__email", "shipping_address", "billing_address"
    )[0]
    to = _customer_email(o)
    if not to or not channel_notification_settings_get(channel=Channel(pk=o["channel_id"])).emails_enabled:
        return None
    msg, _ = Message.objects.get_or_create(
        key=key,
        recipient=to[:254],
        template=template,
        defaults={
            "order_id": o["pk"],
            "channel_id": o["channel_id"],
            "data": {"fulfillment_order": fo_id},
            "created_at": timezone.now(),
        },
    )
    _send_soon()
    return msg


def _send_soon() -> None:
    # robust: the rows are stored; if enqueueing fails the every-minute job sends them.
    transaction.on_commit(lambda: async_task("notifications.tasks.send_due"), robust=True)


# --- Sending ----------------------------------------------------------------------------------------------


def _sender(m: Message) -> tuple[str, list[str]]:
    if m.template not in CUSTOMER_TEMPLATES or not m.channel_id:
        return settings.DEFAULT_FROM_EMAIL, []
    row = ChannelNotificationSettings.objects.filter(channel_id=m.channel_id).first()
    if row is None:
        return settings.DEFAULT_FROM_EMAIL, []
    address = row.from_email or settings.DEFAULT_FROM_EMAIL
    return (f'"{row.from_name}" <{address}>' if row.from_name else address), ([row.reply_to] if row.reply_to else [])


def _claim(*, message_id: int, now: datetime) -> bool:
    """Take a due pending message (committed at once: the claim is visible before anything is sent)."""
    due = Q(status=S.PENDING) & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
    return bool(
        Message.objects.filter(due, pk=message_id).update(
            status=S.SENDING,
            claimed_until=now + timedelta(seconds=_dom("OUTBOX_TIMEOUT_SECONDS") * 6),
            attempts=F("attempts") + 1,
        )
    )


def _deliver(m: Message) -> Rendered:
    """Render and hand the e-mail to Django's mail backend; raises whatever the backend raises."""
    rendered = notification_render(template=m.template, context=notification_context(message=m))
    from_email, reply_to = _sender(m)
    email = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=from_email,
        to=[m.recipient],
        reply_to=reply_to,
        headers={"Message-ID": f"<notification-{m.pk}@{DNS_NAME}>", "X-DOM-Notification": m.template},
    )
    email.attach_alternative(rendered.html, "text/html")
    email.send(fail_silently=False)
    return rendered


def _channel_off(m: Message) -> bool:
    return (
        m.template in CUSTOMER_TEMPLATES
        and m.channel_id is not None
        and ChannelNotificationSettings.objects.filter(channel_id=m.channel_id, emails_enabled=False).exists()
    )


def message_send(*, message_id: int, now: datetime | None = None) -> Message:
    """Send one message once, if it is due. Returns it as it is afterwards."""
    now = now or timezone.now()
    if not _claim(message_id=message_id, now=now):
        return Message.objects.get(pk=message_id)
    m = Message.objects.get(pk=message_id)
    if _channel_off(m):  # turned off after it was queued
        Message.objects.filter(pk=m.pk, status=S.SENDING).update(status=S.SKIPPED, claimed_until=None)
        m.refresh_from_db()
        return m
    try:
        rendered = _deliver(m)
    except Exception as exc:  # noqa: BLE001 — SMTP, DNS and template errors come in many types
        give_up = m.attempts >= _dom("OUTBOX_MAX_ATTEMPTS")
        delay = min(_dom("OUTBOX_BACKOFF_SECONDS") * 2 ** (m.attempts - 1), 3600)
        Message.objects.filter(pk=m.pk, status=S.SENDING).update(
            status=S.FAILED if give_up else S.PENDING,
            next_attempt_at=None if give_up else now + timedelta(seconds=delay),
            last_error=f"{type(exc).__name__}: {exc}"[:500],
            claimed_until=None,
        )
        m.refresh_from_db()
        if give_up:
            _pickup_timeline(m, sent=False)
        return m
    message_mark_sent(message_id=m.pk, subject=rendered.subject)
    m.refresh_from_db()
    _pickup_timeline(m, sent=True)
    return m


def _pickup_timeline(m: Message, *, sent: bool) -> None:
    """Pickup e-mails are noted on the order's timeline (the clerk's page says whether the code went out)."""
    if m.order_id is None or m.template not in (Template.READY_FOR_PICKUP, Template.PICKUP_REMINDER):
        return
    what = Template(m.template).label.split(" (")[0]
    order_event_add(
        order=Order(pk=m.order_id),
        type="fulfillment.email_sent" if sent else "fulfillment.email_failed",
        message=f"{what} e-mail sent to {m.recipient}." if sent else f"{what} e-mail not sent: {m.last_error}",
    )


def message_mark_sent(*, message_id: int, subject: str = "") -> None:
    """The mail backend took the message: record it (only a claimed message moves)."""
    Message.objects.filter(pk=message_id, status=S.SENDING).update(
        status=S.SENT, sent_at=timezone.now(), subject=subject[:200], claimed_until=None, last_error=""
    )


def messages_unconfirmed_mark(*, now: datetime | None = None) -> int:
    """Messages whose worker stopped between claim and mark (claim expired): `unconfirmed`, not re-sent."""
    now = now or timezone.now()
    return Message.objects.filter(status=S.SENDING, claimed_until__lt=now).update(
        status=S.UNCONFIRMED,
        claimed_until=None,
        last_error="The worker stopped while sending: the e-mail may or may not have gone out.",
    )


def messages_send_due(*, now: datetime | None = None, batch: int = 200) -> int:
    """Send every due message, oldest first. Safe to run concurrently and repeatedly. Returns sent."""
    now = now or timezone.now()
    messages_unconfirmed_mark(now=now)
    ids = list(
        Message.objects.filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now), status=S.PENDING)
        .order_by("id")
        .values_list("pk", flat=True)[:batch]
    )
    return sum(message_send(message_id=pk, now=now).status == S.SENT for pk in ids)


def message_resend(*, message: Message) -> Message:
    """ "Send again" (Operations): a failed, unconfirmed or sent message goes back to pending with a fresh
    retry budget. A pending or sending one is left alone."""
    if message.status in (S.PENDING, S.SENDING):
        raise ValidationError({"message": [f"Message {message.pk} is still {message.status}; wait for it."]})
    Message.objects.filter(pk=message.pk, status__in=(S.SENT, S.FAILED, S.UNCONFIRMED, S.SKIPPED)).update(
        status=S.PENDING, attempts=0, next_attempt_at=None, claimed_until=None
    )
    _send_soon()
    message.refresh_from_db()
    return message


# --- Pickup e-mails that no event calls for -------------------------------------------------------------


def notification_pickup_ready_resend(*, fo_id: int, actor=None) -> Message | None:
    """The clerk's "Resend": queue the ready-for-pickup e-mail once more (a new message, sent once) and
    note it on the order's timeline. Returns the message, or None when there is no one to send it to."""
    fo = FulfillmentOrder.objects.select_related("order").get(pk=fo_id)
    with transaction.atomic():
        msg = notification_pickup_queue(
            fo_id=fo.pk, order=fo.order, template=Template.READY_FOR_PICKUP, key=f"resend:{fo.pk}:{uuid.uuid4().hex}"
        )
        order_event_add(
            order=fo.order,
            type="fulfillment.email_sent" if msg else "fulfillment.email_failed",
            message=f"Ready-for-pickup e-mail queued again for {msg.recipient}."
            if msg
            else "Ready-for-pickup e-mail not sent: no customer address, or the channel's e-mails are off.",
            actor=actor,
        )
    return msg


def notification_pickup_reminder_queue(*, fo_id: int) -> Message | None:
    """Queue the pickup reminder of a fulfilment order (once: a second call queues nothing new)."""
    fo = FulfillmentOrder.objects.select_related("order").get(pk=fo_id)
    return notification_pickup_queue(
        fo_id=fo.pk, order=fo.order, template=Template.PICKUP_REMINDER, key=f"reminder:{fo.pk}"
    )
