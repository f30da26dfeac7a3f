"""`bench load`'s invariant checks can fail: a double-stored order, a missing one, an answer naming another
order are each caught; the Shopify door's payloads pass intake's mapping."""

import random

from bench.load import order_invariants, shopify_payload


def test_a_clean_run_passes():
    got = order_invariants(accepted={"A": {1}, "B": {2}}, stored={"A": [1], "B": [2]})
    assert got["check_every_accepted_order_once"] and got["stored_twice"] == 0


def test_an_order_stored_twice_is_caught():
    got = order_invariants(accepted={"A": {1}, "B": {2}}, stored={"A": [1, 7], "B": [2]})
    assert not got["check_every_accepted_order_once"]
    assert got["stored_twice"] == 1


def test_an_accepted_order_missing_or_answered_as_another_is_caught():
    missing = order_invariants(accepted={"A": {1}, "B": {2}}, stored={"A": [1]})
    assert not missing["check_every_accepted_order_once"] and missing["accepted_but_missing"] == 1
    other = order_invariants(accepted={"A": {1, 3}}, stored={"A": [1]})
    assert not other["check_every_accepted_order_once"] and other["duplicate_answered_other_order"] == 1


def test_shopify_payloads_map_to_the_same_order():
    from orders.shopify import shopify_order_input

    skus = [f"LOAD-1-{i:03d}" for i in range(5)]
    body = shopify_payload(random.Random(3), run="1700000000", n=4, skus=skus, weights=[1.0] * 5)
    order_in = shopify_order_input(payload=body)
    assert order_in.external_id == str(1700000000 * 1_000_000 + 4)
    assert {ln.sku for ln in order_in.lines} <= set(skus) and order_in.payment_status == "authorized"
    assert order_in.shipping_address["postal_code"] == body["shipping_address"]["zip"]
