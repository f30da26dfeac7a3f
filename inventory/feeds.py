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
import logging
import shutil
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core.mail import send_mail
from django.db import DataError, IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.exceptions import ParseError, ValidationError

from common.bulk import gc_paused, rows_insert
from common.credentials import CredentialRefused, credential_env_read
from common.netguard import OutboundError, OutboundRefused, OutboundTooLarge, outbound_request
from common.parsers import json_body_load
from common.pathguard import PathRefused, path_inside_root, path_under_root
from inventory.imports import ERROR_CAP, FileRejected, ImportOutcome, RowError, stock_file_apply
from inventory.models import (
    FeedRun,
    ImportMode,
    InventoryMovement,
    Location,
    Product,
    StockLevel,
    WmsEvent,
    WmsFeed,
)
from inventory.services import BelowZero, stock_merge_staged

log = logging.getLogger(__name__)

CHUNK = 5000
MESSAGE_CAP = 300  # characters of a run's message; a refused value is quoted at most 100 (`_shown`)
EVENT_TYPES = {t.value for t in WmsEvent.Type}


class FeedAuthError(Exception):
    pass


# --- Authentication of pushes --------------------------------------------------------------------------


def wms_feed_secret(*, feed: WmsFeed) -> str:
    """The feed's shared secret, from the environment variable it names ("" when unset). Raises
    CredentialRefused when the name is outside the allow-list, however the row was written."""
    return credential_env_read(name=feed.secret_env, kind="feed")


def wms_push_authenticate(*, feed: WmsFeed, body: bytes, authorization: str, signature: str) -> None:
    """Check a push: `Authorization: Bearer <secret>` (token) or `X-DOM-Signature: sha256=<hex HMAC of the
    body>` (hmac). Raises FeedAuthError with the reason."""
    if not feed.is_active or feed.transport != WmsFeed.Transport.HTTP_PUSH:
        raise FeedAuthError(f"Feed {feed.name} does not accept pushes.")
    try:
        secret = wms_feed_secret(feed=feed)
    except CredentialRefused as exc:
        log.error("feed %s: refused secret variable %r: %s", feed.name, feed.secret_env, exc)
        raise FeedAuthError(f"Feed {feed.name} has no usable secret configured.") from exc
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

# The fields of a checked event's tuple (the events table's columns but `n`, the event's 1-based position
# in the document, used to name it in errors and effects).
_EVENT_COLUMNS = ["n", "event_id", "sequence", "product_id", "location_id", "type", "quantity", "at"]
MAX_SEQUENCE = 2**63 - 1  # bigint
MAX_QUANTITY = 10**9
MAX_LEVEL = 2**31 - 1  # StockLevel quantities are integer columns
_UNSEEN = object()


def _shown(value) -> str:
    """A refused value as the report shows it: at most 100 characters, NUL as U+FFFD (JSON in PostgreSQL
    cannot hold it)."""
    return "" if value is None else str(value)[:100].replace("\x00", "\ufffd")


# An event's `at`: from the epoch to a day ahead (clock skew); beyond, date arithmetic and reads overflow.
AT_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
AT_AHEAD = timedelta(days=1)


def _at_in_range(value: datetime) -> bool:
    try:
        return AT_EARLIEST <= value.astimezone(UTC) <= timezone.now() + AT_AHEAD
    except OverflowError:
        return False


def _event_problems(e, *, products: dict, location_id, when) -> list[tuple[str, object, str]]:
    """Everything wrong with one event, by field (the careful check, for events the quick one refused)."""
    if not isinstance(e, dict):
        return [("", e, "not an object")]
    problems = []
    eid, seq, sku, loc = e.get("id"), e.get("sequence"), e.get("sku"), e.get("location")
    typ, qty, at = e.get("type"), e.get("quantity"), e.get("at")
    if not isinstance(eid, str | int) or isinstance(eid, bool) or not str(eid) or len(str(eid)) > 100:
        problems.append(("id", eid, "missing or longer than 100 characters"))
    elif "\x00" in str(eid):
        problems.append(("id", eid, "must not contain a NUL character"))
    if not isinstance(seq, int) or isinstance(seq, bool) or not 1 <= seq <= MAX_SEQUENCE:
        problems.append(("sequence", seq, "must be a whole number ≥ 1"))
    if not isinstance(sku, str) or sku not in products:
        problems.append(("sku", sku, "unknown SKU" if sku else "missing SKU"))
    if location_id(loc) is None:
        problems.append(("location", loc, "unknown location" if loc else "missing location"))
    if type(typ) is not str or typ not in EVENT_TYPES:
        problems.append(("type", typ, f"must be one of {', '.join(sorted(EVENT_TYPES))}"))
    if not isinstance(qty, int) or isinstance(qty, bool) or abs(qty) > MAX_QUANTITY:
        problems.append(("quantity", qty, "must be a whole number"))
    elif typ in ("set", "receive", "ship") and qty < 0:
        problems.append(("quantity", qty, f"must be 0 or more for {typ}"))
    if at is not None and when(at) is None:
        problems.append(("at", at, "not an ISO 8601 date-time"))
    return problems


def _event_lookups(*, feed: WmsFeed, raw: list) -> tuple[dict[str, int], Callable, Callable]:
    """The document's SKUs to product ids, and two memoised look-ups: a feed location (through the feed's
    map) to a location id, and an `at` text to its stored value."""
    skus = {e.get("sku") for e in raw if type(e) is dict and type(e.get("sku")) is str}
    skus = [s for s in skus if "\x00" not in s]  # (PostgreSQL text cannot hold NUL: unknown without asking)
    products: dict[str, int] = {}
    for i in range(0, len(skus), CHUNK):
        products.update(Product.objects.filter(sku__in=skus[i : i + CHUNK]).values_list("sku", "id"))
    codes = dict(Location.objects.values_list("code", "id"))
    mapping = feed.location_map or {}
    located: dict[str, int | None] = {}
    # Dates are written as text (the database's own on SQLite; ISO 8601 for COPY on PostgreSQL, which
    # then does not convert a datetime object per row).
    adapt = datetime.isoformat if connection.vendor == "postgresql" else connection.ops.adapt_datetimefield_value
    dates: dict[str, object] = {}

    def location_id(loc) -> int | None:
        if type(loc) is not str:
            return None
        lid = located.get(loc, _UNSEEN)
        if lid is _UNSEEN:
            code = mapping.get(loc, loc)
            lid = located[loc] = codes.get(code) if isinstance(code, str) else None
        return lid

    def when(at):
        """The stored value of an `at` text (None when it is not a date-time), parsed once per distinct text."""
        if type(at) is not str:
            return None
        value = dates.get(at, _UNSEEN)
        if value is _UNSEEN:
            try:
                value = parse_datetime(at)
            except ValueError:  # well-formed but out of range (month 13)
                value = None
            if value is not None:
                if timezone.is_naive(value):
                    value = timezone.make_aware(value, UTC)
                value = adapt(value) if _at_in_range(value) else None
            dates[at] = value
        return value

    return products, location_id, when


def _event_careful(*, n: int, e, products: dict[str, int], location_id: Callable, when: Callable) -> tuple | list:
    """An event the quick check did not pass: its errors naming each field, or its staging row when it is
    valid after all (an integer id, say)."""
    problems = _event_problems(e, products=products, location_id=location_id, when=when)
    if problems:
        return [RowError(n, col, _shown(v), why) for col, v, why in problems]
    at = e.get("at")
    return (
        n,
        str(e["id"]),
        e["sequence"],
        products[e["sku"]],
        location_id(e["location"]),
        e["type"],
        e["quantity"],
        None if at is None else when(at),
    )


def _parse_events(*, feed: WmsFeed, payload) -> tuple[list[tuple], list[RowError], int]:
    """Check every event in Python (types, known SKU and location through the feed's map, date) and
    return (staging rows of the valid events, errors naming event and field, repeats of an id within the
    document). Most events pass a quick check; only the others take the careful one that names problems."""
    if not isinstance(payload, dict) or not isinstance(payload.get("events"), list):
        raise FileRejected('Expected a JSON object {"events": [...]}.', [RowError(0, "events", "", "missing list")])
    raw = payload["events"]
    products, location_id, when = _event_lookups(feed=feed, raw=raw)
    rows: list[tuple] = []
    errors: list[RowError] = []
    seen: set[str] = set()
    repeats = 0
    for n, e in enumerate(raw, start=1):
        if type(e) is dict:
            eid, seq, typ, qty, at = e.get("id"), e.get("sequence"), e.get("type"), e.get("quantity"), e.get("at")
            sku = e.get("sku")
            pid = products.get(sku) if type(sku) is str else None
            lid = location_id(e.get("location"))
            at_value = None if at is None else when(at)
            if (
                type(eid) is str
                and 0 < len(eid) <= 100
                and "\x00" not in eid
                and type(seq) is int
                and 1 <= seq <= MAX_SEQUENCE
                and pid is not None
                and lid is not None
                and type(qty) is int
                and (0 <= qty <= MAX_QUANTITY or (typ == "adjust" and -MAX_QUANTITY <= qty <= MAX_QUANTITY))
                and type(typ) is str
                and typ in EVENT_TYPES
                and (at is None or at_value is not None)
            ):
                if eid in seen:
                    repeats += 1
                    continue
                seen.add(eid)
                rows.append((n, eid, seq, pid, lid, typ, qty, at_value))
                continue
        found = _event_careful(n=n, e=e, products=products, location_id=location_id, when=when)
        if isinstance(found, list):
            errors.extend(found)
            continue
        if found[1] in seen:
            repeats += 1
            continue
        seen.add(found[1])
        rows.append(found)
    return rows, errors, repeats


def _gaps(previous_high: int, sequences: list[int]) -> list[list[int]]:
    """Missing ranges [from, to] between the feed's previous highest sequence and the sorted new ones."""
    gaps, expect = [], previous_high + 1
    for s in sequences:
        if s > expect:
            gaps.append([expect, s - 1])
        expect = max(expect, s + 1)
    return gaps


def _run_report(*, run: FeedRun, counts: dict, rows: list, errors: list[RowError], repeats: int, received: int) -> None:
    """Fill the run's figures, report and message from what the merge counted."""
    fresh, stale, superseded = counts.get("fresh", 0), counts.get("stale", 0), counts.get("superseded", 0)
    gaps = counts.get("gaps", [])
    duplicates = repeats + len(rows) - fresh
    applied = fresh - stale - superseded
    run.rows_applied = applied
    run.rows_rejected = len({e.row for e in errors})
    run.report = {
        "received": received,
        "applied": applied,
        "duplicates": duplicates,
        "stale": stale,
        "superseded": superseded,
        "late": counts.get("late", 0),
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


def wms_events_apply(*, feed_id: int, payload, source: str = "push", checksum: str = "") -> FeedRun:
    """Apply a batch of JSON events from a feed in one transaction and return its FeedRun.

    Invalid events are rejected one by one (listed on the run, nothing of them applied). The valid ones are
    checked and classified in one pass over plain tuples and written in a few statements, the same on
    PostgreSQL and SQLite (see `_events_merge`): the events, then one merge into stock and the ledger.
    """
    started = timezone.now()
    feed = WmsFeed.objects.get(pk=feed_id)
    try:
        with gc_paused():  # a hundred thousand small tuples alive: no collector passes over them
            rows, errors, repeats = _parse_events(feed=feed, payload=payload)
    except FileRejected as exc:
        return _run_failed(
            feed=feed,
            status=FeedRun.Status.REJECTED,
            source=source,
            checksum=checksum,
            message=exc.message,
            errors=exc.errors,
            total=exc.total,
            started=started,
        )
    try:
        with transaction.atomic():
            feed = WmsFeed.objects.select_for_update().get(pk=feed_id)
            if (
                checksum
                and FeedRun.objects.filter(feed=feed, checksum=checksum, status=FeedRun.Status.SUCCEEDED).exists()
            ):
                return FeedRun.objects.filter(feed=feed, checksum=checksum, status=FeedRun.Status.SUCCEEDED).first()
            run = FeedRun.objects.create(
                feed=feed, status=FeedRun.Status.SUCCEEDED, source=source[:500], checksum=checksum, started_at=started
            )
            high = feed.last_sequence
            with gc_paused():
                counts = _events_merge(feed=feed, run=run, rows=rows) if rows else {}
            _levels_within_columns(rows=rows)
            _run_report(
                run=run, counts=counts, rows=rows, errors=errors, repeats=repeats, received=len(payload["events"])
            )
            if counts.get("high", 0) > high:
                feed.last_sequence = counts["high"]
                feed.save(update_fields=["last_sequence", "updated_at"])
            run.finished_at = timezone.now()
            run.save()
            if errors or run.status != FeedRun.Status.SUCCEEDED:
                transaction.on_commit(lambda: wms_feed_alert(run_id=run.pk))
    except DataError:
        # Each event is within MAX_QUANTITY, but their sum at one product × location is beyond what a stock
        # level holds: the whole document is refused (rolled back) and recorded as a rejected run.
        message = f"The events add up to more stock than a level can hold (at most {MAX_LEVEL:,}); nothing applied."
        return _run_failed(
            feed=feed,
            status=FeedRun.Status.REJECTED,
            source=source,
            checksum=checksum,
            message=message,
            errors=[],
            total=len(payload["events"]),
            started=started,
        )
    return run


def _levels_within_columns(*, rows: list[tuple]) -> None:
    """Raise DataError when a merge left a touched stock level beyond what its integer column holds.

    PostgreSQL raises it itself (32-bit integer columns); SQLite stores 64-bit integers, so the same limit is
    checked here for the product × location pairs of the document."""
    if connection.vendor != "sqlite" or not rows:
        return
    pairs = {(r[3], r[4]) for r in rows}
    over = StockLevel.objects.filter(product_id__in={p for p, _ in pairs}, on_hand__gt=MAX_LEVEL)
    if any((p, loc) in pairs for p, loc in over.values_list("product_id", "location_id")):
        raise DataError("stock level beyond its integer column")


_APPLIED, _STALE, _SUPERSEDED = (
    WmsEvent.Outcome.APPLIED.value,
    WmsEvent.Outcome.STALE.value,
    WmsEvent.Outcome.SUPERSEDED.value,
)
_SIGN = {"receive": 1, "ship": -1, "adjust": 1, "set": 0}


def _events_classify(rows: list[tuple], cursors: dict[tuple[int, int], int]) -> tuple[list[str], list[tuple]]:
    """The outcome of every event (aligned with `rows`) and one effect per product × location with an event
    that is not stale: (row_no, product_id, location_id, set_qty or None, delta, set sequence or None).

    Per key: an event older than the key's cursor (the newest set applied there) is stale; of the others, the
    newest set wins (ties: the later in the document), events older than it are superseded, and the deltas
    from it on apply. One pass over plain tuples; most keys have a single event.
    """
    by_key: dict[tuple[int, int], list[int]] = {}
    for i, r in enumerate(rows):
        key = (r[3], r[4])
        found = by_key.get(key)
        if found is None:
            by_key[key] = [i]
        else:
            found.append(i)
    outcomes = [_APPLIED] * len(rows)
    effects: list[tuple] = []
    for key, idxs in by_key.items():
        floor = cursors.get(key, 0)
        if len(idxs) == 1:
            n, _, seq, _, _, typ, qty, _ = rows[idxs[0]]
            if seq < floor:
                outcomes[idxs[0]] = _STALE
            elif typ == "set":
                effects.append((n, key[0], key[1], qty, 0, seq))
            else:
                effects.append((n, key[0], key[1], None, _SIGN[typ] * qty, None))
            continue
        live = []
        newest = None  # (sequence, n, index) of the newest set that is not stale
        for i in idxs:
            r = rows[i]
            if r[2] < floor:
                outcomes[i] = _STALE
                continue
            live.append(i)
            if r[5] == "set" and (newest is None or (r[2], r[0]) > newest[:2]):
                newest = (r[2], r[0], i)
        if not live:
            continue
        delta = 0
        for i in live:
            r = rows[i]
            if newest is not None and (r[2] < newest[0] or (r[5] == "set" and i != newest[2])):
                outcomes[i] = _SUPERSEDED
            else:
                delta += _SIGN[r[5]] * r[6]
        row_no = min(rows[i][0] for i in live)
        if newest is None:
            effects.append((row_no, key[0], key[1], None, delta, None))
        else:
            effects.append((row_no, key[0], key[1], rows[newest[2]][6], delta, newest[0]))
    return outcomes, effects


def _temp_table(cur, name: str, columns: str) -> None:
    pg = connection.vendor == "postgresql"
    cur.execute(f"DROP TABLE IF EXISTS {name}")
    cur.execute(f"CREATE TEMP TABLE {name} ({columns}){' ON COMMIT DROP' if pg else ''}")


def _events_cursors(*, feed: WmsFeed, high: int, rows: list[tuple]) -> dict[tuple[int, int], int]:
    """The newest set applied so far per product × location, read from the applied events (a partial
    index), for the keys that need it: every stored event has a sequence ≤ `high`, so a key whose events
    here are all newer cannot have a stale one."""
    keys = {(r[3], r[4]) for r in rows if r[2] <= high}
    if not keys:
        return {}
    with connection.cursor() as cur:
        _temp_table(cur, "wms_keys", "product_id bigint, location_id bigint")
    rows_insert(table="wms_keys", columns=["product_id", "location_id"], rows=keys)
    with connection.cursor() as cur:
        cur.execute(
            "SELECT k.product_id, k.location_id, MAX(h.sequence) FROM wms_keys k JOIN inventory_wmsevent h"
            " ON h.feed_id = %s AND h.product_id = k.product_id AND h.location_id = k.location_id"
            " AND h.type = 'set' AND h.outcome = 'applied' GROUP BY k.product_id, k.location_id",
            [feed.pk],
        )
        found = {(p, loc): seq for p, loc, seq in cur.fetchall()}
        cur.execute("DROP TABLE wms_keys")
    return found


def _events_known(*, feed: WmsFeed, ids: list[str]) -> set[str]:
    """Which of these event ids the feed has received before (one join against the staged ids)."""
    with connection.cursor() as cur:
        _temp_table(cur, "wms_ids", "event_id varchar(100)")
    rows_insert(table="wms_ids", columns=["event_id"], rows=([i] for i in ids))
    with connection.cursor() as cur:
        cur.execute(
            "SELECT i.event_id FROM wms_ids i JOIN inventory_wmsevent x ON x.feed_id = %s AND x.event_id = i.event_id",
            [feed.pk],
        )
        known = {r[0] for r in cur.fetchall()}
        cur.execute("DROP TABLE wms_ids")
    return known


def _events_merge(*, feed: WmsFeed, run: FeedRun, rows: list[tuple]) -> dict:
    """Apply the valid events set-based (the rules are in the module docstring) and return counts for the
    report.

    Ids are almost always new: the events are classified and written assuming so, and the unique
    (feed, id) index is the duplicate check; only if it refuses one are the repeats dropped and the rest
    classified again. Then one effect per key (the newest set's quantity or none, the deltas on top) goes
    through `stock_merge_staged`: stock and ledger in single statements.
    """
    pg = connection.vendor == "postgresql"
    high = feed.last_sequence
    with connection.cursor() as cur:
        if pg:
            cur.execute("SET LOCAL jit = off")  # compiling costs more than these one-pass statements save
    feed_pk, run_pk = feed.pk, run.pk
    while True:
        outcomes, effects = _events_classify(rows, _events_cursors(feed=feed, high=high, rows=rows))
        try:
            # Straight into the table (COPY on PostgreSQL); a savepoint, so a refused id undoes only this.
            with transaction.atomic(), connection.wrap_database_errors:
                rows_insert(
                    table=WmsEvent._meta.db_table,
                    columns=["feed_id", "run_id", "outcome", *_EVENT_COLUMNS[1:]],
                    rows=((feed_pk, run_pk, o, *r[1:]) for r, o in zip(rows, outcomes, strict=True)),
                )
            break
        except IntegrityError:
            known = _events_known(feed=feed, ids=[r[1] for r in rows])
            rows = [r for r in rows if r[1] not in known]
    counts = {
        "fresh": len(rows),
        "stale": outcomes.count(_STALE),
        "superseded": outcomes.count(_SUPERSEDED),
        "late": sum(1 for r in rows if r[2] <= high),
        "high": max((r[2] for r in rows), default=0),
        "gaps": _gaps(high, sorted({r[2] for r in rows if r[2] > high})),
    }
    if not effects:
        return counts
    with connection.cursor() as cur:
        _temp_table(
            cur,
            "wms_fx",
            "row_no bigint, product_id bigint, location_id bigint, set_qty integer, delta bigint, set_seq bigint",
        )
    rows_insert(
        table="wms_fx", columns=["row_no", "product_id", "location_id", "set_qty", "delta", "set_seq"], rows=effects
    )
    with connection.cursor() as cur:
        # A set older than deltas applied by earlier documents: those deltas still count on top of it. Only
        # a set below the feed's highest sequence so far can have any, all between the two: a short range of
        # the (feed, sequence) index for a set that is a little late.
        cur.execute(
            "UPDATE wms_fx SET delta = delta + COALESCE((SELECT SUM(CASE WHEN h.type = 'ship' THEN -h.quantity"
            " ELSE h.quantity END) FROM inventory_wmsevent h WHERE h.feed_id = %s AND h.sequence > wms_fx.set_seq"
            " AND h.sequence <= %s AND h.product_id = wms_fx.product_id AND h.location_id = wms_fx.location_id"
            " AND h.type <> 'set' AND h.outcome = 'applied' AND COALESCE(h.run_id, 0) <> %s), 0)"
            " WHERE set_seq < %s",
            [feed.pk, high, run.pk, high],
        )
    stock_merge_staged(
        table="wms_fx",
        mode="mixed",
        reason=InventoryMovement.Reason.FEED,
        reference=f"feed:{feed.name}:run:{run.pk}",
        below_zero=BelowZero.CLAMP,
        staged_rows=len(effects),
    )
    with connection.cursor() as cur:
        cur.execute("DROP TABLE wms_fx")
    return counts


# --- Documents: files and pulls -------------------------------------------------------------------------


def _run_failed(
    *,
    feed: WmsFeed,
    status: str,
    source: str,
    checksum: str,
    message: str,
    errors: list[RowError],
    total: int,
    started: datetime,
) -> FeedRun:
    """Record a failed or rejected document. What it quotes of the document is capped: a message of
    MESSAGE_CAP characters and each refused value truncated (`_shown`), never a whole file."""
    run = FeedRun.objects.create(
        feed=feed,
        status=status,
        source=source[:500],
        checksum=checksum,
        started_at=started,
        finished_at=timezone.now(),
        rows_rejected=total,
        report={
            "errors": [{**e.as_dict(), "value": _shown(e.value)} for e in errors[:ERROR_CAP]],
            "error_total": total,
        },
        message=message if len(message) <= MESSAGE_CAP else message[: MESSAGE_CAP - 1] + "…",
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
            payload = json_body_load(fileobj.read(), refuse_nul=False)
        except (ParseError, ValidationError) as exc:
            return (
                _run_failed(
                    feed=feed,
                    status=FeedRun.Status.REJECTED,
                    source=source,
                    checksum=checksum,
                    message=f"Not valid JSON: {exc}.",
                    errors=[],
                    total=1,
                    started=started,
                ),
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
            _run_failed(
                feed=feed,
                status=FeedRun.Status.REJECTED,
                source=source,
                checksum=checksum,
                message=exc.message,
                errors=exc.errors,
                total=exc.total,
                started=started,
            ),
            False,
        )
    if "run" not in holder:  # another worker applied it meanwhile
        return _already_applied(feed, checksum), False
    return holder["run"], True


def _move(path: Path, folder: str) -> None:
    """Move a processed file to `folder` beside it, which must resolve inside the feed root."""
    target = path.parent / folder
    target.mkdir(exist_ok=True)
    if not path_inside_root(path=target):
        raise PathRefused(f"{folder}/ resolves outside the feed root.")
    dest = target / path.name
    if dest.exists():
        dest = target / f"{path.stem}-{timezone.now():%Y%m%d%H%M%S%f}{path.suffix}"
    shutil.move(str(path), str(dest))


def _feed_failed(feed: WmsFeed, source: str, message: str) -> list[FeedRun]:
    return [
        _run_failed(
            feed=feed,
            status=FeedRun.Status.FAILED,
            source=source,
            checksum="",
            message=message,
            errors=[],
            total=0,
            started=timezone.now(),
        )
    ]


def _directory_run(feed: WmsFeed) -> list[FeedRun]:
    """Every new regular file in the inbox, which must resolve inside the feed root; symbolic links are
    neither read nor moved."""
    try:
        inbox = path_under_root(folder=feed.directory)
    except PathRefused as exc:
        return _feed_failed(feed, "", f"Inbox directory refused: {exc}")
    if not inbox.is_dir():
        return _feed_failed(feed, "", "The inbox directory does not exist.")
    runs = []
    for path in sorted(inbox.iterdir()):
        if path.name.startswith(".") or path.is_symlink() or not path.is_file():
            if path.is_symlink():
                log.warning("feed %s: symbolic link %s in the inbox ignored", feed.name, path.name)
            continue
        with path.open("rb") as f:
            run, _ = wms_document_apply(feed_id=feed.pk, fileobj=f, source=path.name)
        runs.append(run)
        try:
            _move(path, "archive" if run.status == FeedRun.Status.SUCCEEDED else "rejected")
        except PathRefused as exc:  # left in the inbox; recognised by checksum on the next run
            runs.extend(_feed_failed(feed, path.name, f"Not moved: {exc}"))
            break
    return runs


def _pull_run(feed: WmsFeed) -> FeedRun:
    """Pull the feed's URL once through the outbound guard (common.netguard) and apply the body."""
    started = timezone.now()
    try:
        secret = wms_feed_secret(feed=feed)
    except CredentialRefused as exc:
        return _run_failed(
            feed=feed,
            status=FeedRun.Status.FAILED,
            source=feed.url,
            checksum="",
            message=f"Secret refused: {exc}",
            errors=[],
            total=0,
            started=started,
        )
    headers = {"Accept": "text/csv, application/json"}
    if secret:
        headers["Authorization"] = f"Bearer {secret}"
    with tempfile.TemporaryFile() as body:
        try:
            resp = outbound_request(url=feed.url, headers=headers, sink=body)
            if not 200 <= resp.status < 300:
                raise OutboundError(f"HTTP {resp.status}")
        except (OutboundRefused, OutboundTooLarge, OutboundError) as exc:
            return _run_failed(
                feed=feed,
                status=FeedRun.Status.FAILED,
                source=feed.url,
                checksum="",
                message=f"Could not fetch the feed URL: {exc}",
                errors=[],
                total=0,
                started=started,
            )
        run, _ = wms_document_apply(feed_id=feed.pk, fileobj=body, source=feed.url)
    return run


def wms_feed_run(*, feed_id: int) -> list[FeedRun]:
    """One scheduled pass of a feed: process every new file in its inbox (then archive it) or pull its
    URL once. Safe to run twice and after a crash: applied documents are recognised by checksum."""
    feed = WmsFeed.objects.get(pk=feed_id)
    if not feed.is_active:
        return []
    if feed.transport == WmsFeed.Transport.DIRECTORY:
        return _directory_run(feed)
    if feed.transport == WmsFeed.Transport.HTTP_PULL:
        return [_pull_run(feed)]
    return []


def wms_feed_create(
    *,
    name: str,
    format: str,
    transport: str,
    directory: str = "",
    url: str = "",
    secret_env: str = "",
    location_map: dict | None = None,
    default_location: Location | None = None,
    every_minutes: int = 15,
) -> WmsFeed:
    """Set up a feed from code (the admin does the same for people), checked like the admin's form:
    a ValidationError names every bad field, nothing is stored. Its schedule follows after commit."""
    feed = WmsFeed(
        name=name,
        format=format,
        transport=transport,
        directory=directory,
        url=url,
        secret_env=secret_env,
        location_map=location_map or {},
        default_location=default_location,
        every_minutes=every_minutes,
    )
    feed.full_clean()
    feed.save()
    transaction.on_commit(wms_feed_schedules_sync)
    return feed


def wms_feeds_activate(*, feed_ids: list[int], active: bool) -> int:
    """Pause (active=False) or resume feeds; their schedules follow after commit. Returns how many changed.
    Touches nothing of a feed's transport, so it works on a feed whose configuration no longer validates."""
    changed = (
        WmsFeed.objects.filter(pk__in=feed_ids)
        .exclude(is_active=active)
        .update(is_active=active, updated_at=timezone.now())
    )
    transaction.on_commit(wms_feed_schedules_sync)
    return changed


def wms_feeds_run_now(*, feed_ids: list[int]) -> int:
    """Queue one pass of each active pulled or watched feed now (after commit). Returns how many."""
    from django_q.tasks import async_task

    ids = list(
        WmsFeed.objects.filter(pk__in=feed_ids, is_active=True)
        .exclude(transport=WmsFeed.Transport.HTTP_PUSH)
        .values_list("pk", flat=True)
    )
    for pk in ids:
        transaction.on_commit(lambda pk=pk: async_task("inventory.tasks.wms_feed_run", pk))
    return len(ids)


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
