"""The Operations e-mail screens: settings, log, preview (every template, HTML and text, for a real order or a
sample), role-checked; the pickup code never appears on any staff page; every door validates totally."""

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common import roles
from conftest import make_user
from fulfillment.services import fulfillment_line_pick, fulfillment_order_ready
from notifications.models import AlertSettings, ChannelNotificationSettings, Message, Template
from notifications.rendering import PREVIEW_PICKUP_CODE
from notifications.services import messages_send_due

pytestmark = pytest.mark.django_db


@pytest.fixture
def ops(db):
    c = Client()
    c.force_login(make_user("ops-mail", roles.OPERATIONS))
    return c


@pytest.fixture
def clerk(store_user):
    c = Client()
    c.force_login(store_user)
    return c


@pytest.fixture
def ready_fo(pickup_fo, store_user):
    for ln in pickup_fo.lines.all():
        fulfillment_line_pick(line_id=ln.pk, delta=ln.quantity_open, actor=store_user)
    fo = fulfillment_order_ready(fo_id=pickup_fo.pk, actor=store_user)
    assert messages_send_due() == 1 and fo.pickup_code in mail.outbox[0].body  # the customer has it
    return fo


def test_preview_renders_every_template_for_a_real_order_without_its_pickup_code(ops, ready_fo):
    customer = ready_fo.order.customer
    customer.name = "Ann <script>alert(1)</script>"
    customer.save()
    r = ops.get(reverse("notifications:preview") + f"?order={ready_fo.order.number}")
    page = r.content.decode()
    assert r.status_code == 200 and "<nav" in page  # in the base layout
    for t in Template.values:
        assert f'id="preview-{t}"' in page
    assert ready_fo.order.number in page and "Tell us you&#x27;re here" in page  # the check-in slot, sampled
    assert PREVIEW_PICKUP_CODE in page and ready_fo.pickup_code not in page
    assert "<script>alert(1)" not in page and "Ann &lt;script&gt;" in page  # the text version is escaped too
    for t in ("ready_for_pickup", "pickup_reminder"):
        html = ops.get(reverse("notifications:preview-html") + f"?template={t}&order={ready_fo.order.number}")
        assert html.status_code == 200
        body = html.content.decode()
        assert ready_fo.pickup_code not in body, body[body.find(ready_fo.pickup_code) - 300 :][:600]
        assert PREVIEW_PICKUP_CODE in body and "I'm here</a>" in body
        assert "frame-ancestors 'self'" in html["Content-Security-Policy"]


def test_preview_without_any_order_uses_a_sample(ops):
    r = ops.get(reverse("notifications:preview"))
    assert r.status_code == 200 and "SAMPLE-1001" in r.content.decode()


def test_preview_refuses_unknown_order_and_template_by_name(ops):
    r = ops.get(reverse("notifications:preview") + "?order=NOPE-1&template=bogus")
    body = r.content.decode()
    assert r.status_code == 400 and "order: no order numbered" in body and "template: unknown template" in body
    assert ops.get(reverse("notifications:preview-html")).status_code == 400


def test_the_pickup_code_is_on_no_staff_page(ops, clerk, ready_fo):
    code = ready_fo.pickup_code
    staff_pages = {
        clerk: [
            reverse("fulfillment:queue") + "?tab=pickup_ready",
            reverse("fulfillment:order", args=[ready_fo.pk]),
            reverse("fulfillment:handover") + f"?q={ready_fo.order.number}",
            reverse("fulfillment:handover") + f"?q={code}",
        ],
        ops: [
            reverse("notifications:settings"),
            reverse("notifications:preview"),
            reverse("notifications:preview") + f"?order={ready_fo.order.number}&template=ready_for_pickup",
            reverse("orders:detail", args=[ready_fo.order_id]),
            reverse("webhooks:list"),
        ],
    }
    for client, urls in staff_pages.items():
        for url in urls:
            r = client.get(url, follow=True)
            assert r.status_code == 200, url
            assert code not in r.content.decode(), url


def test_settings_save_channel_and_alerts_and_the_log_resends(ops, web, ready_fo):
    r = ops.post(
        reverse("notifications:settings"),
        {"form": "channel", "channel": web.code, "from_name": "Brand", "from_email": "shop@brand.example"},
    )
    assert r.status_code == 302
    row = ChannelNotificationSettings.objects.get(channel=web)
    assert (row.emails_enabled, row.from_name, row.from_email) == (False, "Brand", "shop@brand.example")
    r = ops.post(
        reverse("notifications:settings"),
        {"form": "alerts", "low_stock_enabled": "on", "low_stock_recipients": "a@example.com\nb@example.com"},
    )
    assert r.status_code == 302 and AlertSettings.objects.get().low_stock_recipients == "a@example.com\nb@example.com"
    page = ops.get(reverse("notifications:settings")).content.decode()
    msg = Message.objects.get(template="ready_for_pickup")
    assert f'id="message-{msg.pk}"' in page and "Sent" in page
    assert ops.post(reverse("notifications:resend", args=[msg.pk])).status_code == 302
    msg.refresh_from_db()
    assert msg.status == "pending"


def test_settings_refuse_bad_input_naming_the_field_and_write_nothing(ops, web):
    r = ops.post(reverse("notifications:settings"), {"form": "channel", "channel": web.code, "from_email": "nope"})
    assert r.status_code == 400 and "from_email" in r.content.decode()
    r = ops.post(reverse("notifications:settings"), {"form": "alerts", "low_stock_recipients": "ok@example.com, bad@"})
    assert r.status_code == 400 and "low_stock_recipients" in r.content.decode() and "bad@" in r.content.decode()
    r = ops.post(reverse("notifications:settings"), {"form": "channel", "channel": "no-such"})
    assert r.status_code == 400 and "channel" in r.content.decode()
    assert not ChannelNotificationSettings.objects.exists() and not AlertSettings.objects.exists()


def test_store_staff_and_merchandisers_are_refused(clerk, db):
    for url in (reverse("notifications:settings"), reverse("notifications:preview")):
        assert clerk.get(url).status_code == 403


text = st.text(max_size=300)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    form=st.sampled_from(["channel", "alerts", "", "x"]) | text,
    channel=st.sampled_from(["web", ""]) | text,
    from_name=text,
    from_email=text,
    reply_to=text,
    recipients=text,
    enabled=st.sampled_from(["on", "", "off"]),
)
def test_settings_door_answers_4xx_or_saves_never_500(
    ops, web, form, channel, from_name, from_email, reply_to, recipients, enabled
):
    data = {
        "form": form,
        "channel": channel,
        "from_name": from_name,
        "from_email": from_email,
        "reply_to": reply_to,
        "low_stock_recipients": recipients,
        "emails_enabled": enabled,
        "low_stock_enabled": enabled,
    }
    before = (list(ChannelNotificationSettings.objects.values()), list(AlertSettings.objects.values()))
    r = ops.post(reverse("notifications:settings"), data)
    assert r.status_code in (302, 400)
    if r.status_code == 400:
        assert (list(ChannelNotificationSettings.objects.values()), list(AlertSettings.objects.values())) == before


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=text, template=text)
def test_preview_door_answers_200_or_400(ops, order, template):
    for name in ("notifications:preview", "notifications:preview-html"):
        r = ops.get(reverse(name), {"order": order, "template": template})
        assert r.status_code in (200, 400)
