"""wms_feed_create: a feed set up from code is checked like the admin's form; a bad one names its fields and
stores nothing."""

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given, settings
from hypothesis import strategies as st

from inventory.feeds import wms_feed_create
from inventory.models import WmsFeed

pytestmark = pytest.mark.django_db


def test_a_push_feed_is_created_with_its_map(dc):
    feed = wms_feed_create(
        name="edison-wms",
        format="json_events",
        transport="http_push",
        secret_env="DOM_FEED_EDISON_TOKEN",
        location_map={"EDI1": dc.code},
    )
    assert WmsFeed.objects.get(name="edison-wms").pk == feed.pk
    assert feed.location_map == {"EDI1": dc.code} and feed.is_active


@pytest.mark.parametrize(
    "changes,field",
    [
        ({"transport": "http_push", "secret_env": ""}, None),  # a push feed without its secret's variable
        ({"secret_env": "AWS_SECRET_ACCESS_KEY"}, "secret_env"),  # not a DOM_FEED_ variable
        ({"format": "xml"}, "format"),
        ({"name": "has spaces"}, "name"),
        ({"transport": "directory", "directory": "../../etc"}, "directory"),
    ],
)
def test_a_bad_feed_names_the_problem_and_stores_nothing(changes, field):
    kwargs = {"name": "wms", "format": "json_events", "transport": "http_push", "secret_env": "DOM_FEED_X"}
    with pytest.raises(ValidationError) as exc:
        wms_feed_create(**{**kwargs, **changes})
    if field:
        assert field in exc.value.message_dict
    assert not WmsFeed.objects.exists()


@settings(max_examples=40, deadline=None)
@given(name=st.text(max_size=60), fmt=st.text(max_size=20), env=st.text(max_size=40))
def test_any_input_is_a_feed_or_a_validation_error(name, fmt, env):
    try:
        feed = wms_feed_create(name=name, format=fmt, transport="http_push", secret_env=env)
    except ValidationError:
        return
    feed.delete()
