import pytest

from bench.factories import make_fo, make_order, put_stock
from common import roles
from conftest import make_user


@pytest.fixture
def store_b_user(db, store_b):
    return make_user("clerk-b", roles.STORE_STAFF, stores=[store_b])


@pytest.fixture
def stocked(product, product_b, store, store_b, dc):
    for loc in (store, store_b, dc):
        put_stock(product, loc, 10)
        put_stock(product_b, loc, 10)


@pytest.fixture
def pickup_fo(web, store, product, product_b, stocked):
    order = make_order(channel=web, lines=[(product, 2), (product_b, 1)], method="pickup", pickup_location=store)
    return make_fo(order=order, location=store, method="pickup")


@pytest.fixture
def ship_fo_store(web, store, product, product_b, stocked):
    order = make_order(channel=web, lines=[(product, 1), (product_b, 2)])
    return make_fo(order=order, location=store, method="ship")


@pytest.fixture
def dc_fo(web, dc, product, stocked):
    order = make_order(channel=web, lines=[(product, 3)])
    return make_fo(order=order, location=dc, method="ship")
