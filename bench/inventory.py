"""`bench availability`: ATS reads in-process and over HTTP, and concurrent reservations per second."""

from __future__ import annotations

import gc
import http.client
import random
import threading
import time
from urllib.parse import urlencode, urlparse

from django.db import connection

from bench.tools import ensure_world, gunicorn_server, ms, percentile


def bench_availability(*, log, iterations: int = 500, threads: int = 16, scale: str = "large", **_) -> dict:
    from django.contrib.auth.models import Group, User
    from rest_framework.authtoken.models import Token

    from inventory.maintenance import stock_layout
    from inventory.models import Product, Reservation, StockLevel
    from inventory.selectors import ats_for_pairs, availability_by_sku
    from inventory.services import InsufficientStock, ReserveLine, reservation_release, stock_reserve
    from orders.models import Channel

    ensure_world(scale=scale, log=log)
    # Reads are by product: scattered rows cost a page each and make the tail (inventory/maintenance.py).
    layout = stock_layout()
    if layout is not None:
        log(f"stock layout: {layout.pages_per_product:.1f} heap pages per product ({layout.rows_per_product:.0f} rows)")
    rng = random.Random(42)
    skus = list(Product.objects.filter(sku__startswith="SKU-").order_by("sku").values_list("sku", flat=True))
    # Carts lean to popular SKUs (the catalogue is ranked by popularity), as real carts do.
    weights = [1.0 / (i + 1) ** 1.1 for i in range(len(skus))]
    carts = [list(dict.fromkeys(rng.choices(skus, weights=weights, k=10))) for _ in range(iterations)]
    web = Channel.objects.get(code="web")

    for cart in carts[:20]:  # warm caches and connections
        availability_by_sku(skus=cart, channel=web)
    # As a served worker does (gunicorn.conf.py): the set-up's objects leave the collector's full passes, so
    # the timings are the selector's, not a collection over the bench's own catalogue and carts.
    gc.collect()
    gc.freeze()
    cart_times = []
    for cart in carts:
        t = time.perf_counter()
        availability_by_sku(skus=cart, channel=web)
        cart_times.append(time.perf_counter() - t)
    log(f"cart10 in-process p50 {ms(percentile(cart_times, 0.5))} ms")
    dated = _bench_dated(log=log, carts=carts, channel=web)

    pair_rows = list(StockLevel.objects.order_by("?").values_list("product_id", "location_id")[:20000])
    pair_sets = [rng.sample(pair_rows, 1000) for _ in range(max(10, iterations // 10))]
    ats_for_pairs(pairs=pair_sets[0])
    pair_times = []
    for pairs in pair_sets:
        t = time.perf_counter()
        ats_for_pairs(pairs=pairs)
        pair_times.append(time.perf_counter() - t)
    log(f"pairs1000 p50 {ms(percentile(pair_times, 0.5))} ms")

    # Through the HTTP API: gunicorn on loopback, token auth, keep-alive connection.
    user, _ = User.objects.get_or_create(username="bench-api")
    user.groups.add(Group.objects.get(name="API client"))
    token, _ = Token.objects.get_or_create(user=user)
    api_times = []
    with gunicorn_server(workers=1) as base:
        host = urlparse(base)
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=30)
        headers = {"Authorization": f"Token {token.key}"}
        for i, cart in enumerate(carts):
            path = "/api/v1/availability/?" + urlencode([("sku", s) for s in cart] + [("channel", "web")])
            t = time.perf_counter()
            conn.request("GET", path, headers=headers)
            resp = conn.getresponse()
            body = resp.read()
            elapsed = time.perf_counter() - t
            if resp.status != 200:
                raise RuntimeError(f"availability API returned {resp.status}: {body[:300]!r}")
            if i >= 20:
                api_times.append(elapsed)
        conn.close()
    log(f"cart10 API p99 {ms(percentile(api_times, 0.99))} ms")

    # Reservations per second, `threads` concurrent writers, then everything released again.
    per_thread = max(1, iterations // threads * 2)
    made: list[int] = []
    short = [0]
    lock = threading.Lock()
    product_ids = dict(Product.objects.filter(sku__in=skus[:2000]).values_list("sku", "pk"))
    pool = list(product_ids.values())

    def worker(seed: int) -> None:
        r = random.Random(seed)
        mine = []
        try:
            for _ in range(per_thread):
                pid = pool[min(int(r.paretovariate(1.2)) - 1, len(pool) - 1)]
                try:
                    mine.append(stock_reserve(lines=[ReserveLine(pid, 1)], channel=web, reference="bench").pk)
                except InsufficientStock:
                    with lock:
                        short[0] += 1
        finally:
            with lock:
                made.extend(mine)
            connection.close()

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    t0 = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - t0
    for pk in made:
        reservation_release(reservation=Reservation(pk=pk), reference="bench cleanup")
    return {
        "database": connection.vendor,
        "scale": scale,
        "cart10_p50_ms": ms(percentile(cart_times, 0.5)),
        "cart10_p99_ms": ms(percentile(cart_times, 0.99)),
        "cart10_api_p50_ms": ms(percentile(api_times, 0.5)),
        "cart10_api_p99_ms": ms(percentile(api_times, 0.99)),
        "pairs1000_ms": ms(percentile(pair_times, 0.5)),
        "pairs1000_p99_ms": ms(percentile(pair_times, 0.99)),
        "reservations_per_s": round(len(made) / elapsed, 1),
        "reservation_threads": threads,
        "reservations_made": len(made),
        "reservations_short": short[0],
        "stock_pages_per_product": round(layout.pages_per_product, 2) if layout is not None else None,
        **dated,
        "targets": {"cart10_p99_ms": 5, "cart10_api_p99_ms": 20, "pairs1000_ms": 50, "dated_vs_today_p50": 2.0},
    }


INBOUND_LINES = 50_000  # open inbound lines the dated query runs against (issue: "with 50,000 open inbound lines")


def _inbound_seed(*, log, lines: int = INBOUND_LINES) -> int:
    """Open PO lines spread over the catalogue (popular SKUs more), the warehouses and 1-120 days ahead,
    written in bulk (the bench builds its world directly). Idempotent: tops up to `lines`."""
    from datetime import timedelta

    from django.utils import timezone

    from inventory.models import InboundLine, InboundShipment, Location, Product

    have = InboundLine.objects.filter(shipment__number__startswith="BENCH-IN-", is_open=True).count()
    if have >= lines:
        return have
    t = time.perf_counter()
    rng = random.Random(7)
    products = list(Product.objects.filter(sku__startswith="SKU-").order_by("sku").values_list("pk", flat=True))
    locations = list(Location.objects.filter(kind="warehouse", is_active=True).values_list("pk", flat=True))
    today, per = timezone.localdate(), 10
    start = InboundShipment.objects.filter(number__startswith="BENCH-IN-").count()
    weights = [1.0 / (i + 1) ** 0.8 for i in range(len(products))]
    while have < lines:
        shipments = InboundShipment.objects.bulk_create(
            [
                InboundShipment(
                    number=f"BENCH-IN-{start + i:06d}", supplier="Bench supplier", location_id=rng.choice(locations)
                )
                for i in range((lines - have + per - 1) // per)
            ]
        )
        start += len(shipments)
        rows = [
            InboundLine(
                shipment_id=sh.pk,
                location_id=sh.location_id,
                product_id=pid,
                quantity=rng.randint(10, 500),
                expected_date=today + timedelta(days=rng.randint(1, 120)),
            )
            for sh in shipments
            for pid in dict.fromkeys(rng.choices(products, weights=weights, k=per))
        ][: lines - have]
        InboundLine.objects.bulk_create(rows, batch_size=5000)
        have += len(rows)
    if connection.vendor == "postgresql":  # as autovacuum would: statistics, and the visibility map that lets
        with connection.cursor() as cur:  # the open lines be read by index only
            cur.execute("VACUUM ANALYZE inventory_inboundline")
    total = InboundLine.objects.filter(shipment__number__startswith="BENCH-IN-", is_open=True).count()
    log(f"inbound: {total} open lines ({time.perf_counter() - t:.1f}s)")
    return total


def _bench_dated(*, log, carts: list[list[str]], channel) -> dict:
    """The dated query (ATP on a date 60 days out) against today's ATS query, same carts, interleaved in the
    same run so both see the same machine and caches."""
    from datetime import timedelta

    from django.utils import timezone

    from inventory.atp import availability_on_date, availability_timeline
    from inventory.selectors import availability_by_sku

    lines = _inbound_seed(log=log)
    on = timezone.localdate() + timedelta(days=60)
    for cart in carts[:20]:
        availability_on_date(skus=cart, on=on, channel=channel)
    today_times, dated_times, timeline_times = [], [], []
    for cart in carts:
        t = time.perf_counter()
        availability_by_sku(skus=cart, channel=channel)
        today_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        availability_on_date(skus=cart, on=on, channel=channel)
        dated_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        availability_timeline(sku=cart[0], channel=channel)
        timeline_times.append(time.perf_counter() - t)
    p50_today, p50_dated = percentile(today_times, 0.5), percentile(dated_times, 0.5)
    log(f"cart10 dated p50 {ms(p50_dated)} ms vs today {ms(p50_today)} ms ({p50_dated / p50_today:.2f}x)")
    return {
        "inbound_open_lines": lines,
        "cart10_today_p50_ms": ms(p50_today),
        "cart10_today_p99_ms": ms(percentile(today_times, 0.99)),
        "cart10_dated_p50_ms": ms(p50_dated),
        "cart10_dated_p99_ms": ms(percentile(dated_times, 0.99)),
        "dated_vs_today_p50": round(p50_dated / p50_today, 2),
        "timeline_p50_ms": ms(percentile(timeline_times, 0.5)),
    }


# --- bench import -----------------------------------------------------------------------------------------

BENCH_LOCATIONS = 250  # per location set; set A takes the plain merge, set B our fast path


def _peak_rss_mb() -> float:
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def _bench_world(*, rows: int, log) -> tuple[list[str], list[str], list[str]]:
    """Bench-only products and two sets of locations (codes), with any earlier bench stock removed."""
    from inventory.models import Location, LocationKind, Product

    n_products = -(-rows // BENCH_LOCATIONS)
    skus = [f"BIMP-{i:07d}" for i in range(n_products)]
    have = set(Product.objects.filter(sku__startswith="BIMP-").values_list("sku", flat=True))
    Product.objects.bulk_create(
        [Product(sku=s, name=f"Bench product {s}") for s in skus if s not in have], batch_size=5000
    )
    set_a = [f"BIMP-A{i:04d}" for i in range(BENCH_LOCATIONS)]
    set_b = [f"BIMP-B{i:04d}" for i in range(BENCH_LOCATIONS)]
    have = set(Location.objects.filter(code__startswith="BIMP-").values_list("code", flat=True))
    Location.objects.bulk_create(
        [
            Location(
                code=c, name=f"Bench {c}", kind=LocationKind.STORE, postal_code="10001", latitude=40.7, longitude=-74.0
            )
            for c in set_a + set_b
            if c not in have
        ]
    )
    log("removing earlier bench stock…")
    _bench_stock_clear(code_like="BIMP-%")
    return skus, set_a, set_b


def _bench_stock_clear(*, code_like: str) -> None:
    """Delete the bench stock, shortages and movements at the locations whose code is LIKE `code_like`."""
    with connection.cursor() as cur:
        for table in ("inventory_inventorymovement", "inventory_stockshortage", "inventory_stocklevel"):
            cur.execute(
                f"DELETE FROM {table} WHERE location_id IN (SELECT id FROM inventory_location WHERE code LIKE %s)",
                [code_like],
            )
        if connection.vendor == "postgresql":
            cur.execute("VACUUM ANALYZE inventory_stocklevel")
            cur.execute("VACUUM ANALYZE inventory_inventorymovement")


def _write_csv(path, *, skus, locations, rows: int, header: str, value) -> None:
    with open(path, "w", newline="") as f:
        f.write(header + "\n")
        n = 0
        for sku in skus:
            lines = []
            for i, loc in enumerate(locations):
                if n >= rows:
                    break
                lines.append(f"{sku},{loc},{value(n, i)}\n")
                n += 1
            f.write("".join(lines))
            if n >= rows:
                break


def _copy_file(cur, sql: str, path) -> None:
    with open(path, "rb") as f, cur.cursor.copy(sql) as copy:
        while chunk := f.read(1 << 20):
            copy.write(chunk)


def _timed(fn) -> float:
    """Seconds `fn` takes. On PostgreSQL every timed step starts from the same state: the stock table
    vacuumed and analyzed (as autovacuum leaves it between imports minutes apart: otherwise a step scans the
    dead rows the previous one left and plans with stale counts) and a CHECKPOINT done (when the role may
    run one), so no step pays for writing out what the step before it dirtied, nor for a checkpoint that
    step's WAL happened to trigger: the steps write 0.5–0.6 GB of WAL each (max_wal_size is 1 GB)."""
    if connection.vendor == "postgresql":
        from django.db import DatabaseError

        with connection.cursor() as cur:
            cur.execute("VACUUM ANALYZE inventory_stocklevel")
        try:
            with connection.cursor() as cur:
                cur.execute("CHECKPOINT")
        except DatabaseError:
            pass
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def bench_import(*, log, rows: int = 1_000_000, only: str = "", **_) -> dict:
    """Raw COPY, the plain set-based merge, our fast path (first load, full re-import, delta), the
    django-import-export path and WMS JSON events, all in one run on the same machine.

    `only="wms"` runs just the WMS events (after the same first load, untimed, so they meet the same stock
    rows as in the full run): for iterating on the feed path; the full run reports every figure."""
    import tempfile
    from pathlib import Path

    from django.db import transaction

    from inventory.imports import stock_import_create, stock_import_run

    if connection.vendor != "postgresql":
        log("note: the import targets are defined on PostgreSQL; this is SQLite")
    if only not in ("", "wms"):
        raise ValueError(f"bench import --only takes 'wms', not {only!r}.")
    rss_start = _peak_rss_mb()
    skus, set_a, set_b = _bench_world(rows=rows, log=log)
    tmp = Path(tempfile.mkdtemp(prefix="dom-bench-import-"))
    first_a, first_b = tmp / "first_a.csv", tmp / "first_b.csv"
    again_b, delta_b = tmp / "again_b.csv", tmp / "delta_b.csv"
    log(f"writing {rows:,}-row files…")
    _write_csv(first_a, skus=skus, locations=set_a, rows=rows, header="sku,location,on_hand", value=lambda n, i: n % 50)
    _write_csv(first_b, skus=skus, locations=set_b, rows=rows, header="sku,location,on_hand", value=lambda n, i: n % 50)
    # A full re-import where every single row changes: the worst case for the merge.
    _write_csv(
        again_b, skus=skus, locations=set_b, rows=rows, header="sku,location,on_hand", value=lambda n, i: n % 50 + 1
    )
    _write_csv(delta_b, skus=skus, locations=set_b, rows=rows, header="sku,location,delta", value=lambda n, i: 2)
    out: dict = {"database": connection.vendor, "rows": rows, "file_mb": round(first_b.stat().st_size / 1e6, 1)}
    pg = connection.vendor == "postgresql"

    def ours(path, mode: str, force: bool = False) -> float:
        job = stock_import_create(name=path.name, mode=mode, force=force)
        with open(path, "rb") as f:
            secs = _timed(lambda: stock_import_run(import_id=job.pk, fileobj=f))
        job.refresh_from_db()
        if job.status != "succeeded":
            raise RuntimeError(f"bench import {path.name} ended {job.status}: {job.message} {job.errors[:3]}")
        return secs

    def wms() -> None:
        # Worst case: every event a different SKU × location (three writes per event: event, stock, ledger).
        out["wms_events_per_s"], out["wms_events"] = _bench_wms_events(skus=skus, locations=set_b, events=100_000)
        log(f"WMS events {out['wms_events_per_s']:,}/s")
        # A busier warehouse: the same 100k events over 5,000 SKU × locations (20 events each).
        out["wms_events_per_s_5k_keys"], _ = _bench_wms_events(skus=skus, locations=set_b, events=100_000, keys=5_000)
        log(f"WMS events over 5k keys {out['wms_events_per_s_5k_keys']:,}/s")

    if only == "wms":
        ours(first_b, "snapshot", force=True)
        wms()
        for p in (first_a, first_b, again_b, delta_b):
            p.unlink()
        tmp.rmdir()
        return out

    if pg:
        # The physical anchor: the same file into a bare table, nothing else.
        with connection.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS bench_raw_copy")
            cur.execute("CREATE TABLE bench_raw_copy (sku text, location text, on_hand integer)")
            secs = _timed(lambda: _copy_file(cur, "COPY bench_raw_copy FROM STDIN (FORMAT csv, HEADER true)", first_a))
            cur.execute("DROP TABLE bench_raw_copy")
        out["raw_copy_rows_per_s"] = round(rows / secs)
        log(f"raw COPY {out['raw_copy_rows_per_s']:,} rows/s")

        def plain_merge(path):
            with transaction.atomic(), connection.cursor() as cur:
                cur.execute("CREATE TEMP TABLE bench_plain (sku text, location text, on_hand integer) ON COMMIT DROP")
                _copy_file(cur, "COPY bench_plain FROM STDIN (FORMAT csv, HEADER true)", path)
                cur.execute(
                    "CREATE TEMP TABLE bench_plain_old ON COMMIT DROP AS"
                    " SELECT p.id AS product_id, l.id AS location_id, b.on_hand, COALESCE(s.on_hand, 0) AS old"
                    " FROM bench_plain b JOIN inventory_product p ON p.sku = b.sku"
                    " JOIN inventory_location l ON l.code = b.location"
                    " LEFT JOIN inventory_stocklevel s ON s.product_id = p.id AND s.location_id = l.id"
                )
                cur.execute(
                    "INSERT INTO inventory_stocklevel (product_id, location_id, on_hand, reserved, updated_at)"
                    " SELECT product_id, location_id, on_hand, 0, now() FROM bench_plain_old"
                    " ON CONFLICT (product_id, location_id)"
                    " DO UPDATE SET on_hand = EXCLUDED.on_hand, updated_at = EXCLUDED.updated_at"
                )
                cur.execute(
                    "INSERT INTO inventory_inventorymovement (product_id, location_id, delta_on_hand,"
                    " delta_reserved, reason, reference, created_at)"
                    " SELECT product_id, location_id, on_hand - old, 0, 'import', 'bench plain merge', now()"
                    " FROM bench_plain_old WHERE on_hand <> old"
                )

        secs = _timed(lambda: plain_merge(first_a))
        out["plain_merge_rows_per_s"] = round(rows / secs)
        log(f"plain merge (first load) {out['plain_merge_rows_per_s']:,} rows/s")
        # The same plain merge re-importing set A with every value changed (ON CONFLICT DO UPDATE).
        again_a = tmp / "again_a.csv"
        _write_csv(
            again_a, skus=skus, locations=set_a, rows=rows, header="sku,location,on_hand", value=lambda n, i: n % 50 + 1
        )
        out["plain_reimport_rows_per_s"] = round(rows / _timed(lambda: plain_merge(again_a)))
        again_a.unlink()
        log(f"plain merge (full re-import) {out['plain_reimport_rows_per_s']:,} rows/s")
        # Our first load then meets the tables as the plain merge's first load met them (without the plain
        # merge's million stock rows and two million movements), and our re-import as its re-import did.
        log("removing the plain merge's stock…")
        _bench_stock_clear(code_like="BIMP-A%")
        out["floor_rows_per_s"] = round(rows / _bench_floor(tmp=tmp, skus=skus, locations=set_a, rows=rows))
        log(f"physical floor (stock + ledger rows COPY'd) {out['floor_rows_per_s']:,} rows/s")

    out["snapshot_rows_per_s"] = round(rows / ours(first_b, "snapshot", force=True))
    log(f"fast path first load {out['snapshot_rows_per_s']:,} rows/s")
    out["reimport_rows_per_s"] = round(rows / ours(again_b, "snapshot", force=True))
    log(f"fast path full re-import {out['reimport_rows_per_s']:,} rows/s")
    out["delta_rows_per_s"] = round(rows / ours(delta_b, "delta", force=True))
    log(f"fast path delta {out['delta_rows_per_s']:,} rows/s")
    out["peak_rss_mb"] = _peak_rss_mb()
    out["rss_before_mb"] = rss_start
    log(f"peak RSS {out['peak_rss_mb']} MB")
    out["import_export_rows_per_s"] = round(_bench_import_export(skus=skus, locations=set_b, rows=20_000))
    log(f"django-import-export {out['import_export_rows_per_s']:,} rows/s")
    wms()
    if pg:
        out["fast_path_share_of_raw_copy"] = round(
            min(out["snapshot_rows_per_s"], out["reimport_rows_per_s"]) / out["raw_copy_rows_per_s"], 3
        )
        out["fast_path_vs_plain_merge"] = round(
            min(out["snapshot_rows_per_s"], out["reimport_rows_per_s"]) / out["plain_merge_rows_per_s"], 2
        )
        out["reimport_vs_plain_reimport"] = round(out["reimport_rows_per_s"] / out["plain_reimport_rows_per_s"], 2)
        out["floor_share_of_raw_copy"] = round(out["floor_rows_per_s"] / out["raw_copy_rows_per_s"], 3)
        out["fast_path_share_of_floor"] = round(
            min(out["snapshot_rows_per_s"], out["reimport_rows_per_s"]) / out["floor_rows_per_s"], 3
        )
    for p in (first_a, first_b, again_b, delta_b):
        p.unlink()
    tmp.rmdir()
    out["targets"] = {
        "fast_path_share_of_raw_copy": 0.1,
        "import_export_rows_per_s": 3000,
        "peak_rss_mb": 300,
        "wms_events_per_s": 50000,
    }
    return out


def _bench_floor(*, tmp, skus, locations, rows: int) -> float:
    """Seconds to write what a first load must write, and nothing else: the rows (as ids) COPY'd into a
    table shaped like StockLevel (its indexes, checks and fillfactor) and as many into a table shaped like
    the ledger (its indexes), in one transaction. No parsing, lookups, validation or diffing."""
    from django.db import transaction

    from inventory.models import Location, Product

    pid = dict(Product.objects.filter(sku__in=skus).values_list("sku", "id"))
    lid = dict(Location.objects.filter(code__in=locations).values_list("code", "id"))
    stock, ledger = tmp / "floor_stock.csv", tmp / "floor_ledger.csv"
    now = "2026-01-01 00:00:00+00"
    with open(stock, "w") as fs, open(ledger, "w") as fl:
        n = 0
        for sku in skus:
            for loc in locations:
                if n >= rows:
                    break
                fs.write(f"{pid[sku]},{lid[loc]},{n % 50},0,{now}\n")
                fl.write(f"{pid[sku]},{lid[loc]},{n % 50},0,import,bench floor,{now}\n")
                n += 1
    with connection.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS bench_floor_stock, bench_floor_ledger")
        cur.execute("CREATE TABLE bench_floor_stock (LIKE inventory_stocklevel INCLUDING ALL)")
        cur.execute(
            "SELECT reloptions FROM pg_class WHERE oid = 'inventory_stocklevel'::regclass AND reloptions IS NOT NULL"
        )
        for (opts,) in cur.fetchall():
            cur.execute(f"ALTER TABLE bench_floor_stock SET ({', '.join(opts)})")
        cur.execute("CREATE TABLE bench_floor_ledger (LIKE inventory_inventorymovement INCLUDING ALL)")

        def write() -> None:
            with transaction.atomic():
                cur.execute("SET LOCAL synchronous_commit = off")  # as the fast path does
                _copy_file(
                    cur,
                    "COPY bench_floor_stock (product_id, location_id, on_hand, reserved, updated_at)"
                    " FROM STDIN (FORMAT csv)",
                    stock,
                )
                _copy_file(
                    cur,
                    "COPY bench_floor_ledger (product_id, location_id, delta_on_hand, delta_reserved, reason,"
                    " reference, created_at) FROM STDIN (FORMAT csv)",
                    ledger,
                )

        secs = _timed(write)
        cur.execute("DROP TABLE bench_floor_stock, bench_floor_ledger")
    stock.unlink()
    ledger.unlink()
    return secs


def _bench_import_export(*, skus, locations, rows: int) -> float:
    """The admin path: StockLevelResource.import_data on existing rows, every value changed."""
    import tablib

    from inventory.resources import StockLevelResource

    data = tablib.Dataset(headers=["sku", "location", "on_hand"])
    n = 0
    for sku in skus:
        for loc in locations:
            data.append([sku, loc, 1000 + n % 7])
            n += 1
            if n >= rows:
                break
        if n >= rows:
            break
    t = time.perf_counter()
    result = StockLevelResource().import_data(data, dry_run=False, use_transactions=True, raise_errors=False)
    secs = time.perf_counter() - t
    if result.has_errors() or result.has_validation_errors():
        raise RuntimeError(f"import-export bench rows were refused: {result.invalid_rows[:3]}")
    return n / secs


def _bench_wms_events(*, skus, locations, events: int, keys: int | None = None) -> tuple[int, int]:
    """JSON events pushed by a WMS: parsed, de-duplicated, sequenced and merged (one document)."""
    import json
    import random

    from inventory.feeds import wms_events_apply
    from inventory.models import WmsFeed

    feed, _ = WmsFeed.objects.update_or_create(
        name="bench-wms",
        defaults={"format": WmsFeed.Format.JSON_EVENTS, "transport": WmsFeed.Transport.HTTP_PUSH, "is_active": False},
    )
    rng = random.Random(7)
    start = feed.last_sequence
    pairs = [(sku, loc) for sku in skus[:400] for loc in locations][: keys or events]
    body = json.dumps(
        {
            "events": [
                {
                    "id": f"bench-{start + i}",
                    "sequence": start + i,
                    "sku": pairs[i % len(pairs)][0],
                    "location": pairs[i % len(pairs)][1],
                    "type": rng.choice(["receive", "adjust", "set", "ship"]),
                    "quantity": rng.randint(1, 5),
                    "at": "2026-11-25T12:00:00Z",
                }
                for i in range(1, events + 1)
            ]
        }
    ).encode()
    t = time.perf_counter()
    run = wms_events_apply(feed_id=feed.pk, payload=json.loads(body), source="bench")
    secs = time.perf_counter() - t
    handled = run.report["applied"] + run.report["superseded"] + run.report["stale"]  # none refused or repeated
    if handled != events:
        raise RuntimeError(f"WMS bench handled {handled} of {events}: {run.message}")
    return round(events / secs), events


BENCHMARKS = {"availability": bench_availability, "import": bench_import}
