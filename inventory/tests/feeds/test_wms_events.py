"""WMS JSON events: duplicates, gaps, stale sequences, and the push endpoint's authentication."""

import hashlib
import hmac
import json

import pytest

from conftest import api_for
from inventory.feeds import wms_events_apply
from inventory.models import FeedRun, InventoryMovement, StockLevel, WmsEvent, WmsFeed
from inventory.selectors import stock_shortages_open
from inventory.services import ReserveLine, stock_reserve
from inventory.tests.helpers import assert_ledger_matches_levels, put_stock

pytestmark = pytest.mark.django_db


@pytest.fixture
def feed(dc) -> WmsFeed:
    return WmsFeed.objects.create(
        name="edison",
        format=WmsFeed.Format.JSON_EVENTS,
        transport=WmsFeed.Transport.HTTP_PUSH,
        secret_env="DOM_FEED_EDISON_SECRET",
        location_map={"EDI1": "DC-EAST"},
    )


def ev(seq, type_="adjust", qty=1, sku="SKU-A", loc="EDI1", eid=None):
    return {"id": eid or f"e{seq}", "sequence": seq, "sku": sku, "location": loc, "type": type_, "quantity": qty}


def on_hand(product, location) -> int:
    s = StockLevel.objects.filter(product=product, location=location).first()
    return s.on_hand if s else 0


def test_events_apply_by_type_through_the_ledger(feed, product, dc):
    run = wms_events_apply(
        feed_id=feed.pk,
        payload={"events": [ev(1, "set", 10), ev(2, "receive", 5), ev(3, "ship", 3), ev(4, "adjust", -2)]},
    )
    assert run.status == "succeeded" and run.rows_applied == 4
    assert on_hand(product, dc) == 10
    assert InventoryMovement.objects.filter(reason="feed").count() == 1  # one net movement per key and batch
    assert_ledger_matches_levels()


def test_duplicates_are_ignored_in_a_batch_and_across_batches(feed, product, dc):
    wms_events_apply(feed_id=feed.pk, payload={"events": [ev(1, "receive", 5), ev(1, "receive", 5)]})
    run = wms_events_apply(feed_id=feed.pk, payload={"events": [ev(1, "receive", 5), ev(2, "receive", 1)]})
    assert on_hand(product, dc) == 6
    assert run.report["duplicates"] == 1 and run.rows_applied == 1
    assert WmsEvent.objects.filter(feed=feed).count() == 2


def test_gaps_are_reported_and_late_events_fill_them(feed, product, dc):
    run = wms_events_apply(feed_id=feed.pk, payload={"events": [ev(1, "receive", 1), ev(4, "receive", 1), ev(7)]})
    assert run.report["gaps"] == [[2, 3], [5, 6]]
    assert "gaps in sequence: 2–3, 5–6" in run.message
    late = wms_events_apply(feed_id=feed.pk, payload={"events": [ev(2, "receive", 1)]})
    assert late.report["late"] == 1 and late.report["gaps"] == []
    assert on_hand(product, dc) == 4
    assert WmsFeed.objects.get(pk=feed.pk).last_sequence == 7


def test_an_old_sequence_never_overwrites_a_newer_state(feed, product, dc):
    wms_events_apply(feed_id=feed.pk, payload={"events": [ev(10, "set", 50)]})
    # A set from before, and a delta from before, arrive late: both are already in the set at 10.
    run = wms_events_apply(feed_id=feed.pk, payload={"events": [ev(8, "set", 7), ev(9, "receive", 4)]})
    assert on_hand(product, dc) == 50
    assert run.report["stale"] == 2
    # Deltas after the set apply, in any order.
    wms_events_apply(feed_id=feed.pk, payload={"events": [ev(12, "ship", 5), ev(11, "receive", 2)]})
    assert on_hand(product, dc) == 47
    # A set older than deltas already applied: those deltas still count on top of it.
    wms_events_apply(feed_id=feed.pk, payload={"events": [ev(105, "adjust", 1)]})
    wms_events_apply(feed_id=feed.pk, payload={"events": [ev(100, "set", 30)]})
    assert on_hand(product, dc) == 31
    assert_ledger_matches_levels()


def test_in_one_batch_the_newest_set_wins_and_later_deltas_count(feed, product, dc):
    run = wms_events_apply(
        feed_id=feed.pk,
        payload={"events": [ev(3, "set", 20), ev(1, "set", 5), ev(4, "receive", 2), ev(2, "receive", 9)]},
    )
    assert on_hand(product, dc) == 22
    assert run.report["superseded"] == 2


def test_bad_events_are_rejected_by_name_and_the_rest_apply(feed, product, dc):
    run = wms_events_apply(
        feed_id=feed.pk,
        payload={
            "events": [ev(1, "receive", 3), ev(2, sku="NOPE"), ev(3, loc="MARS"), ev(4, "teleport"), ev(5, "set", -1)]
        },
    )
    assert on_hand(product, dc) == 3
    reasons = {(e["row"], e["column"], e["reason"]) for e in run.report["errors"]}
    assert reasons == {
        (2, "sku", "unknown SKU"),
        (3, "location", "unknown location"),
        (4, "type", "must be one of adjust, receive, set, ship"),
        (5, "quantity", "must be 0 or more for set"),
    }
    assert run.rows_rejected == 4


def test_every_field_is_checked_and_odd_but_valid_events_apply(feed, product, dc):
    good_int_id = {**ev(1, "receive", 2), "id": 77, "at": "2026-11-25T12:00:00"}
    run = wms_events_apply(
        feed_id=feed.pk,
        payload={
            "events": [
                good_int_id,
                {**ev(2), "at": "2026-13-01T00:00:00Z"},  # well-formed, but no 13th month
                {**ev(3), "at": 5},
                ev(2**63),
                {**ev(5), "quantity": True},
                "not an event",
                {**ev(6), "sku": {"a": 1}},
            ]
        },
    )
    assert on_hand(product, dc) == 2
    stored = WmsEvent.objects.get(feed=feed)
    assert stored.event_id == "77" and stored.at.isoformat() == "2026-11-25T12:00:00+00:00"
    reasons = [(e["row"], e["column"]) for e in run.report["errors"]]
    assert reasons == [(2, "at"), (3, "at"), (4, "sequence"), (5, "quantity"), (6, ""), (7, "sku")]
    assert run.rows_applied == 1 and run.rows_rejected == 6


def test_a_ship_beyond_stock_clamps_at_zero_and_flags_a_shortage(feed, product, dc):
    put_stock(product, dc, 5)
    stock_reserve(lines=[ReserveLine(product.pk, 4, location_id=dc.pk)])
    wms_events_apply(feed_id=feed.pk, payload={"events": [ev(1, "ship", 9)]})
    assert on_hand(product, dc) == 0
    [short] = stock_shortages_open()
    assert (short.on_hand, short.reserved) == (0, 4)
    assert_ledger_matches_levels()


def body_and_headers(events, secret=None, mode="token"):
    body = json.dumps({"events": events}).encode()
    headers = {}
    if secret and mode == "token":
        headers["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    if secret and mode == "hmac":
        headers["HTTP_X_DOM_SIGNATURE"] = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return body, headers


def test_push_with_a_token(feed, product, dc, monkeypatch):
    monkeypatch.setenv("DOM_FEED_EDISON_SECRET", "s3cret")
    client = api_for(None)
    body, headers = body_and_headers([ev(1, "receive", 4)], "s3cret")
    resp = client.post("/api/v1/wms/edison/events", body, content_type="application/json", **headers)
    assert resp.status_code == 200, resp.content
    assert resp.json()["applied"] == 1 and on_hand(product, dc) == 4
    body, headers = body_and_headers([ev(2, "receive", 4)], "wrong")
    resp = client.post("/api/v1/wms/edison/events", body, content_type="application/json", **headers)
    assert resp.status_code == 403 and on_hand(product, dc) == 4
    resp = client.post("/api/v1/wms/edison/events", body, content_type="application/json")
    assert resp.status_code == 403
    assert client.post("/api/v1/wms/nope/events", body, content_type="application/json").status_code == 404


def test_push_with_an_hmac_signature(feed, product, dc, monkeypatch):
    monkeypatch.setenv("DOM_FEED_EDISON_SECRET", "k3y")
    feed.auth = WmsFeed.Auth.HMAC
    feed.save()
    client = api_for(None)
    body, headers = body_and_headers([ev(1, "receive", 2)], "k3y", mode="hmac")
    assert client.post("/api/v1/wms/edison/events", body, content_type="application/json", **headers).status_code == 200
    tampered = body.replace(b'"quantity": 2', b'"quantity": 200')
    resp = client.post("/api/v1/wms/edison/events", tampered, content_type="application/json", **headers)
    assert resp.status_code == 403
    assert on_hand(product, dc) == 2


def test_push_without_a_configured_secret_is_refused(feed, product, monkeypatch):
    monkeypatch.delenv("DOM_FEED_EDISON_SECRET", raising=False)
    body, headers = body_and_headers([ev(1)], "anything")
    resp = api_for(None).post("/api/v1/wms/edison/events", body, content_type="application/json", **headers)
    assert resp.status_code == 403 and "no secret" in resp.json()["detail"]


def test_push_of_only_bad_events_is_a_400_and_alerts(
    feed, product, monkeypatch, settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.INVENTORY_ALERT_EMAILS = ["stock@example.com"]
    monkeypatch.setenv("DOM_FEED_EDISON_SECRET", "s3cret")
    body, headers = body_and_headers([ev(1, sku="NOPE")], "s3cret")
    with django_capture_on_commit_callbacks(execute=True):
        resp = api_for(None).post("/api/v1/wms/edison/events", body, content_type="application/json", **headers)
    assert resp.status_code == 400
    assert resp.json()["rejected"][0]["reason"] == "unknown SKU"
    assert FeedRun.objects.get().status == "rejected"
    [mail] = mailoutbox
    assert mail.to == ["stock@example.com"] and "edison" in mail.subject and "unknown SKU" in mail.body


class _Reference:
    """The event rules in plain Python, one event at a time in each document's order of sequence: the
    set-based path must give the same stock and the same counts."""

    def __init__(self) -> None:
        self.ids: set[str] = set()
        self.stock: dict[str, int] = {}
        self.last_set: dict[str, int] = {}
        self.applied: dict[str, list[tuple[int, int]]] = {}  # key -> (sequence, signed delta) applied

    def apply(self, events: list[dict]) -> dict:
        counts = {"duplicates": 0, "stale": 0, "superseded": 0}
        fresh = []
        for e in events:
            if e["id"] in self.ids:
                counts["duplicates"] += 1
            else:
                self.ids.add(e["id"])
                fresh.append(e)
        for key in {e["sku"] for e in fresh}:
            evs = sorted((e for e in fresh if e["sku"] == key), key=lambda e: e["sequence"])
            live = [e for e in evs if e["sequence"] >= self.last_set.get(key, 0)]
            counts["stale"] += len(evs) - len(live)
            if not live:
                continue
            sets = [e for e in live if e["type"] == "set"]
            signed = {"receive": 1, "ship": -1, "adjust": 1}
            if sets:
                newest = sets[-1]
                base = newest["quantity"] + sum(d for s, d in self.applied.get(key, []) if s > newest["sequence"])
                self.last_set[key] = newest["sequence"]
            else:
                newest, base = None, self.stock.get(key, 0)
            for e in live:
                if newest is not None and (
                    e["sequence"] < newest["sequence"] or (e["type"] == "set" and e is not newest)
                ):
                    counts["superseded"] += 1
                elif e is not newest:
                    d = signed[e["type"]] * e["quantity"]
                    base += d
                    self.applied.setdefault(key, []).append((e["sequence"], d))
            self.stock[key] = max(0, base)
        return counts


@pytest.mark.parametrize("by_index", [False, True], ids=["planner-joins", "index-joins"])
@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_random_streams_match_the_reference_rules(feed, dc, seed, by_index, monkeypatch):
    import random

    from inventory.models import Product

    # Both ways the merge may join the stock table on PostgreSQL (by index when a document is small
    # against the stock table, as a feed's usually is; the test tables are too small to choose it).
    monkeypatch.setattr("inventory.services.merge._merge_by_index", lambda **_: by_index)
    rng = random.Random(seed)
    products = {s: Product.objects.create(sku=s, name=s) for s in ("R-1", "R-2", "R-3")}
    ref = _Reference()
    sent: list[dict] = []
    seq = 0
    for _ in range(8):
        batch = []
        for _ in range(rng.randint(1, 12)):
            if (sent or batch) and rng.random() < 0.15:
                batch.append(rng.choice(sent + batch))  # a repeat, from an earlier document or this one
                continue
            seq += 1
            late = rng.random() < 0.25 and seq > 3
            batch.append(
                ev(
                    rng.randint(1, seq - 1) if late else seq,
                    rng.choice(["set", "receive", "ship", "adjust"]),
                    rng.randint(0, 9),
                    sku=rng.choice(list(products)),
                    eid=f"r{seq}",
                )
            )
        sent.extend(batch)
        expected = ref.apply(batch)
        run = wms_events_apply(feed_id=feed.pk, payload={"events": batch})
        assert {k: run.report[k] for k in expected} == expected
        for sku, p in products.items():
            assert on_hand(p, dc) == ref.stock.get(sku, 0), (sku, batch)
    assert_ledger_matches_levels()


def test_ids_with_tabs_newlines_and_backslashes_are_stored_as_sent_and_recognised_again(feed, product, dc):
    odd = ["a\tb", "c\nd", "e\\f", "g\rh", "i\\tj", "\\N", "k\u200bl", "ü\x01"]
    events = [ev(i + 1, "receive", 1, eid=eid) for i, eid in enumerate(odd)]
    run = wms_events_apply(feed_id=feed.pk, payload={"events": events})
    assert run.rows_applied == len(odd)
    assert sorted(WmsEvent.objects.filter(feed=feed).values_list("event_id", flat=True)) == sorted(odd)
    again = wms_events_apply(feed_id=feed.pk, payload={"events": [ev(20, "receive", 1, eid=e) for e in odd]})
    assert again.report["duplicates"] == len(odd) and again.rows_applied == 0
    assert on_hand(product, dc) == len(odd)


def test_nul_characters_are_refused_by_event_and_field_not_by_a_crash(feed, product, dc):
    run = wms_events_apply(
        feed_id=feed.pk,
        payload={
            "events": [
                ev(1, "receive", 2),
                ev(2, eid="a\x00b"),
                ev(3, sku="SKU\x00A"),
                ev(4, loc="EDI\x001"),
                {**ev(5), "type": "set\x00"},
                {**ev(6), "at": "2026-11-25\x00"},
            ]
        },
    )
    assert on_hand(product, dc) == 2 and run.rows_applied == 1
    reasons = [(e["row"], e["column"], e["value"]) for e in run.report["errors"]]
    assert reasons == [
        (2, "id", "a\ufffdb"),
        (3, "sku", "SKU\ufffdA"),
        (4, "location", "EDI\ufffd1"),
        (5, "type", "set\ufffd"),
        (6, "at", "2026-11-25\ufffd"),
    ]
    run.refresh_from_db()  # the report was stored
    assert run.rows_rejected == 5
