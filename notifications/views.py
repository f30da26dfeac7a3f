"""Operations screens for e-mails: per-channel on/off and sender, low-stock alert recipients, the message
log with "send again", and the preview of every template for a recent order. Thin: the services write,
the selectors read. No screen ever shows a real pickup code (the preview uses a sample)."""

from __future__ import annotations

from csp.constants import NONE, SELF, UNSAFE_INLINE
from csp.decorators import csp_replace
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_POST

from common.roles import OPERATIONS, role_required
from notifications import selectors, services
from notifications.models import Message, Template
from notifications.rendering import notification_preview
from orders.models import Channel, Order

operations = role_required(OPERATIONS)


def _errors(exc: ValidationError) -> list[str]:
    if hasattr(exc, "message_dict"):
        return [f"{field}: {' '.join(errs)}" for field, errs in exc.message_dict.items()]
    return exc.messages


def _settings_page(request, *, errors: list[str] | None = None, status: int = 200):
    channels = [(c, services.channel_notification_settings_get(channel=c)) for c in Channel.objects.order_by("code")]
    log_status = request.GET.get("status", "")
    if log_status not in Message.Status.values:
        log_status = ""
    context = {
        "channels": channels,
        "alerts": services.alert_settings_get(),
        "alert_recipients_now": services.low_stock_recipients(),
        "log": selectors.messages_recent(status=log_status),
        "log_status": log_status,
        "statuses": Message.Status.choices,
        "errors": errors or [],
        "default_from": settings.DEFAULT_FROM_EMAIL,
    }
    return render(request, "notifications/settings.html", context, status=status)


def _save(request) -> str:
    p = request.POST
    what = p.get("form", "")
    if what == "channel":
        channel = Channel.objects.filter(code=p.get("channel", "")).first()
        if channel is None:
            raise ValidationError({"channel": [f"No channel {p.get('channel', '')!r}."]})
        services.channel_notification_settings_set(
            channel=channel,
            emails_enabled=p.get("emails_enabled") == "on",
            from_name=p.get("from_name", ""),
            from_email=p.get("from_email", ""),
            reply_to=p.get("reply_to", ""),
        )
        return f"{channel.name}: customer e-mails saved."
    if what == "alerts":
        services.alert_settings_set(
            low_stock_enabled=p.get("low_stock_enabled") == "on",
            low_stock_recipients=p.get("low_stock_recipients", ""),
        )
        return "Low-stock alerts saved."
    raise ValidationError({"form": ["Choose what to save: channel or alerts."]})


@operations
def notification_settings(request):
    if request.method == "POST":
        try:
            done = _save(request)
        except ValidationError as exc:
            return _settings_page(request, errors=_errors(exc), status=400)
        messages.success(request, done)
        return redirect("notifications:settings")
    return _settings_page(request)


@operations
@require_POST
def message_resend(request, pk: int):
    msg = get_object_or_404(Message, pk=pk)
    try:
        services.message_resend(message=msg)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request, f"The {msg.get_template_display().lower()} e-mail to {msg.recipient} will be sent again."
        )
    return redirect("notifications:settings")


def _preview_order(request) -> tuple[Order | None, str]:
    number = (request.GET.get("order") or "").strip()
    if not number:
        return selectors.orders_recent_for_preview(limit=1).first(), ""
    order = Order.objects.filter(number=number).first()
    return order, "" if order else f"order: no order numbered {number[:60]!r}."


def _preview_template(request) -> tuple[str, str]:
    t = request.GET.get("template", "")
    if t and t not in Template.values:
        return "", f"template: unknown template {t[:40]!r}; choose one of {', '.join(Template.values)}."
    return t, ""


@operations
def notification_preview_page(request):
    order, error = _preview_order(request)
    chosen, t_error = _preview_template(request)
    errors = [e for e in (error, t_error) if e]
    templates = [chosen] if chosen else Template.values
    rendered = (
        [] if errors else [(t, Template(t).label, notification_preview(template=t, order=order)) for t in templates]
    )
    context = {
        "order": order,
        "recent": selectors.orders_recent_for_preview(),
        "rendered": rendered,
        "templates": Template.choices,
        "chosen": chosen,
        "errors": errors,
    }
    return render(request, "notifications/preview.html", context, status=400 if errors else 200)


@operations
@xframe_options_sameorigin
@csp_replace(
    {
        "default-src": [NONE],
        "style-src": [UNSAFE_INLINE],
        "img-src": [SELF, "data:", "https:"],
        "frame-ancestors": [SELF],
    }
)
def notification_preview_html(request):
    """One template's HTML as the customer's mail client shows it (framed by the preview page; no scripts)."""
    order, error = _preview_order(request)
    chosen, t_error = _preview_template(request)
    if error or t_error or not chosen:
        return HttpResponse(error or t_error or "template: choose a template.", status=400, content_type="text/plain")
    return HttpResponse(notification_preview(template=chosen, order=order).html)
