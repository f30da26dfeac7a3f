"""routing.core.network_prime: warming a batch's per-destination memos changes no figure and no decision."""

import random
from dataclasses import replace

import pytest

from routing.core import network_prime, order_decide
from routing.tests.test_exactness import random_case


@pytest.mark.parametrize("seed", range(20))
def test_primed_memos_equal_the_figures_computed_one_by_one(seed):
    rng = random.Random(seed)
    static, state, order = random_case(rng)
    cold, _, _ = random_case(random.Random(seed))  # the same network, never primed
    orders = [
        replace(
            order,
            id=k,
            latitude=rng.uniform(26, 48),
            longitude=rng.uniform(-122, -71),
            service_level=rng.choice(["standard", "express", "overnight"]),
            method=rng.choice(["ship", "ship", "pickup", "same_day"]),
            pickup_location_id=rng.choice(list(static.locations)),
        )
        for k in range(40)
    ]
    network_prime(static=static, orders=orders)
    assert static._dist_cache and static._bounds_cache  # primed before any decision
    for o in orders:
        assert static.distances(o.latitude, o.longitude) == cold.distances(o.latitude, o.longitude)
        for rates in static.rates.values():
            got = static.ship_bounds(o.latitude, o.longitude, rates, o.channel_online)
            assert got == cold.ship_bounds(o.latitude, o.longitude, rates, o.channel_online)
        hot_d = order_decide(order=o, static=static, state=state)
        cold_d = order_decide(order=o, static=cold, state=state)
        assert (hot_d.shipments, hot_d.excluded, hot_d.cost) == (cold_d.shipments, cold_d.excluded, cold_d.cost)
