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
        secret_env="WMS_EDISON_SECRET",
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
    monkeypatch.setenv("WMS_EDISON_SECRET", "s3cret")
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
    monkeypatch.setenv("WMS_EDISON_SECRET", "k3y")
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
    monkeypatch.delenv("WMS_EDISON_SECRET", raising=False)
    body, headers = body_and_headers([ev(1)], "anything")
    resp = api_for(None).post("/api/v1/wms/edison/events", body, content_type="application/json", **headers)
    assert resp.status_code == 403 and "no secret" in resp.json()["detail"]


def test_push_of_only_bad_events_is_a_400_and_alerts(
    feed, product, monkeypatch, settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.INVENTORY_ALERT_EMAILS = ["stock@example.com"]
    monkeypatch.setenv("WMS_EDISON_SECRET", "s3cret")
    body, headers = body_and_headers([ev(1, sku="NOPE")], "s3cret")
    with django_capture_on_commit_callbacks(execute=True):
        resp = api_for(None).post("/api/v1/wms/edison/events", body, content_type="application/json", **headers)
    assert resp.status_code == 400
    assert resp.json()["rejected"][0]["reason"] == "unknown SKU"
    assert FeedRun.objects.get().status == "rejected"
    [mail] = mailoutbox
    assert mail.to == ["stock@example.com"] and "edison" in mail.subject and "unknown SKU" in mail.body
