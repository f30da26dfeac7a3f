"""Operations screens for outbound events: subscriptions (create, pause/resume, rotate the secret — shown
once), and each subscription's deliveries with their payload, last response and "send again". Thin: the
services write, the selectors read."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from common.roles import OPERATIONS, role_required
from webhooks import selectors, services
from webhooks.forms import SubscriptionForm
from webhooks.models import Delivery, Subscription

operations = role_required(OPERATIONS)


def _secret_once(request, *, subscription: Subscription, secret: str, created: bool):
    """The only response that ever contains the secret; never cached."""
    return render(
        request, "webhooks/secret_once.html", {"subscription": subscription, "secret": secret, "created": created}
    )


@operations
@never_cache
def subscription_list(request):
    form = SubscriptionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            sub, secret = services.subscription_create(
                name=d["name"],
                kind=d["kind"],
                url=d["url"],
                event_types=d["event_types"],
                channel=d["channel"],
                access_token=d["access_token"],
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            return _secret_once(request, subscription=sub, secret=secret, created=True)
    context = {"subscriptions": selectors.subscriptions_with_counts(), "form": form}
    return render(request, "webhooks/subscriptions.html", context, status=400 if form.errors else 200)


@operations
def subscription_detail(request, pk: int):
    sub = get_object_or_404(Subscription.objects.select_related("channel"), pk=pk)
    status = request.GET.get("status", "")
    if status and status not in Delivery.Status.values:
        status = ""
    page = Paginator(selectors.subscription_deliveries(subscription=sub, status=status), 50).get_page(
        request.GET.get("page")
    )
    rows = [(d, services.event_body(event=d.event)) for d in page]
    context = {"subscription": sub, "page": page, "rows": rows, "status": status, "statuses": Delivery.Status.choices}
    return render(request, "webhooks/subscription_detail.html", context)


@operations
@require_POST
def subscription_toggle(request, pk: int):
    sub = get_object_or_404(Subscription, pk=pk)
    services.subscription_active_set(subscription=sub, is_active=not sub.is_active)
    messages.success(request, f"{sub.name} is {'active' if sub.is_active else 'paused'}.")
    return redirect("webhooks:detail", pk=sub.pk)


@operations
@require_POST
@never_cache
def subscription_rotate(request, pk: int):
    sub = get_object_or_404(Subscription, pk=pk)
    secret = services.subscription_secret_rotate(subscription=sub)
    return _secret_once(request, subscription=sub, secret=secret, created=False)


@operations
@require_POST
def delivery_resend(request, pk: int):
    delivery = get_object_or_404(Delivery, pk=pk)
    try:
        services.delivery_resend(delivery=delivery)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Delivery {delivery.pk} ({delivery.event.type}) will be sent again.")
    return redirect("webhooks:detail", pk=delivery.subscription_id)
