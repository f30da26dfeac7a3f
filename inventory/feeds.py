"""WMS feeds: stock positions from warehouse systems and 3PLs, by directory, HTTP pull or HTTP push.

CSV feeds go through the fast import (`inventory.imports.stock_file_apply`) with the feed's location map.
JSON events carry a per-feed `sequence` and an event `id`:

- duplicates (an id already received) are ignored;
- gaps in the sequence are reported on the run;
- per product × location, an event older than the last `set` applied there is stale and ignored
  (the set already contains it), so an old sequence never overwrites a newer state; deltas newer than
  the last set apply in any order (they commute).

Each document is applied in one transaction that also writes its FeedRun, so a worker killed half-way
leaves nothing behind and the next run (the file is still in the inbox) applies it; a document already
applied (same checksum) is recognised and only archived.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import shutil
import tempfile
import urllib.request
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from inventory.bulk import rows_insert
from inventory.imports import ERROR_CAP, FileRejected, ImportOutcome, RowError, stock_file_apply
from inventory.models import (
    FeedRun,
    ImportMode,
    InventoryMovement,
    Location,
    Product,
    WmsEvent,
    WmsFeed,
)
from inventory.services import stock_merge_staged

log = logging.getLogger(__name__)

CHUNK = 5000
PULL_TIMEOUT_S = 30
EVENT_TYPES = {t.value for t in WmsEvent.Type}


class FeedAuthError(Exception):
    pass


# --- Authentication of pushes --------------------------------------------------------------------------


def wms_feed_secret(*, feed: WmsFeed) -> str:
    """The feed's shared secret, from the environment variable it names ("" when unset)."""
    return os.environ.get(feed.secret_env, "") if feed.secret_env else ""


def wms_push_authenticate(*, feed: WmsFeed, body: bytes, authorization: str, signature: str) -> None:
    """Check a push: `Authorization: Bearer <secret>` (token) or `X-DOM-Signature: sha256=<hex HMAC of the
    body>` (hmac). Raises FeedAuthError with the reason."""
    if not feed.is_active or feed.transport != WmsFeed.Transport.HTTP_PUSH:
        raise FeedAuthError(f"Feed {feed.name} does not accept pushes.")
    secret = wms_feed_secret(feed=feed)
    if not secret:
        raise FeedAuthError(f"Feed {feed.name} has no secret configured (set {feed.secret_env or 'secret_env'}).")
    if feed.auth == WmsFeed.Auth.HMAC:
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if not signature or not hmac.compare_digest(signature.strip(), expected):
            raise FeedAuthError("Bad or missing X-DOM-Signature (sha256=<hex HMAC-SHA256 of the body>).")
    else:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip(), secret):
            raise FeedAuthError("Bad or missing bearer token.")


# --- JSON events ---------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Event:
    id: str
    sequence: int
    product_id: int
    location_id: int
    type: str
    quantity: int
    at: datetime | None

    @property
    def signed(self) -> int:
        if self.type == "receive":
            return abs(self.quantity)
        if self.type == "ship":
            return -abs(self.quantity)
        return self.quantity


def _parse_events(*, feed: WmsFeed, payload) -> tuple[list[_Event], list[RowError]]:
    if not isinstance(payload, dict) or not isinstance(payload.get("events"), list):
        raise FileRejected('Expected a JSON object {"events": [...]}.', [RowError(0, "events", "", "missing list")])
    raw = payload["events"]
    skus = {e.get("sku") for e in raw if isinstance(e, dict) and isinstance(e.get("sku"), str)}
    products: dict[str, int] = {}
    sku_list = list(skus)
    for i in range(0, len(sku_list), CHUNK):
        products.update(Product.objects.filter(sku__in=sku_list[i : i + CHUNK]).values_list("sku", "id"))
    locations = dict(Location.objects.values_list("code", "id"))
    mapping = feed.location_map or {}
    events, errors = [], []
    for n, e in enumerate(raw, start=1):
        problems = []
        if not isinstance(e, dict):
            errors.append(RowError(n, "", str(e)[:100], "not an object"))
            continue
        eid, seq, sku, loc = e.get("id"), e.get("sequence"), e.get("sku"), e.get("location")
        typ, qty, at = e.get("type"), e.get("quantity"), e.get("at")
        if not isinstance(eid, str | int) or isinstance(eid, bool) or not str(eid) or len(str(eid)) > 100:
            problems.append(("id", eid, "missing or longer than 100 characters"))
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
            problems.append(("sequence", seq, "must be a whole number ≥ 1"))
        if sku not in products:
            problems.append(("sku", sku, "unknown SKU" if sku else "missing SKU"))
        code = mapping.get(loc, loc) if isinstance(loc, str) else None
        if code not in locations:
            problems.append(("location", loc, "unknown location" if loc else "missing location"))
        if typ not in EVENT_TYPES:
            problems.append(("type", typ, f"must be one of {', '.join(sorted(EVENT_TYPES))}"))
        if not isinstance(qty, int) or isinstance(qty, bool) or abs(qty) > 10**9:
            problems.append(("quantity", qty, "must be a whole number"))
        elif typ in ("set", "receive", "ship") and qty < 0:
            problems.append(("quantity", qty, f"must be 0 or more for {typ}"))
        when = parse_datetime(at) if isinstance(at, str) else None
        if at is not None and when is None:
            problems.append(("at", at, "not an ISO 8601 date-time"))
        if when is not None and timezone.is_naive(when):
            when = timezone.make_aware(when, timezone.utc)
        if problems:
            errors.extend(RowError(n, col, "" if v is None else str(v)[:100], why) for col, v, why in problems)
            continue
        events.append(_Event(str(eid), seq, products[sku], locations[code], typ, qty, when))
    return events, errors


def _gaps(previous_high: int, sequences: list[int]) -> list[list[int]]:
    gaps, expect = [], previous_high + 1
    for s in sequences:
        if s > expect:
            gaps.append([expect, s - 1])
        expect = max(expect, s + 1)
    return gaps


def wms_events_apply(*, feed_id: int, payload, source: str = "push", checksum: str = "") -> FeedRun:
    """Apply a batch of JSON events from a feed in one transaction and return its FeedRun.

    Invalid events are rejected one by one (listed on the run, nothing of them applied); valid ones are
    de-duplicated by id, ordered by sequence per product × location and merged set-based.
    """
    started = timezone.now()
    feed = WmsFeed.objects.get(pk=feed_id)
    try:
        events, errors = _parse_events(feed=feed, payload=payload)
    except FileRejected as exc:
        return _run_failed(feed, FeedRun.Status.REJECTED, source, checksum, exc.message, exc.errors, exc.total, started)
    pg = connection.vendor == "postgresql"
    with transaction.atomic():
        feed = WmsFeed.objects.select_for_update().get(pk=feed_id)
        if checksum and FeedRun.objects.filter(feed=feed, checksum=checksum, status=FeedRun.Status.SUCCEEDED).exists():
            return FeedRun.objects.filter(feed=feed, checksum=checksum, status=FeedRun.Status.SUCCEEDED).first()
        # Known ids, in one join against a staged list (an IN list per 5,000 ids costs a round trip each).
        seen: set[str] = {
            r[0]
            for r in _staged_join(
                table="wms_ids",
                columns=["event_id varchar(100)"],
                rows=([e.id] for e in events),
                query="SELECT s.event_id FROM {t} s JOIN inventory_wmsevent e ON e.feed_id = %s"
                " AND e.event_id = s.event_id",
                params=[feed.pk],
            )
        }
        duplicates, fresh = 0, []
        for e in events:
            if e.id in seen:
                duplicates += 1
                continue
            seen.add(e.id)
            fresh.append(e)
        by_key: dict[tuple[int, int], list[_Event]] = defaultdict(list)
        for e in fresh:
            by_key[(e.product_id, e.location_id)].append(e)
        cursors: dict[tuple[int, int], list[int]] = {
            (p, loc): [last, last_set]
            for p, loc, last, last_set in _staged_join(
                table="wms_keys",
                columns=["product_id bigint", "location_id bigint"],
                rows=iter(by_key),
                query="SELECT c.product_id, c.location_id, c.last_sequence, c.last_set_sequence FROM {t} s"
                " JOIN inventory_wmsstockcursor c ON c.feed_id = %s AND c.product_id = s.product_id"
                " AND c.location_id = s.location_id",
                params=[feed.pk],
            )
        }
        outcome: dict[str, str] = {}
        effects: list[list] = []  # row_no, product_id, location_id, set_qty, delta
        history: list[tuple[tuple[int, int], int, int]] = []  # key, set sequence, effect index
        stale = superseded = 0
        for key, evs in by_key.items():
            evs.sort(key=lambda e: e.sequence)
            last, last_set = cursors.get(key, [0, 0])
            live = []
            for e in evs:
                if e.sequence < last_set:
                    outcome[e.id] = WmsEvent.Outcome.STALE
                    stale += 1
                else:
                    live.append(e)
            if not live:
                continue
            sets = [e for e in live if e.type == "set"]
            if sets:
                newest = sets[-1]
                set_qty = newest.quantity
                delta = 0
                for e in live:
                    if e.sequence < newest.sequence or (e.type == "set" and e is not newest):
                        outcome[e.id] = WmsEvent.Outcome.SUPERSEDED
                        superseded += 1
                    elif e is not newest:
                        delta += e.signed
                if last > newest.sequence:
                    # Deltas applied earlier but newer than this set still count on top of it.
                    history.append((key, newest.sequence, len(effects)))
                last_set = newest.sequence
            else:
                set_qty, delta = None, sum(e.signed for e in live)
            effects.append([len(effects) + 1, key[0], key[1], set_qty, delta])
            cursors[key] = [max(last, live[-1].sequence), last_set]
        for key, set_seq, idx in history:
            total = sum(
                q if t == "adjust" else (abs(q) if t == "receive" else -abs(q))
                for t, q in WmsEvent.objects.filter(
                    feed=feed,
                    product_id=key[0],
                    location_id=key[1],
                    sequence__gt=set_seq,
                    outcome=WmsEvent.Outcome.APPLIED,
                )
                .exclude(type="set")
                .values_list("type", "quantity")
            )
            effects[idx][4] += total
        high = feed.last_sequence
        new_seqs = sorted({e.sequence for e in fresh if e.sequence > high})
        gaps = _gaps(high, new_seqs)
        late = sum(1 for e in fresh if e.sequence <= high)
        if new_seqs:
            feed.last_sequence = new_seqs[-1]
            feed.save(update_fields=["last_sequence", "updated_at"])
        run = FeedRun.objects.create(
            feed=feed, status=FeedRun.Status.SUCCEEDED, source=source[:500], checksum=checksum, started_at=started
        )
        if effects:
            stage = f"wms_stage_{run.pk}"
            with connection.cursor() as cur:
                cur.execute(
                    f"CREATE TEMP TABLE {stage} (row_no bigint, product_id bigint, location_id bigint,"
                    f" set_qty integer, delta integer){' ON COMMIT DROP' if pg else ''}"
                )
            rows_insert(table=stage, columns=["row_no", "product_id", "location_id", "set_qty", "delta"], rows=effects)
            stock_merge_staged(
                table=stage,
                mode="mixed",
                reason=InventoryMovement.Reason.FEED,
                reference=f"feed:{feed.name}:run:{run.pk}",
                clamp_at_zero=True,
            )
            if not pg:
                with connection.cursor() as cur:
                    cur.execute(f"DROP TABLE {stage}")
        adapt = (lambda d: d) if pg else connection.ops.adapt_datetimefield_value
        rows_insert(
            table=WmsEvent._meta.db_table,
            columns=[
                "feed_id",
                "event_id",
                "sequence",
                "product_id",
                "location_id",
                "type",
                "quantity",
                "at",
                "outcome",
                "run_id",
            ],
            rows=(
                [
                    feed.pk,
                    e.id,
                    e.sequence,
                    e.product_id,
                    e.location_id,
                    e.type,
                    e.quantity,
                    adapt(e.at) if e.at else None,
                    outcome.get(e.id, WmsEvent.Outcome.APPLIED),
                    run.pk,
                ]
                for e in fresh
            ),
        )
        _cursors_save(feed.pk, {k: cursors[k] for k in by_key if k in cursors})
        applied = len(fresh) - stale - superseded
        run.rows_applied = applied
        run.rows_rejected = len({e.row for e in errors})
        run.report = {
            "received": len(payload["events"]),
            "applied": applied,
            "duplicates": duplicates,
            "stale": stale,
            "superseded": superseded,
            "late": late,
            "gaps": gaps,
            "errors": [e.as_dict() for e in errors[:ERROR_CAP]],
            "error_total": len(errors),
        }
        if not fresh and errors:
            run.status = FeedRun.Status.REJECTED
        parts = [f"{applied} event(s) applied", f"{duplicates} duplicate(s) ignored", f"{stale} stale"]
        if gaps:
            parts.append("gaps in sequence: " + ", ".join(f"{a}–{b}" if a != b else str(a) for a, b in gaps[:20]))
        if errors:
            parts.append(f"{run.rows_rejected} event(s) rejected")
        run.message = "; ".join(parts) + "."
        run.finished_at = timezone.now()
        run.save()
        if errors or run.status != FeedRun.Status.SUCCEEDED:
            transaction.on_commit(lambda: wms_feed_alert(run_id=run.pk))
    return run


def _staged_join(*, table: str, columns: list[str], rows, query: str, params: list) -> list[tuple]:
    """Stage `rows` in a temporary table and run `query` (with `{t}` for its name) against it."""
    with connection.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {table}")
        cur.execute(f"CREATE TEMP TABLE {table} ({', '.join(columns)})")
    rows_insert(table=table, columns=[c.split()[0] for c in columns], rows=rows)
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute(f"ANALYZE {table}")
        cur.execute(query.format(t=table), params)
        found = cur.fetchall()
        cur.execute(f"DROP TABLE {table}")
    return found


def _cursors_save(feed_id: int, cursors: dict[tuple[int, int], list[int]]) -> None:
    if not cursors:
        return
    stage = "wms_cursor_stage"
    with connection.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {stage}")
        cur.execute(
            f"CREATE TEMP TABLE {stage} (product_id bigint, location_id bigint, last_sequence bigint,"
            f" last_set_sequence bigint)"
        )
    rows_insert(
        table=stage,
        columns=["product_id", "location_id", "last_sequence", "last_set_sequence"],
        rows=([p, loc, last, last_set] for (p, loc), (last, last_set) in cursors.items()),
    )
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute(f"ANALYZE {stage}")
        # One UPDATE … FROM for known keys and one INSERT for new ones (the feed row is locked, so no
        # other writer races us here); cheaper than a per-row ON CONFLICT.
        cur.execute(
            f"UPDATE inventory_wmsstockcursor SET last_sequence = s.last_sequence,"
            f" last_set_sequence = s.last_set_sequence FROM {stage} s"
            f" WHERE inventory_wmsstockcursor.feed_id = %s AND inventory_wmsstockcursor.product_id = s.product_id"
            f" AND inventory_wmsstockcursor.location_id = s.location_id",
            [feed_id],
        )
        cur.execute(
            f"INSERT INTO inventory_wmsstockcursor (feed_id, product_id, location_id, last_sequence,"
            f" last_set_sequence) SELECT %s, s.product_id, s.location_id, s.last_sequence, s.last_set_sequence"
            f" FROM {stage} s WHERE NOT EXISTS (SELECT 1 FROM inventory_wmsstockcursor c WHERE c.feed_id = %s"
            f" AND c.product_id = s.product_id AND c.location_id = s.location_id)",
            [feed_id, feed_id],
        )
        cur.execute(f"DROP TABLE {stage}")


# --- Documents: files and pulls -------------------------------------------------------------------------


def _run_failed(
    feed: WmsFeed,
    status: str,
    source: str,
    checksum: str,
    message: str,
    errors: list[RowError],
    total: int,
    started: datetime,
) -> FeedRun:
    run = FeedRun.objects.create(
        feed=feed,
        status=status,
        source=source[:500],
        checksum=checksum,
        started_at=started,
        finished_at=timezone.now(),
        rows_rejected=total,
        report={"errors": [e.as_dict() for e in errors[:ERROR_CAP]], "error_total": total},
        message=message,
    )
    transaction.on_commit(lambda: wms_feed_alert(run_id=run.pk))
    return run


def _already_applied(feed: WmsFeed, checksum: str) -> FeedRun | None:
    return FeedRun.objects.filter(feed=feed, checksum=checksum, status=FeedRun.Status.SUCCEEDED).first()


def wms_document_apply(*, feed_id: int, fileobj, source: str) -> tuple[FeedRun, bool]:
    """Apply one document (a file or a pulled body) of a feed. Returns (run, newly_applied)."""
    feed = WmsFeed.objects.get(pk=feed_id)
    started = timezone.now()
    fileobj.seek(0)
    digest = hashlib.sha256()
    while chunk := fileobj.read(1 << 20):
        digest.update(chunk)
    checksum = digest.hexdigest()
    fileobj.seek(0)
    done = _already_applied(feed, checksum)
    if done:
        return done, False
    if feed.format == WmsFeed.Format.JSON_EVENTS:
        try:
            payload = json.load(fileobj)
        except (ValueError, UnicodeDecodeError) as exc:
            return (
                _run_failed(feed, FeedRun.Status.REJECTED, source, checksum, f"Not valid JSON: {exc}.", [], 1, started),
                False,
            )
        run = wms_events_apply(feed_id=feed.pk, payload=payload, source=source, checksum=checksum)
        return run, run.status == FeedRun.Status.SUCCEEDED
    mode = ImportMode.SNAPSHOT if feed.format == WmsFeed.Format.CSV_SNAPSHOT else ImportMode.DELTA
    holder: dict = {}

    def record(outcome: ImportOutcome) -> bool:
        locked = WmsFeed.objects.select_for_update().get(pk=feed.pk)  # one writer per feed
        if _already_applied(locked, checksum):
            return False
        holder["run"] = FeedRun.objects.create(
            feed=locked,
            status=FeedRun.Status.SUCCEEDED,
            source=source[:500],
            checksum=checksum,
            started_at=started,
            finished_at=timezone.now(),
            rows_applied=outcome.rows_total,
            report={"rows": outcome.rows_total, "changed": outcome.rows_changed, "shortages": outcome.shortages},
            message=f"{outcome.rows_changed} of {outcome.rows_total} rows changed stock.",
        )
        return True

    try:
        stock_file_apply(
            fileobj=fileobj,
            mode=mode,
            location_id=feed.default_location_id,
            location_map=feed.location_map or {},
            reason=InventoryMovement.Reason.FEED,
            reference=f"feed:{feed.name}:{Path(source).name}"[:200],
            before_commit=record,
            tag=f"feed{feed.pk}",
        )
    except FileRejected as exc:
        return (
            _run_failed(feed, FeedRun.Status.REJECTED, source, checksum, exc.message, exc.errors, exc.total, started),
            False,
        )
    if "run" not in holder:  # another worker applied it meanwhile
        return _already_applied(feed, checksum), False
    return holder["run"], True


def _move(path: Path, folder: str) -> None:
    target = path.parent / folder
    target.mkdir(exist_ok=True)
    dest = target / path.name
    if dest.exists():
        dest = target / f"{path.stem}-{timezone.now():%Y%m%d%H%M%S%f}{path.suffix}"
    shutil.move(str(path), str(dest))


def wms_feed_run(*, feed_id: int) -> list[FeedRun]:
    """One scheduled pass of a feed: process every new file in its inbox (then archive it) or pull its
    URL once. Safe to run twice and after a crash: applied documents are recognised by checksum."""
    feed = WmsFeed.objects.get(pk=feed_id)
    if not feed.is_active:
        return []
    runs: list[FeedRun] = []
    if feed.transport == WmsFeed.Transport.DIRECTORY:
        inbox = Path(feed.directory)
        if not feed.directory or not inbox.is_dir():
            return [
                _run_failed(
                    feed,
                    FeedRun.Status.FAILED,
                    feed.directory,
                    "",
                    f"Inbox directory {feed.directory!r} does not exist.",
                    [],
                    0,
                    timezone.now(),
                )
            ]
        for path in sorted(p for p in inbox.iterdir() if p.is_file() and not p.name.startswith(".")):
            with path.open("rb") as f:
                run, _ = wms_document_apply(feed_id=feed.pk, fileobj=f, source=path.name)
            _move(path, "archive" if run.status == FeedRun.Status.SUCCEEDED else "rejected")
            runs.append(run)
    elif feed.transport == WmsFeed.Transport.HTTP_PULL:
        started = timezone.now()
        request = urllib.request.Request(feed.url, headers={"Accept": "text/csv, application/json"})
        secret = wms_feed_secret(feed=feed)
        if secret:
            request.add_header("Authorization", f"Bearer {secret}")
        try:
            with urllib.request.urlopen(request, timeout=PULL_TIMEOUT_S) as resp, tempfile.TemporaryFile() as body:
                shutil.copyfileobj(resp, body, 1 << 20)
                run, _ = wms_document_apply(feed_id=feed.pk, fileobj=body, source=feed.url)
        except OSError as exc:  # URLError, HTTPError, timeouts
            run = _run_failed(
                feed, FeedRun.Status.FAILED, feed.url, "", f"Could not fetch {feed.url}: {exc}.", [], 0, started
            )
        runs.append(run)
    return runs


def wms_feed_alert(*, run_id: int) -> None:
    """Email the Inventory managers' alert list about a failed or partly rejected feed run."""
    recipients = list(getattr(settings, "INVENTORY_ALERT_EMAILS", []))
    if not recipients:
        return
    run = FeedRun.objects.select_related("feed").get(pk=run_id)
    lines = [f"Feed: {run.feed.name}", f"Run: {run.pk} ({run.get_status_display()})", f"Source: {run.source}", ""]
    lines.append(run.message)
    for e in (run.report or {}).get("errors", [])[:20]:
        lines.append(f"  row {e['row']}, {e['column'] or '-'}: {e['reason']} ({e['value']!r})")
    try:
        send_mail(
            subject=f"[DOM] WMS feed {run.feed.name}: {run.get_status_display().lower()}",
            message="\n".join(lines),
            from_email=None,
            recipient_list=recipients,
        )
    except OSError:
        log.exception("could not send the feed alert for run %s", run.pk)


# --- Schedules -------------------------------------------------------------------------------------------

SCHEDULE_PREFIX = "inventory: wms feed "


def wms_feed_schedules_sync() -> list[str]:
    """One django-q2 schedule per active pulled or watched feed, every `every_minutes`; schedules of
    inactive or deleted feeds are removed. Idempotent. Returns what it did, one line each."""
    from django_q.models import Schedule

    done = []
    wanted = set()
    for feed in WmsFeed.objects.filter(is_active=True).exclude(transport=WmsFeed.Transport.HTTP_PUSH):
        wanted.add(feed.schedule_name)
        _, created = Schedule.objects.update_or_create(
            name=feed.schedule_name,
            defaults={
                "func": "inventory.tasks.wms_feed_run",
                "args": repr((feed.pk,)),
                "schedule_type": Schedule.MINUTES,
                "minutes": max(1, feed.every_minutes),
                "repeats": -1,
            },
        )
        done.append(f"{'created' if created else 'updated'}: {feed.schedule_name} every {feed.every_minutes} min")
    for name in Schedule.objects.filter(name__startswith=SCHEDULE_PREFIX).values_list("name", flat=True):
        if name not in wanted:
            Schedule.objects.filter(name=name).delete()
            done.append(f"removed: {name}")
    return done
