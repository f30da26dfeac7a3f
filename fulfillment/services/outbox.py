"""The outbox to locations' endpoints (3PL, WMS, suppliers): messages added in the state change's transaction,
delivered with retries by the worker."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django_q.tasks import async_task

from common.credentials import CredentialRefused, credential_env_read
from common.csv import csv_text
from common.netguard import OutboundError, OutboundRefused, OutboundTooLarge, outbound_request
from common.pathguard import PathRefused, path_under_root
from fulfillment.models import (
    Endpoint,
    OutboxMessage,
)
from fulfillment.services.workflow import _dom
from inventory.models import (
    Location,
)


def outbox_message_add(*, kind: str, location: Location, key: str, payload: dict) -> OutboxMessage:
    """Queue a message for a location's endpoint (once per key) and deliver it after commit."""
    msg, created = OutboxMessage.objects.get_or_create(
        idempotency_key=key, defaults={"kind": kind, "location": location, "payload": payload}
    )
    if created:
        pk = msg.pk
        # robust: the message is stored; if enqueueing fails the outbox sweeper delivers it.
        transaction.on_commit(lambda: async_task("fulfillment.tasks.deliver_outbox_message", pk), robust=True)
    return msg


class DeliveryError(Exception):
    pass


def _purchase_order_csv(payload: dict) -> str:
    return csv_text(
        header=["purchase_order", "order", "sku", "supplier_sku", "quantity", "unit_cost", "currency"],
        rows=(
            [
                payload.get("purchase_order"),
                payload.get("order"),
                ln["sku"],
                ln.get("supplier_sku", ""),
                ln["quantity"],
                ln["unit_cost"],
                payload.get("currency", ""),
            ]
            for ln in payload.get("lines", [])
        ),
    )


def _send(msg: OutboxMessage, endpoint: Endpoint) -> None:
    body = json.dumps(
        {"idempotency_key": msg.idempotency_key, "kind": msg.kind, "payload": msg.payload}, sort_keys=True
    ).encode()
    url = endpoint.url.strip()
    if url.startswith(("http://", "https://")):
        headers = {"Content-Type": "application/json", "Idempotency-Key": msg.idempotency_key}
        try:
            token = credential_env_read(name=endpoint.token_env, kind="endpoint")
        except CredentialRefused as exc:
            raise DeliveryError(f"Token refused: {exc}") from exc
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            resp = outbound_request(url=url, method="POST", body=body, headers=headers, max_bytes=1 << 20)
        except (OutboundRefused, OutboundTooLarge, OutboundError) as exc:
            raise DeliveryError(f"{url}: {exc}") from exc
        if not 200 <= resp.status < 300:
            raise DeliveryError(f"HTTP {resp.status} from {url}")
    elif url.startswith("file://"):
        try:
            folder = path_under_root(folder=url[len("file://") :])
            folder.mkdir(parents=True, exist_ok=True)
            safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in msg.idempotency_key)
            tmp = folder / f".{safe}.json.tmp"
            tmp.write_bytes(body)
            tmp.replace(folder / f"{safe}.json")  # atomic: the reader sees all of it or nothing
        except PathRefused as exc:
            raise DeliveryError(f"{url}: {exc}") from exc
        except OSError as exc:
            raise DeliveryError(f"{url}: {exc}") from exc
    elif url.startswith("mailto:"):
        email = EmailMessage(
            subject=f"{msg.kind.replace('_', ' ').title()} {msg.payload.get('purchase_order') or msg.idempotency_key}",
            body=json.dumps(msg.payload, indent=2),
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[url[len("mailto:") :]],
            headers={"X-Idempotency-Key": msg.idempotency_key},
        )
        if msg.kind == "purchase_order":
            email.attach(f"{msg.payload.get('purchase_order')}.csv", _purchase_order_csv(msg.payload), "text/csv")
        try:
            email.send(fail_silently=False)
        except Exception as exc:  # noqa: BLE001 — SMTP errors come in many types
            raise DeliveryError(f"mail to {url}: {exc}") from exc
    else:
        raise DeliveryError(f"Unsupported endpoint {url!r}: use http(s)://, file:// or mailto:.")


def outbox_message_deliver(*, message_id: int, now: datetime | None = None) -> OutboxMessage:
    """Try to deliver one message. The message is claimed first (a conditional update), so two workers
    never send it at the same time; a delivered message is never sent again. Failures are retried with
    exponential backoff until `OUTBOX_MAX_ATTEMPTS`, then the message is marked failed."""
    now = now or timezone.now()
    timeout = _dom("OUTBOX_TIMEOUT_SECONDS")
    claimable = Q(status=OutboxMessage.Status.PENDING) & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
    claimable |= Q(status=OutboxMessage.Status.SENDING, claimed_until__lt=now)  # a worker died mid-send
    claimed = OutboxMessage.objects.filter(claimable, pk=message_id).update(
        status=OutboxMessage.Status.SENDING,
        claimed_until=now + timedelta(seconds=timeout * 3),
        attempts=F("attempts") + 1,
    )
    msg = OutboxMessage.objects.select_related("location").get(pk=message_id)
    if not claimed:
        return msg
    endpoint = Endpoint.objects.filter(location=msg.location, is_active=True).first()
    try:
        if endpoint is None:
            raise DeliveryError(f"No active endpoint configured for {msg.location.code}.")
        _send(msg, endpoint)
    except DeliveryError as exc:
        give_up = msg.attempts >= _dom("OUTBOX_MAX_ATTEMPTS")
        delay = min(_dom("OUTBOX_BACKOFF_SECONDS") * 2 ** (msg.attempts - 1), 3600)
        msg.status = OutboxMessage.Status.FAILED if give_up else OutboxMessage.Status.PENDING
        msg.next_attempt_at = None if give_up else now + timedelta(seconds=delay)
        msg.last_error = str(exc)[:500]
        msg.claimed_until = None
        msg.save(update_fields=["status", "next_attempt_at", "last_error", "claimed_until"])
        return msg
    msg.status, msg.delivered_at, msg.claimed_until, msg.last_error = (
        OutboxMessage.Status.DELIVERED,
        timezone.now(),
        None,
        "",
    )
    msg.save(update_fields=["status", "delivered_at", "claimed_until", "last_error"])
    return msg


def outbox_deliver_due(*, now: datetime | None = None, batch: int = 200) -> int:
    """Deliver every message whose retry time has come. Safe to run concurrently and repeatedly."""
    now = now or timezone.now()
    ids = list(
        OutboxMessage.objects.filter(
            Q(status=OutboxMessage.Status.PENDING, next_attempt_at__lte=now)
            | Q(status=OutboxMessage.Status.PENDING, next_attempt_at__isnull=True)
            | Q(status=OutboxMessage.Status.SENDING, claimed_until__lt=now)
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:batch]
    )
    return sum(outbox_message_deliver(message_id=pk, now=now).status == OutboxMessage.Status.DELIVERED for pk in ids)
