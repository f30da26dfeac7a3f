import pytest

from inventory.models import Product
from inventory.tests.helpers import put_stock
from orders.models import Channel
from webhooks.models import EventType
from webhooks.services import subscription_create
from webhooks.tests.receiver import Receiver
from webhooks.tests.shopify_shop import CHANNEL_SECRET, LINE_ITEMS, Shop


@pytest.fixture
def receiver():
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def fast_retries(settings):
    """Short backoff and timeout so a controlled clock stays within the signature's 5-minute tolerance."""
    settings.DOM = {**settings.DOM, "OUTBOX_BACKOFF_SECONDS": 1, "OUTBOX_TIMEOUT_SECONDS": 1, "OUTBOX_MAX_ATTEMPTS": 8}
    return settings


@pytest.fixture
def subscribed(web, receiver):
    """A subscription of the web channel to every event type; returns (subscription, secret)."""
    return subscription_create(name="Storefront", url=receiver.url, event_types=EventType.values, channel=web)


@pytest.fixture
def stocked(dc, product):
    put_stock(product, dc, 10)
    return dc


@pytest.fixture
def shop():
    """A local stand-in for the shop's Admin GraphQL API (webhooks/tests/shopify_shop.py)."""
    s = Shop().start()
    yield s
    s.stop()


@pytest.fixture
def shopify_channel(db):
    return Channel.objects.create(code="shop", name="Shopify store", kind="web", webhook_secret=CHANNEL_SECRET)


@pytest.fixture
def ipods(dc):
    """The real Shopify fixture's three products, ten of each at the DC."""
    products = [Product.objects.create(sku=sku, name=sku) for _, sku, _ in LINE_ITEMS]
    for p in products:
        put_stock(p, dc, 10)
    return products


@pytest.fixture
def shopify_sub(shop, shopify_channel):
    """The Shopify channel's fulfilment reporting, pointed at the local shop."""
    sub, _ = subscription_create(
        name="Shop fulfilments",
        kind="shopify",
        url=shop.url,
        access_token=shop.token,
        event_types=["fulfillment.shipped", "order.cancelled"],
        channel=shopify_channel,
    )
    return sub
