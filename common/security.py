"""Hardening plumbing shared by every app: the client address behind proxies, a clean 503 when the database
goes away mid-request, and the rate limits of machine-to-machine endpoints (webhooks, feeds)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

log = logging.getLogger(__name__)


def client_ip(request: HttpRequest) -> str:
    """The caller's address: REMOTE_ADDR, or with TRUSTED_PROXY_COUNT = n the n-th address from the right
    of X-Forwarded-For (the one our own outermost proxy saw; anything further left is client-supplied)."""
    hops = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
    if hops and len(forwarded) >= hops:
        return forwarded[-hops]
    return request.META.get("REMOTE_ADDR", "")


class DatabaseUnavailableMiddleware:
    """Turns a lost or unreachable database (OperationalError / InterfaceError escaping a view) into a 503
    with Retry-After — JSON under /api/, a short page elsewhere — instead of a 500. Nothing half-written
    survives: every service writes in one transaction, which the database rolls back with the connection.
    Django closes the broken connection when the request finishes, so the next request reconnects."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        log.error("database unavailable during %s %s: %s", request.method, request.path, exception)
        detail = "The database is unavailable; nothing was saved. Try again in a few seconds."
        if request.path.startswith("/api/"):
            response = JsonResponse({"detail": detail}, status=503)
        else:
            response = HttpResponse(
                f"<!doctype html><title>Service unavailable</title><h1>Service unavailable</h1><p>{detail}</p>",
                status=503,
            )
        response["Retry-After"] = "5"
        return response


DB_INT_RANGE = range(-(2**63), 2**63)


class InputGuardMiddleware:
    """Input no database can store is refused at the door, not by the driver as a 500:
    a numeric id in the URL beyond 64 bits (`/orders/99999999999999999999/`) is a 404, and a NUL character
    in the URL or its query string (PostgreSQL text cannot hold it) is a 400. DRF serializers already
    refuse NUL in bodies (ProhibitNullCharactersValidator)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> HttpResponse | None:
        api = request.path.startswith("/api/")
        values = list(view_args) + list(view_kwargs.values())
        if any(isinstance(v, int) and v not in DB_INT_RANGE for v in values):
            if api:
                return JsonResponse({"detail": "Not found."}, status=404)
            return HttpResponse("<!doctype html><title>Not found</title><h1>Not found</h1>", status=404)
        texts = [v for v in values if isinstance(v, str)]
        texts += [x for key, items in request.GET.lists() for x in [key, *items]]
        if any("\x00" in t for t in texts):
            detail = "The URL contains a NUL character, which is not allowed."
            if api:
                return JsonResponse({"detail": detail}, status=400)
            return HttpResponse(detail, status=400, content_type="text/plain")
        return None


class _ScopedThrottle(SimpleRateThrottle):
    """Counts requests per client (user, or address when anonymous) in the cache; the rate is read from
    settings on each request so it can be tuned (and tested) without a restart of the class."""

    scope = ""

    def get_rate(self) -> str | None:
        rates = settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES", api_settings.DEFAULT_THROTTLE_RATES)
        return rates.get(self.scope)

    def get_cache_key(self, request, view) -> str:
        if request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"ip:{client_ip(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class WebhookThrottle(_ScopedThrottle):
    """Inbound webhooks (Shopify orders/create …)."""

    scope = "webhook"


class FeedThrottle(_ScopedThrottle):
    """Partner feeds: 3PL events, supplier shipment confirmations, WMS snapshots."""

    scope = "feed"


def login_failure_limit(request: HttpRequest, credentials: dict | None) -> int:
    """django-axes `AXES_FAILURE_LIMIT`: failures allowed before a lock-out, by what they share.

    Axes counts failures both per address (across user names) and per user name + address, and locks when
    the larger count reaches this limit. One user name mistyped at one address locks that pair after
    `LOGIN_FAILURES_PER_USER`; many user names tried from one address (password spraying) lock the address
    after `LOGIN_FAILURES_PER_ADDRESS`, so a store's colleagues behind one address do not lock each other out.
    """
    from axes.helpers import get_client_username, get_cool_off
    from axes.models import AccessAttempt
    from django.utils import timezone

    per_user = settings.LOGIN_FAILURES_PER_USER
    username = get_client_username(request, credentials)
    ip_address = getattr(request, "axes_ip_address", None) or client_ip(request)
    since = (getattr(request, "axes_attempt_time", None) or timezone.now()) - get_cool_off(request)
    pair = AccessAttempt.objects.filter(username=username, ip_address=ip_address, attempt_time__gte=since).aggregate(
        n=Sum("failures_since_start")
    )["n"]
    return per_user if (pair or 0) >= per_user else settings.LOGIN_FAILURES_PER_ADDRESS
