"""Two receipts of the same inbound line at the same moment: the line is locked, so exactly one counts the
last open units in; the other is refused (nothing written), never both."""

import threading
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import close_old_connections, connection
from django.utils import timezone

from inventory.inbound import InboundIn, InboundLineIn, ReceiptIn, inbound_create, inbound_receive
from inventory.models import InboundLine, InboundReceipt, StockLevel
from inventory.tests.helpers import assert_ledger_matches_levels

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.concurrency]

THREADS = 8


def test_racing_receipts_of_one_line_never_count_it_in_twice(product, dc):
    shipment = inbound_create(
        data=InboundIn(
            number="PO-RACE",
            supplier="Acme",
            location_code=dc.code,
            lines=[InboundLineIn(product.sku, 10, timezone.localdate() + timedelta(days=2))],
        )
    )
    barrier = threading.Barrier(THREADS)
    results: list = [None] * THREADS

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = inbound_receive(shipment_id=shipment.pk, receipts=[ReceiptIn(product.sku, 6)])
        except Exception as exc:  # noqa: BLE001 — recorded and asserted below
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    close_old_connections()
    won = [r for r in results if not isinstance(r, Exception)]
    lost = [r for r in results if isinstance(r, Exception)]
    assert len(won) == 1
    assert all(isinstance(e, ValidationError) and "only 4 open" in str(e) for e in lost), lost
    line = InboundLine.objects.get()
    assert (line.quantity_received, line.is_open) == (6, True)
    assert InboundReceipt.objects.count() == 1
    assert StockLevel.objects.get(product=product, location=dc).on_hand == 6
    assert_ledger_matches_levels()
