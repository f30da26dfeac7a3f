"""The outbound delivery loop: pending deliveries to the subscribers' URLs, fast under a burst, with every
guarantee of the outbox (each event once per subscription, an order's events in order, retries, dead letters).

Lanes. A worker drains subscription by subscription (a lane each), round-robin, until nothing is due. In a
lane it claims a batch (DOM["OUTBOX_CLAIM_BATCH"]) in one short transaction, sends it over one keep-alive
connection (common.netguard.OutboundSession: every outbound check still runs on every request) and records
the results in a few set-based updates.

Claims (PostgreSQL). A delivery is claimable when it is due (pending and past its backoff, or sending with
an expired lease) and every earlier open delivery of the same order to the same subscription is claimable
too: a chain claim takes an order's chain from its head, never from the middle. The candidate rows are
locked with `SELECT ... FOR UPDATE SKIP LOCKED`, so concurrent workers take different chains without waiting;
of an order's candidates a worker keeps only those before the first one it could not lock (a row another
worker holds or claimed meanwhile). Claimed rows are `sending` with a lease of 3 × DOM["OUTBOX_TIMEOUT_
SECONDS"]; a worker that dies leaves them to be claimed again when the lease ends. In a batch, an order's
events go in event order; after a failure the order's later events go back to pending untouched. A later
event of an order is therefore never sent before the earlier one is delivered (or dead).

Attempts are counted when they are recorded (delivered or failed), not at the claim, so events released
unsent behind a failure or a slow-lane stop keep their retry budget; a lease that expired counts as a failed
attempt when the row is claimed again.

Slow lanes. A lane stops after DOM["OUTBOX_SLOW_SECONDS"] of sending (at most 2 × the timeout, so a batch
ends well within its lease): its unsent rows go back to pending and the worker serves the other lanes before
it comes back, so one slow subscriber does not hold up the others.

SQLite (development, tests) has no SKIP LOCKED: deliveries go one at a time through `delivery_deliver`, a
conditional claim of one row, with the same ordering and retry rules.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, Exists, F, OuterRef, PositiveIntegerField, Q, When
from django.utils import timezone

from common.netguard import OutboundError, OutboundRefused, OutboundSession, OutboundTooLarge
from webhooks.models import Delivery, Subscription
from webhooks.shopify_out import ShopifyFailed, shopify_delivery_send
from webhooks.signing import webhook_headers_sign

OPEN = (Delivery.Status.PENDING, Delivery.Status.SENDING)
DRAIN_SECONDS = 300  # one task drains at most this long (the django-q2 timeout is longer); the sweep goes on
_local = threading.local()


def _dom(name: str):
    return settings.DOM[name]


class DeliveryFailed(Exception):
    def __init__(self, message: str, *, code: int | None = None, body: str = "") -> None:
        super().__init__(message)
        self.code, self.body = code, body


def _session_get(*, subscription_id: int) -> OutboundSession:
    """This worker's keep-alive session for a subscription (one per thread and subscription)."""
    sessions = getattr(_local, "sessions", None)
    if sessions is None:
        sessions = _local.sessions = {}
    if subscription_id not in sessions:
        sessions[subscription_id] = OutboundSession()
    return sessions[subscription_id]


def delivery_post(*, delivery: Delivery, now: datetime, session: OutboundSession | None = None) -> tuple[int, str]:
    """Send one delivery (a signed POST, or a Shopify mutation); returns (status, response excerpt) or
    raises DeliveryFailed."""
    from webhooks.services import event_body, subscription_signing_secrets

    sub, event = delivery.subscription, delivery.event
    if sub.kind == Subscription.Kind.SHOPIFY:
        try:
            return shopify_delivery_send(delivery=delivery)
        except ShopifyFailed as exc:
            raise DeliveryFailed(str(exc), code=exc.code, body=exc.body) from exc
    body = event_body(event=event)
    headers = webhook_headers_sign(
        msg_id=event.uid, timestamp=now, body=body, secrets_=subscription_signing_secrets(subscription=sub, now=now)
    )
    headers["Content-Type"] = "application/json"
    session = session or _session_get(subscription_id=sub.pk)
    try:
        resp = session.request(
            url=sub.url,
            method="POST",
            body=body.encode(),
            headers=headers,
            timeout=_dom("OUTBOX_TIMEOUT_SECONDS"),
            max_bytes=64 * 1024,
        )
    except (OutboundRefused, OutboundTooLarge, OutboundError) as exc:
        session.close()
        raise DeliveryFailed(str(exc)) from exc
    excerpt = resp.body[:500].decode("utf-8", errors="replace")
    if not 200 <= resp.status < 300:
        raise DeliveryFailed(f"HTTP {resp.status}", code=resp.status, body=excerpt)
    return resp.status, excerpt


def _failure_record(*, delivery: Delivery, exc: DeliveryFailed, now: datetime) -> None:
    """Count the attempt; retry after a backoff (doubling, at most an hour) or give up (dead)."""
    d = delivery
    d.attempts += 1
    give_up = d.attempts >= _dom("OUTBOX_MAX_ATTEMPTS")
    delay = min(_dom("OUTBOX_BACKOFF_SECONDS") * 2 ** (d.attempts - 1), 3600)
    d.status = Delivery.Status.DEAD if give_up else Delivery.Status.PENDING
    d.next_attempt_at = None if give_up else now + timedelta(seconds=delay)
    d.last_error, d.last_status_code, d.last_response = str(exc)[:500], exc.code, exc.body
    d.claimed_until, d.last_attempt_at = None, now
    fields = ["status", "attempts", "next_attempt_at", "last_error", "last_status_code", "last_response"]
    d.save(update_fields=[*fields, "claimed_until", "last_attempt_at"])


def _delivered_record(*, done: list[tuple[int, int, str]], now: datetime) -> None:
    """Mark delivered rows (id, status code, excerpt), one update per distinct answer."""
    by_answer = defaultdict(list)
    for pk, code, excerpt in done:
        by_answer[(code, excerpt)].append(pk)
    for (code, excerpt), pks in by_answer.items():
        Delivery.objects.filter(pk__in=pks).update(
            status=Delivery.Status.DELIVERED,
            delivered_at=now,
            claimed_until=None,
            last_error="",
            last_status_code=code,
            last_response=excerpt,
            attempts=F("attempts") + 1,
            last_attempt_at=now,
        )


# --- One delivery at a time (SQLite, "send again", tests) ------------------------------------------------


# A row claimed again after its lease expired: the attempt its worker never recorded counts now.
_ATTEMPTS_AT_CLAIM = Case(
    When(status=Delivery.Status.SENDING, then=F("attempts") + 1),
    default=F("attempts"),
    output_field=PositiveIntegerField(),
)


def _claimable(*, now: datetime) -> Q:
    due = Q(status=Delivery.Status.PENDING) & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
    return due | Q(status=Delivery.Status.SENDING, claimed_until__lt=now)  # a worker died mid-send


def _earlier_open():
    return Delivery.objects.filter(
        subscription_id=OuterRef("subscription_id"),
        order_id=OuterRef("order_id"),
        event_id__lt=OuterRef("event_id"),
        status__in=OPEN,
    )


def delivery_deliver(*, delivery_id: int, now: datetime | None = None) -> Delivery:
    """Try one delivery once, if it is due, its subscription active and no earlier delivery of the same
    order to the same subscription is still open. Returns the delivery as it is afterwards."""
    now = now or timezone.now()
    lease = now + timedelta(seconds=_dom("OUTBOX_TIMEOUT_SECONDS") * 3)
    with transaction.atomic():
        # Lock the row first: the claim below filters through a join, which Django writes as `id IN
        # (subquery)`, and PostgreSQL does not re-check such a subquery after waiting for a row lock; taken
        # after the lock, the claim's own snapshot sees another worker's committed claim.
        Delivery.objects.select_for_update().filter(pk=delivery_id).values_list("pk", flat=True).first()
        base = Delivery.objects.filter(_claimable(now=now), pk=delivery_id, subscription__is_active=True)
        base = base.exclude(Exists(_earlier_open()))
        claimed = base.update(status=Delivery.Status.SENDING, claimed_until=lease, attempts=_ATTEMPTS_AT_CLAIM)
    d = Delivery.objects.select_related("event", "subscription").get(pk=delivery_id)
    if not claimed:
        return d
    try:
        code, excerpt = delivery_post(delivery=d, now=now)
    except DeliveryFailed as exc:
        _failure_record(delivery=d, exc=exc, now=now)
        return d
    _delivered_record(done=[(d.pk, code, excerpt)], now=now)
    d.refresh_from_db()
    return d


def _deliveries_deliver_plain(*, now: datetime, batch: int) -> int:
    """One delivery at a time, oldest event first; an order's next event follows as soon as it is unblocked."""
    due = (
        Delivery.objects.filter(_claimable(now=now), subscription__is_active=True)
        .exclude(Exists(_earlier_open()))
        .order_by("event_id", "id")
        .values_list("pk", flat=True)[:batch]
    )
    done = 0
    for pk in list(due):
        pending = [pk]
        while pending:
            d = delivery_deliver(delivery_id=pending.pop(), now=now)
            if d.status != Delivery.Status.DELIVERED:
                continue
            done += 1
            # The order's next open event to this subscription, now unblocked, goes at once if it is due.
            nxt = (
                Delivery.objects.filter(
                    subscription_id=d.subscription_id, order_id=d.order_id, event_id__gt=d.event_id, status__in=OPEN
                )
                .order_by("event_id")
                .first()
                if d.order_id
                else None
            )
            nxt = nxt.pk if nxt and Delivery.objects.filter(_claimable(now=now), pk=nxt.pk).exists() else None
            if nxt:
                pending.append(nxt)
    return done


# --- Lanes with chain claims (PostgreSQL) ----------------------------------------------------------------

_CANDIDATES = """
WITH open AS (
    SELECT d.id, d.event_id, d.order_id,
        SUM(CASE WHEN (d.status = 'pending' AND (d.next_attempt_at IS NULL OR d.next_attempt_at <= %(now)s))
                   OR (d.status = 'sending' AND d.claimed_until < %(now)s) THEN 0 ELSE 1 END)
            OVER w AS blocked,
        MIN(d.event_id) OVER w AS head
    FROM {table} d
    WHERE d.subscription_id = %(sub)s AND d.status IN ('pending', 'sending')
    WINDOW w AS (PARTITION BY COALESCE(d.order_id, -d.id) ORDER BY d.event_id ROWS UNBOUNDED PRECEDING)
)
SELECT id, COALESCE(order_id, -id) FROM open WHERE blocked = 0 ORDER BY head, event_id LIMIT %(limit)s
"""

_LOCK = """
SELECT id FROM {table}
WHERE id = ANY(%(ids)s)
  AND ((status = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= %(now)s))
       OR (status = 'sending' AND claimed_until < %(now)s))
ORDER BY array_position(%(ids)s, id)
LIMIT %(limit)s
FOR UPDATE SKIP LOCKED
"""


def lane_claim(*, subscription_id: int, now: datetime, batch: int) -> list[int]:
    """Claim up to `batch` deliveries of one subscription, whole order chains from their heads (module
    docstring); returns their ids in sending order. Concurrent callers get disjoint claims without waiting."""
    table = Delivery._meta.db_table
    lease = now + timedelta(seconds=_dom("OUTBOX_TIMEOUT_SECONDS") * 3)
    with transaction.atomic(), connection.cursor() as cur:
        # More candidates than the batch: rows a concurrent worker is locking are skipped, not waited for.
        cur.execute(_CANDIDATES.format(table=table), {"now": now, "sub": subscription_id, "limit": batch * 4})
        candidates = cur.fetchall()
        if not candidates:
            return []
        ids = [pk for pk, _ in candidates]
        cur.execute(_LOCK.format(table=table), {"ids": ids, "now": now, "limit": batch})
        locked = {pk for (pk,) in cur.fetchall()}
        claimed, broken = [], set()
        for pk, chain in candidates:
            if pk not in locked:
                broken.add(chain)  # never a later event of this order without this one
            elif chain not in broken:
                claimed.append(pk)
        if claimed:
            Delivery.objects.filter(pk__in=claimed).update(
                status=Delivery.Status.SENDING, claimed_until=lease, attempts=_ATTEMPTS_AT_CLAIM
            )
    return claimed


def _release(*, pks: list[int]) -> None:
    """Claimed rows not sent (behind a failure of their order, or a slow-lane stop): pending again, unchanged."""
    if pks:
        Delivery.objects.filter(pk__in=pks, status=Delivery.Status.SENDING).update(
            status=Delivery.Status.PENDING, claimed_until=None
        )


def lane_deliver(*, subscription_id: int, now: datetime | None = None, batch: int | None = None) -> tuple[int, int]:
    """Claim one batch of a subscription and send it, in order, over the worker's keep-alive session.
    Returns (claimed, delivered). Stops early (its unsent rows released) when the lane is slow."""
    now = now or timezone.now()
    claimed = lane_claim(subscription_id=subscription_id, now=now, batch=batch or _dom("OUTBOX_CLAIM_BATCH"))
    if not claimed:
        return 0, 0
    budget = min(_dom("OUTBOX_SLOW_SECONDS"), 2 * _dom("OUTBOX_TIMEOUT_SECONDS"))
    rows = Delivery.objects.select_related("event", "subscription").filter(pk__in=claimed).in_bulk()
    started, done, unsent, failed_chains = time.monotonic(), [], [], set()
    for n, pk in enumerate(claimed):
        d = rows[pk]
        chain = d.order_id or -pk
        if chain in failed_chains:
            unsent.append(pk)
            continue
        if time.monotonic() - started > budget:
            unsent.extend(claimed[n:])  # slow lane: the others go first; the rest waits for the next turn
            break
        try:
            code, excerpt = delivery_post(delivery=d, now=now)
        except DeliveryFailed as exc:
            failed_chains.add(chain)
            _failure_record(delivery=d, exc=exc, now=now)
            continue
        done.append((pk, code, excerpt))
    with transaction.atomic():
        _delivered_record(done=done, now=now)
        _release(pks=unsent)
    return len(claimed), len(done)


def _lanes_due(*, now: datetime) -> list[int]:
    open_ = Delivery.objects.filter(_claimable(now=now), subscription_id=OuterRef("pk"))
    return list(Subscription.objects.filter(Exists(open_), is_active=True).order_by("pk").values_list("pk", flat=True))


def deliveries_drain(*, now: datetime | None = None, batch: int | None = None) -> int:
    """Deliver every due delivery. Safe to run concurrently and repeatedly (PostgreSQL: lanes with chain
    claims; SQLite: one at a time). Returns deliveries made."""
    fixed = now
    if connection.vendor != "postgresql":
        return _deliveries_deliver_plain(now=now or timezone.now(), batch=batch or 500)
    started, done = time.monotonic(), 0
    while time.monotonic() - started < DRAIN_SECONDS:
        now = fixed or timezone.now()
        lanes, claimed = _lanes_due(now=now), 0
        for sub_id in lanes:
            c, d = lane_deliver(subscription_id=sub_id, now=now, batch=batch)
            claimed, done = claimed + c, done + d
        if not claimed:
            break
    return done
