import pytest

from inventory.tests.helpers import put_stock
from webhooks.models import EventType
from webhooks.services import subscription_create
from webhooks.tests.receiver import Receiver


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
