"""`python manage.py bench dashboard --orders 1000000 --json`: the dashboard's render time on a large history.

Generates a year of order history set-based (PostgreSQL COPY through `common.bulk.rows_insert`; ids are
assigned here, so each table is one stream): orders, lines, fulfilment orders and lines, shipments, routing
decisions, capacity days. Then builds the KPI rollup once (timed), refreshes the last two days as the schedule
does (timed), and renders the dashboard through the Django test client for several periods, plus a
drill-down. A history already there with at least as many orders is reused.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from bench.tools import ms

PREFIX = "bench-"
CHANNELS = [("web", 0.55), ("app", 0.20), ("mkt", 0.15), ("b2b", 0.05), ("pos", 0.05)]
DCS = [("08817", "America/New_York"), ("30336", "America/New_York"), ("75261", "America/Chicago"),
       ("91761", "America/Los_Angeles"), ("38118", "America/Chicago")]  # fmt: skip
STORE_ZIPS = ["10001", "11201", "60601", "77002", "85004", "19103", "78205", "92101", "75201", "95113",
              "78701", "32202", "76102", "43215", "28202", "94103", "46204", "98101", "80202", "20001",
              "02108", "37203", "48226", "73102", "97204", "89101", "40202", "21202", "53202", "87102"]  # fmt: skip


def _bench_channels():
    from orders.models import Channel

    return [
        Channel.objects.get_or_create(code=PREFIX + code, defaults={"name": f"Bench {code}", "kind": "web"})[0]
        for code, _ in CHANNELS
    ]


def _bench_locations():
    from inventory.models import Location

    locs = []
    for i, (zip_, tz) in enumerate(DCS):
        locs.append(
            Location.objects.get_or_create(
                code=f"BENCH-DC-{i + 1}",
                defaults={"name": f"Bench DC {i + 1}", "kind": "warehouse", "postal_code": zip_, "timezone": tz,
                          "daily_capacity": 20000},
            )[0]
        )  # fmt: skip
    for i, zip_ in enumerate(STORE_ZIPS):
        locs.append(
            Location.objects.get_or_create(
                code=f"BENCH-STORE-{i + 1:03d}",
                defaults={"name": f"Bench store {i + 1}", "kind": "store", "postal_code": zip_, "can_pickup": True,
                          "daily_capacity": 40},
            )[0]
        )  # fmt: skip
    return locs[: len(DCS)], locs[len(DCS) :]


class _Table:
    """One model's COPY stream: fixed column order, model defaults for the columns not given."""

    def __init__(self, model, given: list[str]):
        self.model = model
        # The primary key only when given (else the database's sequence numbers the rows).
        self.fields = [f for f in model._meta.concrete_fields if not f.primary_key or f.attname in given]
        self.columns = [f.column for f in self.fields]
        self.index = {f.attname: i for i, f in enumerate(self.fields)}
        self.template = []
        for f in self.fields:
            value = None if f.primary_key else f.get_default()  # "" for blank text fields without a default
            if isinstance(value, (dict, list)):
                value = json.dumps(value)
            self.template.append(value)
        missing = [
            f.attname
            for f in self.fields
            if f.attname not in given
            and not f.null
            and not f.primary_key
            and self.template[self.index[f.attname]] is None
        ]
        if missing:
            raise ValueError(f"{model.__name__}: give values for {missing}")
        self.given = [self.index[name] for name in given]
        self.rows: list[tuple] = []

    def add(self, *values) -> None:
        row = list(self.template)
        for i, v in zip(self.given, values, strict=True):
            row[i] = v
        self.rows.append(tuple(row))

    def flush(self) -> int:
        from common.bulk import rows_insert

        n = rows_insert(table=self.model._meta.db_table, columns=self.columns, rows=self.rows)
        self.rows.clear()
        return n


def _next_id(model) -> int:
    with connection.cursor() as cur:
        cur.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {connection.ops.quote_name(model._meta.db_table)}")
        return cur.fetchone()[0]


def _reset_sequences(models) -> None:
    from django.core.management.color import no_style

    with connection.cursor() as cur:
        for sql in connection.ops.sequence_reset_sql(no_style(), models):
            cur.execute(sql)


def history_generate(*, orders: int, today: date, log, seed: int = 42) -> dict:
    """A year of history ending today: `orders` orders spread evenly over 365 days (see the module doc)."""
    from fulfillment.models import FulfillmentLine, FulfillmentOrder, Shipment
    from inventory.models import Product
    from orders.models import Order, OrderLine
    from routing.models import LocationCapacity, RoutingDecision

    rng = random.Random(seed)
    channels = _bench_channels()
    dcs, stores = _bench_locations()
    product, _ = Product.objects.get_or_create(sku="BENCH-SKU-1", defaults={"name": "Bench item"})
    ch_ids, ch_w = [c.pk for c in channels], [w for _, w in CHANNELS]
    dc_ids, store_ids = [d.pk for d in dcs], [s.pk for s in stores]
    now = timezone.now()
    day0 = today - timedelta(days=364)
    start = timezone.make_aware(datetime.combine(day0, datetime.min.time()))
    span = (now - start).total_seconds()

    t_order = _Table(Order, ["id", "channel_id", "external_id", "number", "status", "placed_at",
                             "fulfillment_method", "promised_delivery_date", "created_at", "updated_at"])  # fmt: skip
    t_line = _Table(OrderLine, ["id", "order_id", "line_number", "product_id", "sku", "quantity", "quantity_allocated",
                                "quantity_shipped", "quantity_cancelled", "quantity_returned"])  # fmt: skip
    t_fo = _Table(FulfillmentOrder, ["id", "order_id", "location_id", "method", "status", "estimated_cost",
                                     "ready_at", "picked_up_at", "expired_at", "created_at", "updated_at"])  # fmt: skip
    t_fol = _Table(FulfillmentLine, ["fulfillment_order_id", "order_line_id", "quantity", "quantity_picked",
                                     "quantity_short", "quantity_shipped"])  # fmt: skip
    t_ship = _Table(Shipment, ["fulfillment_order_id", "carrier", "cost", "shipped_at", "delivered_at", "created_at"])
    t_dec = _Table(RoutingDecision, ["order_id", "kind", "outcome", "service_level", "method", "cost", "model_cost",
                                     "oracle_cost", "optimal", "created_at"])  # fmt: skip
    oid, lid, fid = _next_id(Order), _next_id(OrderLine), _next_id(FulfillmentOrder)
    counts = dict.fromkeys(["orders", "order_lines", "fulfillment_orders", "fulfillment_lines", "shipments",
                            "decisions", "capacity_days"], 0)  # fmt: skip
    tables = [t_order, t_line, t_fo, t_fol, t_ship, t_dec]
    t0 = time.perf_counter()
    for i in range(orders):
        placed = start + timedelta(seconds=span * (i + rng.random()) / orders)
        age_h = (now - placed).total_seconds() / 3600
        channel = rng.choices(ch_ids, ch_w)[0]
        r = rng.random()
        method = "ship" if r < 0.85 else "pickup" if r < 0.97 else "same_day"
        promised = (placed + timedelta(days=5 if method == "ship" else 0)).date()
        n_lines = 1 if rng.random() < 0.75 else 2
        qtys = [1 if rng.random() < 0.85 else 2 for _ in range(n_lines)]
        cancelled = rng.random() < 0.02
        cycle_h = rng.lognormvariate(3.0, 0.7) if method != "same_day" else rng.uniform(1, 6)
        done = not cancelled and cycle_h < age_h
        short = done and rng.random() < 0.004
        status = "cancelled" if cancelled else ("delivered" if done else "routed")
        order_id = oid
        oid += 1
        t_order.add(order_id, channel, f"B{i}", f"BENCH-{i:08d}", status, placed, method, promised, placed, placed)
        line_ids = []
        for n, q in enumerate(qtys, start=1):
            shipped = q if done else 0
            returned = 1 if done and rng.random() < 0.06 else 0
            t_line.add(lid, order_id, n, product.pk, product.sku, q, 0 if cancelled else q, shipped,
                       q if cancelled else 0, returned)  # fmt: skip
            line_ids.append((lid, q, shipped))
            lid += 1
        counts["orders"] += 1
        counts["order_lines"] += n_lines
        if cancelled:
            continue
        if method == "pickup":
            locs = [rng.choice(store_ids)]
        else:
            locs = [rng.choice(dc_ids) if rng.random() < 0.8 else rng.choice(store_ids)]
            if n_lines == 2 and rng.random() < 0.3:
                locs.append(rng.choice([x for x in dc_ids if x != locs[0]]))
        cost = round(rng.uniform(6, 14), 2)
        oracle = Decimal(str(cost)) if rng.random() < 0.1 else None
        t_dec.add(order_id, "route", "routed", "standard", method, Decimal(str(cost)), Decimal(str(cost)),
                  (oracle + Decimal("0.40")) if oracle is not None and rng.random() < 0.03 else oracle,
                  rng.random() < 0.995, placed + timedelta(seconds=30))  # fmt: skip
        counts["decisions"] += 1
        end_at = placed + timedelta(hours=cycle_h)
        for k, loc in enumerate(locs):
            fo_lines = line_ids if len(locs) == 1 else [line_ids[k]]
            fo_id = fid
            fid += 1
            if method == "pickup":
                ready = placed + timedelta(hours=rng.uniform(0.3, 4))
                no_show = rng.random() < 0.06
                fo_status = ("expired" if no_show else "picked_up") if done else "ready_for_pickup"
                picked = end_at if done and not no_show else None
                expired = ready + timedelta(days=3) if done and no_show else None
                t_fo.add(fo_id, order_id, loc, "pickup", fo_status, Decimal(str(cost)), ready if ready < now else None,
                         picked, expired, placed, placed)  # fmt: skip
            else:
                fo_status = "delivered" if done else "released"
                t_fo.add(fo_id, order_id, loc, method, fo_status, Decimal(str(cost / len(locs))), None, None, None,
                         placed, placed)  # fmt: skip
                if done:
                    delivered = end_at + timedelta(days=rng.choice([1, 2, 3, 3, 4, 5, 6]))
                    t_ship.add(fo_id, "UPS", Decimal("0"), end_at, delivered if delivered < now else None, end_at)
                    counts["shipments"] += 1
            counts["fulfillment_orders"] += 1
            for line_id, q, shipped in fo_lines:
                s = 1 if short and line_id == fo_lines[0][0] else 0
                t_fol.add(fo_id, line_id, q, q - s, s, min(shipped, q - s))
                counts["fulfillment_lines"] += 1
        if (i + 1) % 50000 == 0:
            for t in tables:
                t.flush()
            log(f"  {i + 1} orders written ({time.perf_counter() - t0:.0f}s)")
    for t in tables:
        t.flush()
    t_cap = _Table(LocationCapacity, ["location_id", "day", "capacity", "used"])
    for d in range(365):
        day = day0 + timedelta(days=d)
        for loc in dcs + stores:
            cap = loc.daily_capacity
            t_cap.add(loc.pk, day, cap, min(cap, int(cap * rng.uniform(0.2, 1.0))))
            counts["capacity_days"] += 1
    t_cap.flush()
    _reset_sequences([Order, OrderLine, FulfillmentOrder, FulfillmentLine, Shipment, RoutingDecision, LocationCapacity])
    return counts


def _render_times(client, url: str, params: dict, *, iterations: int) -> dict:
    client.get(url, params)  # warm: connection, templates, caches
    times = []
    for _ in range(iterations):
        t = time.perf_counter()
        response = client.get(url, params)
        times.append(time.perf_counter() - t)
        assert response.status_code == 200, response.status_code
    return {"p50_ms": ms(statistics.median(times)), "max_ms": ms(max(times)), "bytes": len(response.content)}


def bench_dashboard(*, log, orders: int = 100_000, iterations: int = 5, **_) -> dict:
    from django.contrib.auth.models import Group, User
    from django.test import Client
    from django.urls import reverse

    from analytics.models import KpiFact
    from analytics.services import kpi_rollup_refresh, kpi_rollup_refresh_recent
    from common.roles import OPERATIONS
    from orders.models import Order

    today = timezone.localdate()
    have = Order.objects.filter(channel__code__startswith=PREFIX).count()
    generated = None
    if have < orders:
        if have:
            raise RuntimeError(
                f"{have} bench orders exist, fewer than {orders}: use a fresh database for a bigger history."
            )
        log(f"generating {orders} orders of history (COPY)…")
        t = time.perf_counter()
        with transaction.atomic():
            counts = history_generate(orders=orders, today=today, log=log)
        generated = {"seconds": round(time.perf_counter() - t, 1), **counts}
        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                cur.execute("ANALYZE")
        log(f"generated in {generated['seconds']}s")
    log("building the KPI rollup for the year…")
    t = time.perf_counter()
    full = kpi_rollup_refresh(first=today - timedelta(days=364 + 365), last=today)
    rollup_s = time.perf_counter() - t
    t = time.perf_counter()
    kpi_rollup_refresh_recent(days=2)
    recent_s = time.perf_counter() - t
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute(f"ANALYZE {KpiFact._meta.db_table}")

    user, _ = User.objects.get_or_create(username="bench-ops")
    user.groups.add(Group.objects.get(name=OPERATIONS))
    client = Client(SERVER_NAME="localhost")
    client.force_login(user)
    url = reverse("dashboard:index")
    renders = {}
    for period in ("7", "30", "90", "365"):
        renders[f"last_{period}_days"] = _render_times(client, url, {"period": period}, iterations=iterations)
        log(f"period {period}: {renders[f'last_{period}_days']}")
    drill = _render_times(
        client, reverse("dashboard:drilldown", args=["order_cycle_time"]), {"period": "30"}, iterations=iterations
    )
    return {
        "database": connection.vendor,
        "orders": Order.objects.filter(channel__code__startswith=PREFIX).count(),
        "generated": generated,
        "rollup_rows": KpiFact.objects.count(),
        "rollup_full_build_s": round(rollup_s, 1),
        "rollup_refresh_last_2_days_s": round(recent_s, 2),
        "rollup_rows_written_full": full.rows,
        "dashboard_render": renders,
        "drilldown_render_cycle_time_30_days": drill,
        "iterations": iterations,
        "target_ms": 500,
        "meets_target": all(r["max_ms"] <= 500 for r in renders.values()),
    }


BENCHMARKS = {"dashboard": bench_dashboard}
