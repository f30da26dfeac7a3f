"""The fast stock import: a CSV file streamed into a staging table, validated set-based, merged in one go.

PostgreSQL: the file goes to the server untouched through `COPY … FROM STDIN (FORMAT csv)` in ~1 MB
chunks cut at record boundaries (no per-row Python work), into a temporary table of text columns; SQL then
resolves SKUs and location codes, checks quantities and duplicates, and `inventory.services.stock_merge_staged`
writes StockLevel and the ledger in one transaction. SQLite: the same SQL, fed by batched executemany.
Memory stays flat: only one chunk and the capped error list are ever held.

A file with any bad row is rejected whole, with a report (row, column, value, reason; the first
`ERROR_CAP` rows and the total). The same file (sha256) is applied once unless forced.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from django.core.exceptions import ValidationError
from django.core.files.base import File
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from inventory.models import ImportMode, InventoryMovement, Location, StockImport
from inventory.services import MergeResult, StockWouldGoNegative, stock_merge_staged

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

ERROR_CAP = 100
CHUNK_BYTES = 1 << 20
SQLITE_BATCH = 5000
QTY_PATTERN = r"^\s*[-+]?[0-9]{1,9}\s*$"
QTY_COLUMN = {ImportMode.SNAPSHOT: "on_hand", ImportMode.DELTA: "delta"}


@dataclass(frozen=True, slots=True)
class RowError:
    row: int
    column: str
    value: str
    reason: str

    def as_dict(self) -> dict:
        return {"row": self.row, "column": self.column, "value": self.value, "reason": self.reason}


class FileRejected(Exception):
    """The file as a whole is unusable (or has bad rows); nothing was applied."""

    def __init__(
        self, message: str, errors: list[RowError] | None = None, total: int | None = None, *, rows: int = 0
    ) -> None:
        self.message = message
        self.errors = errors or []
        self.total = total if total is not None else len(self.errors)
        self.rows = rows  # data rows read before the rejection (0 when it came before they were counted)
        super().__init__(message)


@dataclass(slots=True)
class ImportOutcome:
    status: str
    rows_total: int = 0
    rows_changed: int = 0
    rows_created: int = 0
    shortages: int = 0
    errors: list[RowError] = field(default_factory=list)
    error_total: int = 0
    checksum: str = ""
    message: str = ""


# --- Reading and staging ------------------------------------------------------------------------------


def file_checksum(*, fileobj: BinaryIO) -> tuple[str, int]:
    """sha256 hex digest and size of a binary file, read in chunks (the file is rewound)."""
    digest, size = hashlib.sha256(), 0
    fileobj.seek(0)
    while chunk := fileobj.read(CHUNK_BYTES):
        digest.update(chunk)
        size += len(chunk)
    fileobj.seek(0)
    return digest.hexdigest(), size


def _scan(*, fileobj: BinaryIO) -> tuple[str, int]:
    """Checksum and size in one streaming pass that also checks the file is UTF-8 (naming the row)."""
    digest, size, utf8 = hashlib.sha256(), 0, _Utf8Check()
    fileobj.seek(0)
    while chunk := fileobj.read(CHUNK_BYTES):
        digest.update(chunk)
        size += len(chunk)
        utf8.feed(chunk)
    utf8.feed(b"", final=True)
    fileobj.seek(0)
    return digest.hexdigest(), size


def _read_header(fileobj: BinaryIO) -> tuple[list[str], bytes]:
    """The header's column names (lower-cased, trimmed) and the bytes read after it."""
    first = fileobj.read(CHUNK_BYTES)
    if first.startswith(codecs.BOM_UTF8):
        first = first[len(codecs.BOM_UTF8) :]
    if not first.strip():
        raise FileRejected("The file is empty: expected a header row and at least one data row.")
    end = first.find(b"\n")
    while end < 0:  # a header longer than a chunk: keep reading
        more = fileobj.read(CHUNK_BYTES)
        if not more:
            end = len(first)
            break
        first += more
        end = first.find(b"\n")
    try:
        header_line = first[:end].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileRejected(
            "The header is not valid UTF-8: save the file as UTF-8 (with or without BOM).",
            [RowError(1, "", "", f"invalid byte 0x{first[exc.start]:02x}: not UTF-8")],
        ) from exc
    names = next(csv.reader([header_line.rstrip("\r")]), [])
    return [n.strip().lower() for n in names], first[end + 1 :]


def _columns_for(*, names: list[str], mode: str, has_default_location: bool) -> list[str]:
    """Map header names to staging columns (sku, location, qty), or reject with what is wrong."""
    qty_name = QTY_COLUMN[mode]
    expected = ["sku", "location", qty_name]
    unknown = [n for n in names if n not in expected]
    dupes = sorted({n for n in names if names.count(n) > 1})
    required = ["sku", qty_name] + ([] if has_default_location else ["location"])
    missing = [n for n in required if n not in names]
    problems = []
    if unknown:
        problems.append(f"unknown column(s) {', '.join(repr(n) for n in unknown)}")
    if dupes:
        problems.append(f"repeated column(s) {', '.join(dupes)}")
    if missing:
        problems.append(f"missing column(s) {', '.join(missing)}")
    if problems:
        hint = "sku,location," + qty_name + (" (location may be left out when a location is chosen)")
        raise FileRejected(
            f"Bad header: {'; '.join(problems)}. A {mode} file needs the header {hint}.",
            [RowError(1, "header", ",".join(names), "; ".join(problems))],
        )
    return ["qty" if n == qty_name else n for n in names]


class _Utf8Check:
    """Incremental UTF-8 validation that names the row of the first bad byte."""

    def __init__(self) -> None:
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.rows_before = 1  # the header is row 1

    def feed(self, chunk: bytes, final: bool = False) -> None:
        try:
            self.decoder.decode(chunk, final)
        except UnicodeDecodeError as exc:
            row = self.rows_before + chunk.count(b"\n", 0, max(exc.start, 0))
            raise FileRejected(
                "The file is not UTF-8 encoded: save it as UTF-8 (with or without BOM) and upload it again.",
                [RowError(row, "", "", f"invalid byte 0x{chunk[max(exc.start, 0)]:02x}: not UTF-8")],
            ) from exc
        self.rows_before += chunk.count(b"\n")


def _record_chunks(fileobj: BinaryIO, rest: bytes) -> Iterator[bytes]:
    """Yield the data as chunks that end on a record boundary (a newline outside quotes)."""
    carry = rest
    while True:
        chunk = fileobj.read(CHUNK_BYTES)
        if not chunk:
            break
        buf = carry + chunk
        pos = buf.rfind(b"\n")
        # A newline inside a quoted field has an odd number of quote characters before it.
        while pos >= 0 and buf.count(b'"', 0, pos) % 2:
            pos = buf.rfind(b"\n", 0, pos)
        if pos < 0:
            carry = buf
            continue
        yield buf[: pos + 1]
        carry = buf[pos + 1 :]
    eol = b"\r\n" if b"\r\n" in carry or b"\r\n" in rest[:4096] else b"\n"
    carry = carry.rstrip(b"\r\n\t ")
    if carry:
        yield carry + eol


def _strip_trailing_blank(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Drop blank lines at the very end of the file (spreadsheets often leave some)."""
    pending = None
    for chunk in chunks:
        if pending is not None:
            yield pending
        pending = chunk
    if pending is not None:
        eol = b"\r\n" if b"\r\n" in pending else b"\n"
        trimmed = pending.rstrip(b"\r\n\t ")
        if trimmed:
            yield trimmed + eol


_COPY_LINE = re.compile(r"line (\d+)")


def _stage_postgresql(
    *, cur, raw: str, columns: list[str], fileobj: BinaryIO, rest: bytes, size: int, progress: Callable
) -> int:
    cols = ", ".join(columns)
    staged = 0
    done = 0
    for chunk in _strip_trailing_blank(_record_chunks(fileobj, rest)):
        try:
            # A savepoint when the caller holds a transaction, so a refused chunk does not poison it.
            with transaction.atomic(), cur.copy(f"COPY {raw} ({cols}) FROM STDIN (FORMAT csv)") as copy:
                copy.write(chunk)
        except (DatabaseError, connection.Database.Error) as exc:
            cause = exc.__cause__ or exc
            diag = getattr(cause, "diag", None)
            context = getattr(diag, "context", "") or ""
            found = _COPY_LINE.search(context)
            row = staged + 1 + (int(found.group(1)) if found else 0)
            reason = (getattr(diag, "message_primary", None) or str(cause)).strip()
            raise FileRejected(f"Row {row} could not be read: {reason}.", [RowError(row, "", "", reason)]) from exc
        staged += cur.rowcount
        done += len(chunk)
        progress(5 + int(40 * done / max(size, 1)))
    return staged


def _stage_sqlite(
    *, cur, raw: str, columns: list[str], fileobj: BinaryIO, rest: bytes, size: int, progress: Callable
) -> int:
    cols = ", ".join(["row_no", *columns])
    sql = f"INSERT INTO {raw} ({cols}) VALUES ({', '.join(['%s'] * (len(columns) + 1))})"
    source = _Concat(rest, fileobj)
    stream = io.TextIOWrapper(io.BufferedReader(source), encoding="utf-8", errors="strict", newline="")
    reader = csv.reader(stream)
    staged, batch, row = 0, [], 1
    trailing_blank: list[int] = []
    try:
        for record in reader:
            row += 1
            if not record or all(not v.strip() for v in record):
                trailing_blank.append(row)
                continue
            if trailing_blank:
                raise FileRejected(
                    f"Row {trailing_blank[0]} is blank.", [RowError(trailing_blank[0], "", "", "blank row")]
                )
            if len(record) != len(columns):
                reason = f"expected {len(columns)} columns, found {len(record)}"
                raise FileRejected(f"Row {row} could not be read: {reason}.", [RowError(row, "", "", reason)])
            batch.append([row, *record])
            if len(batch) >= SQLITE_BATCH:
                cur.executemany(sql, batch)
                staged += len(batch)
                batch.clear()
                progress(5 + int(40 * min(1.0, source.pos / max(size, 1))))
    except UnicodeDecodeError as exc:
        raise FileRejected(
            "The file is not UTF-8 encoded: save it as UTF-8 (with or without BOM) and upload it again.",
            [RowError(row + 1, "", "", "invalid byte: not UTF-8")],
        ) from exc
    except csv.Error as exc:
        raise FileRejected(f"Row {row + 1} could not be read: {exc}.", [RowError(row + 1, "", "", str(exc))]) from exc
    if batch:
        cur.executemany(sql, batch)
        staged += len(batch)
    return staged


class _Concat(io.RawIOBase):
    """A readable binary stream: `head` bytes, then the rest of `fileobj`."""

    def __init__(self, head: bytes, fileobj: BinaryIO) -> None:
        self.head, self.fileobj, self.pos = head, fileobj, 0

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def readinto(self, b) -> int:
        if self.head:
            n = min(len(b), len(self.head))
            b[:n], self.head = self.head[:n], self.head[n:]
        else:
            data = self.fileobj.read(len(b))
            n = len(data)
            b[:n] = data
        self.pos += n
        return n


@contextmanager
def _temp_tables(*names: str):
    try:
        yield
    finally:
        if not connection.needs_rollback:
            with connection.cursor() as cur:
                for name in names:
                    cur.execute(f"DROP TABLE IF EXISTS {name}")


def _resolve(*, cur, raw: str, res: str, loc_join: str, loc_expr: str, qty_expr: str, params: list) -> None:
    """(Re)build `res`: row number, product and location ids (NULL when unknown) and the quantity."""
    cur.execute(f"DROP TABLE IF EXISTS {res}")
    cur.execute(
        f"CREATE TEMP TABLE {res} AS SELECT r.row_no, p.id AS product_id, {loc_expr} AS location_id,"
        f" {qty_expr} AS qty FROM {raw} r LEFT JOIN inventory_product p ON p.sku = r.sku{loc_join}",
        params,
    )


def _location_resolution(
    *, cur, raw: str, columns: list[str], location_id: int | None, location_map: dict
) -> tuple[str, str, str, list]:
    """How the staged rows find their location: (join, id expression, raw value expression, parameters) —
    by code through the feed's map when the file has a location column, else the one location given."""
    loc_params: list = []
    if "location" in columns:
        if location_map:
            cur.execute(f"DROP TABLE IF EXISTS {raw}_map")
            cur.execute(f"CREATE TEMP TABLE {raw}_map (wms_code varchar(100) PRIMARY KEY, code varchar(32))")
            cur.executemany(f"INSERT INTO {raw}_map VALUES (%s, %s)", list(location_map.items()))
            loc_code = "COALESCE(m.code, r.location)"
            loc_join = f" LEFT JOIN {raw}_map m ON m.wms_code = r.location"
        else:
            loc_code, loc_join = "r.location", ""
        loc_join += f" LEFT JOIN inventory_location l ON l.code = {loc_code}"
        loc_expr, loc_raw = "l.id", "r.location"
    else:
        loc_join, loc_expr, loc_raw = "", "%s", "NULL"
        loc_params.append(location_id)
    return loc_join, loc_expr, loc_raw, loc_params


def _errors_report(*, cur, raw: str, res: str, mode: str, qty_name: str, loc_raw: str) -> tuple[list[RowError], int]:
    """The first errors (naming row, column and value) and how many there are, for a file that has any."""
    err = f"{res}_err"
    negative = (
        f" UNION ALL SELECT x.row_no, '{qty_name}', r.qty, 'negative {qty_name}: must be 0 or more'"
        f" FROM {res} x JOIN {raw} r ON r.row_no = x.row_no WHERE x.qty < 0"
        if mode == ImportMode.SNAPSHOT
        else ""
    )
    cur.execute(f"DROP TABLE IF EXISTS {err}")
    cur.execute(
        f"CREATE TEMP TABLE {err} AS"
        f" SELECT x.row_no, 'sku' AS col, r.sku AS val,"
        f" CASE WHEN r.sku IS NULL OR r.sku = '' THEN 'missing SKU' ELSE 'unknown SKU' END AS reason"
        f" FROM {res} x JOIN {raw} r ON r.row_no = x.row_no WHERE x.product_id IS NULL"
        f" UNION ALL SELECT x.row_no, 'location', {loc_raw},"
        f" CASE WHEN {loc_raw} IS NULL OR {loc_raw} = '' THEN 'missing location' ELSE 'unknown location' END"
        f" FROM {res} x JOIN {raw} r ON r.row_no = x.row_no WHERE x.location_id IS NULL"
        f" UNION ALL SELECT x.row_no, '{qty_name}', r.qty,"
        f" CASE WHEN r.qty IS NULL OR TRIM(r.qty) = '' THEN 'missing {qty_name}'"
        f" ELSE 'not a whole number' END"
        f" FROM {res} x JOIN {raw} r ON r.row_no = x.row_no WHERE x.qty IS NULL{negative}"
        f" UNION ALL SELECT x.row_no, 'sku', r.sku, 'duplicate SKU × location (first on row ' || d.first_row || ')'"
        f" FROM {res} x JOIN {raw} r ON r.row_no = x.row_no"
        f" JOIN (SELECT product_id, location_id, MIN(row_no) AS first_row FROM {res}"
        f" WHERE product_id IS NOT NULL AND location_id IS NOT NULL GROUP BY product_id, location_id"
        f" HAVING COUNT(*) > 1) d ON d.product_id = x.product_id AND d.location_id = x.location_id"
        f" AND x.row_no > d.first_row"
    )
    cur.execute(f"SELECT COUNT(*) FROM {err}")
    (total,) = cur.fetchone()
    errors: list[RowError] = []
    if total:
        cur.execute(f"SELECT row_no, col, val, reason FROM {err} ORDER BY row_no, col LIMIT %s", [ERROR_CAP])
        errors = [RowError(int(r), c, "" if v is None else str(v), reason) for r, c, v, reason in cur.fetchall()]
    cur.execute(f"DROP TABLE {err}")
    return errors, total


def _validate(
    *, cur, raw: str, res: str, mode: str, columns: list[str], location_id: int | None, location_map: dict
) -> tuple[list[RowError], int, int]:
    """Resolve ids into `res` and return (first errors, total errors, rows)."""
    pg = connection.vendor == "postgresql"
    qty_name = QTY_COLUMN[mode]
    loc_join, loc_expr, loc_raw, loc_params = _location_resolution(
        cur=cur, raw=raw, columns=columns, location_id=location_id, location_map=location_map
    )
    resolve = partial(_resolve, cur=cur, raw=raw, res=res, loc_join=loc_join, loc_expr=loc_expr)
    # The whole-number check as a regex costs ~0.8 s per million rows on PostgreSQL, so there a plain
    # cast goes first (PostgreSQL's integer input takes exactly what the regex takes, up to the range
    # we check below; from version 16 on it also takes 0x…/0o…/0b… and underscores, hence the translate).
    # Any doubt — the cast fails, or a row looks bad — rebuilds `res` with the regex for the exact report.
    checked = f"CASE WHEN r.qty {'~' if pg else 'REGEXP'} %s THEN CAST(r.qty AS integer) END"
    fast = pg
    if fast:
        qty = "CAST(r.qty AS integer)"
        if connection.pg_version >= 160000:
            qty = f"CASE WHEN translate(r.qty, ' +-0123456789', '') = '' THEN {qty} END"
        try:
            with transaction.atomic():
                resolve(qty_expr=qty, params=loc_params)
        except DatabaseError:
            fast = False
    if not fast:
        resolve(qty_expr=checked, params=[*loc_params, QTY_PATTERN])
    bad_qty = "qty IS NULL" + (" OR qty < 0" if mode == ImportMode.SNAPSHOT else "")
    summary = (
        f"SELECT COUNT(*), COUNT(*) - COUNT(DISTINCT (product_id, location_id)),"
        f" SUM(CASE WHEN product_id IS NULL OR location_id IS NULL OR {bad_qty}{{extra}} THEN 1 ELSE 0 END)"
        f" FROM {res}"
        if pg
        else f"SELECT COUNT(*), COUNT(*) - (SELECT COUNT(*) FROM (SELECT DISTINCT product_id, location_id FROM {res})),"
        f" SUM(CASE WHEN product_id IS NULL OR location_id IS NULL OR {bad_qty} THEN 1 ELSE 0 END) FROM {res}"
    )
    # One pass finds whether anything is wrong; the detailed report is built only then.
    cur.execute(summary.format(extra=" OR qty NOT BETWEEN -999999999 AND 999999999" if fast else ""))
    rows, dupes, bad = cur.fetchone()
    if bad and fast:
        resolve(qty_expr=checked, params=[*loc_params, QTY_PATTERN])
        cur.execute(summary.format(extra=""))
        rows, dupes, bad = cur.fetchone()
    if not dupes and not bad:
        return [], 0, rows
    errors, total = _errors_report(cur=cur, raw=raw, res=res, mode=mode, qty_name=qty_name, loc_raw=loc_raw)
    return errors, total, rows


def _create_raw(cur, raw: str) -> None:
    cur.execute(f"DROP TABLE IF EXISTS {raw}")
    if connection.vendor == "postgresql":
        # Row numbers as the user counts them: the header is row 1.
        cur.execute(
            f"CREATE TEMP TABLE {raw} (row_no bigint GENERATED ALWAYS AS IDENTITY (START WITH 2),"
            f" sku text, location text, qty text)"
        )
    else:
        cur.execute(f"CREATE TEMP TABLE {raw} (row_no integer, sku text, location text, qty text)")


def _stage_and_validate(
    *,
    raw: str,
    res: str,
    mode: str,
    columns: list[str],
    fileobj: BinaryIO,
    rest: bytes,
    size: int,
    progress: Callable[[int], None],
    location_id: int | None,
    location_map: dict,
) -> tuple[list[RowError], int, int]:
    """Copy the file into the staging table and resolve it into `res`: (first errors, total errors, rows)."""
    pg = connection.vendor == "postgresql"
    with connection.cursor() as cur:
        _create_raw(cur, raw)
        stage = _stage_postgresql if pg else _stage_sqlite
        staged = stage(
            cur=cur.cursor if pg else cur,
            raw=raw,
            columns=columns,
            fileobj=fileobj,
            rest=rest,
            size=size,
            progress=progress,
        )
        if not staged:
            raise FileRejected("The file has a header but no data rows.")
        if pg:
            # No ANALYZE of the staging table: the planner sizes it from its pages, which is all the
            # hash joins need (the merge analyzes the resolved table it plans against).
            # Joins and duplicate checks over a million rows fit in memory instead of spilling.
            cur.execute("SET work_mem = '256MB'")
            cur.execute("SET jit = off")  # as in the merge: compiling costs more than it saves here
        progress(50)
        errors, total, rows = _validate(
            cur=cur,
            raw=raw,
            res=res,
            mode=mode,
            columns=columns,
            location_id=location_id,
            location_map=location_map,
        )
        if pg:
            cur.execute("RESET work_mem")
            cur.execute("RESET jit")
    return errors, total, rows


def _merge_or_reject(
    *, res: str, mode: str, reason: str, reference: str, actor_id: int | None, rows: int
) -> MergeResult:
    """Merge the resolved rows; rows that would take on hand below zero reject the file, naming each."""
    try:
        return stock_merge_staged(table=res, mode=mode, reason=reason, reference=reference, actor_id=actor_id)
    except StockWouldGoNegative as exc:
        rows_ = [
            RowError(r.row, "delta", str(r.would_be - r.on_hand), f"on hand {r.on_hand} would become {r.would_be}")
            for r in exc.rows
        ]
        raise FileRejected(
            f"{exc.total} row(s) would take on hand below zero; nothing was applied.", rows_, exc.total, rows=rows
        ) from exc


def stock_file_apply(
    *,
    fileobj: BinaryIO,
    mode: str = ImportMode.SNAPSHOT,
    location_id: int | None = None,
    location_map: dict | None = None,
    dry_run: bool = False,
    reason: str = InventoryMovement.Reason.IMPORT,
    reference: str = "",
    actor_id: int | None = None,
    progress: Callable[[int], None] = lambda pct: None,
    before_commit: Callable[[ImportOutcome], bool] | None = None,
    tag: str = "",
) -> ImportOutcome:
    """Validate a stock CSV and (unless `dry_run`) merge it, all or nothing.

    Staging runs outside the merge transaction (temporary tables are private to this connection);
    validation and the merge share one transaction. `before_commit(outcome)` runs inside that transaction
    after the merge and may return False to roll everything back (the caller's duplicate check) — the
    caller also records its own bookkeeping there, so it commits with the stock or not at all.
    Raises FileRejected (nothing applied) for any bad input.
    """
    if mode not in QTY_COLUMN:
        raise ValidationError(f"Unknown import mode {mode!r}: use snapshot or delta.")
    checksum, size = _scan(fileobj=fileobj)
    names, rest = _read_header(fileobj)
    columns = _columns_for(names=names, mode=mode, has_default_location=location_id is not None)
    if "location" in columns:
        location_id = None  # the column wins; the default only fills files without one
    pg = connection.vendor == "postgresql"
    suffix = re.sub(r"\W", "_", tag or "x")
    raw, res = f"stock_raw_{suffix}", f"stock_res_{suffix}"
    outcome = ImportOutcome(status="", checksum=checksum)
    with _temp_tables(raw, res, f"{raw}_map"):
        errors, total, rows = _stage_and_validate(
            raw=raw,
            res=res,
            mode=mode,
            columns=columns,
            fileobj=fileobj,
            rest=rest,
            size=size,
            progress=progress,
            location_id=location_id,
            location_map=location_map or {},
        )
        outcome.rows_total = rows
        if total:
            raise FileRejected(
                f"{total} problem(s) found; nothing was applied. Fix the rows listed and import the file again.",
                errors,
                total,
                rows=rows,
            )
        progress(60)
        with transaction.atomic():
            if pg:
                # Don't wait for the WAL flush at commit: a crash in the next fraction of a second could lose
                # the whole import (never part of it: the job's status commits with it), and it can be rerun.
                with connection.cursor() as cur:
                    cur.execute("SET LOCAL synchronous_commit = off")
            merged = _merge_or_reject(
                res=res, mode=mode, reason=reason, reference=reference, actor_id=actor_id, rows=outcome.rows_total
            )
            outcome.rows_changed = merged.rows_changed + merged.rows_created
            outcome.rows_created = merged.rows_created
            outcome.shortages = merged.shortages_opened
            outcome.status = StockImport.Status.VALIDATED if dry_run else StockImport.Status.SUCCEEDED
            keep = before_commit(outcome) if before_commit else True
            if dry_run or keep is False:
                transaction.set_rollback(True)
        progress(100)
    return outcome


# --- The StockImport process (command, upload page, feeds) ----------------------------------------------


def stock_import_create(
    *,
    fileobj: BinaryIO | None = None,
    name: str,
    mode: str = ImportMode.SNAPSHOT,
    location: Location | None = None,
    dry_run: bool = False,
    force: bool = False,
    user: AbstractBaseUser | None = None,
) -> StockImport:
    """Record an import job; with `fileobj` the file is kept in media storage for the background task."""
    if mode not in QTY_COLUMN:
        raise ValidationError(f"Unknown import mode {mode!r}: use snapshot or delta.")
    job = StockImport(
        original_name=Path(name).name[:255],
        mode=mode,
        location=location,
        dry_run=dry_run,
        force=force,
        created_by=user if getattr(user, "pk", None) else None,
    )
    if fileobj is not None:
        job.checksum, job.size_bytes = file_checksum(fileobj=fileobj)
        job.file.save(job.original_name, File(fileobj), save=False)
    job.save()
    return job


def stock_import_run(*, import_id: int, fileobj: BinaryIO | None = None) -> StockImport:
    """Run an import job to the end. Safe to run twice: a finished job is returned unchanged, and a job
    that died half-way is simply run again (nothing of it was applied)."""
    job = StockImport.objects.get(pk=import_id)
    if job.is_finished:
        return job
    StockImport.objects.filter(pk=job.pk).update(
        status=StockImport.Status.RUNNING, started_at=timezone.now(), progress=1, errors=[], message=""
    )
    last = [-1]

    def progress(pct: int) -> None:
        # Called between staging chunks, outside the merge transaction, so pollers see it at once.
        if pct != last[0]:
            StockImport.objects.filter(pk=job.pk).update(progress=min(pct, 99))
            last[0] = pct

    def before_commit(outcome: ImportOutcome) -> bool:
        locked = StockImport.objects.select_for_update().get(pk=job.pk)
        if locked.status == StockImport.Status.SUCCEEDED:
            return False  # another worker applied it meanwhile
        if not job.force and not job.dry_run and _already_applied(job=job, checksum=outcome.checksum):
            outcome.status = StockImport.Status.DUPLICATE
            return False
        _finish(job, outcome)
        return True

    close = None
    try:
        if fileobj is None:
            fileobj = close = job.file.open("rb")
        outcome = stock_file_apply(
            fileobj=fileobj,
            mode=job.mode,
            location_id=job.location_id,
            dry_run=job.dry_run,
            reference=f"import:{job.pk}",
            actor_id=job.created_by_id,
            progress=progress,
            before_commit=before_commit,
            tag=f"imp{job.pk}",
        )
        if outcome.status != StockImport.Status.SUCCEEDED:
            # Dry runs and duplicates rolled back, so record them now.
            if outcome.status == StockImport.Status.DUPLICATE:
                outcome.message = (
                    "This file was already applied (same checksum); nothing was changed. "
                    "Tick 'force' to apply it again."
                )
            _finish(job, outcome)
    except FileRejected as exc:
        _finish(
            job,
            ImportOutcome(
                status=StockImport.Status.REJECTED,
                rows_total=exc.rows,
                errors=exc.errors,
                error_total=exc.total,
                message=exc.message,
                checksum=job.checksum,
            ),
        )
    except Exception as exc:
        _finish(job, ImportOutcome(status=StockImport.Status.FAILED, message=f"Import failed: {exc}"))
        raise
    finally:
        if close is not None:
            close.close()
    job.refresh_from_db()
    return job


def _already_applied(*, job: StockImport, checksum: str) -> bool:
    return (
        StockImport.objects.filter(
            checksum=checksum, mode=job.mode, location_id=job.location_id, status=StockImport.Status.SUCCEEDED
        )
        .exclude(pk=job.pk)
        .exists()
    )


def _finish(job: StockImport, outcome: ImportOutcome) -> None:
    if not outcome.message and outcome.status == StockImport.Status.SUCCEEDED:
        outcome.message = f"Applied: {outcome.rows_changed} of {outcome.rows_total} rows changed stock."
    elif not outcome.message and outcome.status == StockImport.Status.VALIDATED:
        outcome.message = (
            f"Dry run: the file is valid; {outcome.rows_changed} of {outcome.rows_total} rows would change stock."
        )
    StockImport.objects.filter(pk=job.pk).update(
        status=outcome.status,
        checksum=outcome.checksum or job.checksum,
        rows_total=outcome.rows_total,
        rows_changed=outcome.rows_changed,
        rows_rejected=outcome.error_total,
        shortages=outcome.shortages,
        errors=[e.as_dict() for e in outcome.errors],
        message=outcome.message,
        progress=100,
        finished_at=timezone.now(),
    )


def stock_import_error_rows(*, job: StockImport) -> Iterator[list[str]]:
    """The error report as CSV rows (header first)."""
    yield ["row", "column", "value", "reason"]
    for e in job.errors:
        yield [str(e["row"]), e["column"], e["value"], e["reason"]]
    if job.rows_rejected > len(job.errors):
        yield ["", "", "", f"… and {job.rows_rejected - len(job.errors)} more problem(s) not listed"]
