"""Token authentication (orders.auth.ApiClientTokenAuthentication): DRF's answers, plus the user's roles and
API-client channel read with the token."""

import pytest
from django.contrib.auth.models import Group
from rest_framework.authtoken.models import Token

from common import roles
from common.roles import user_roles
from conftest import api_for, make_user
from orders.auth import ApiClientTokenAuthentication
from orders.selectors import channel_for_client

pytestmark = pytest.mark.django_db


def test_a_bound_clients_channel_and_roles_come_with_its_token(api_user, web, django_assert_num_queries):
    token, _ = Token.objects.get_or_create(user=api_user)
    with django_assert_num_queries(1):
        user, got = ApiClientTokenAuthentication().authenticate_credentials(token.key)
        assert channel_for_client(user=user) == web
        assert user_roles(user=user) == {roles.API_CLIENT}
    assert (user, got) == (api_user, token)


def test_a_user_who_is_no_api_client_has_no_channel_and_all_its_groups(ops_user, django_assert_num_queries):
    ops_user.groups.add(Group.objects.create(name="Night shift"))  # not a role: still one of the user's groups
    token, _ = Token.objects.get_or_create(user=ops_user)
    with django_assert_num_queries(1):
        user, _ = ApiClientTokenAuthentication().authenticate_credentials(token.key)
        assert channel_for_client(user=user) is None
        assert user_roles(user=user) == {roles.OPERATIONS, "Night shift"}


def test_a_user_without_groups_has_no_roles(django_assert_num_queries):
    plain = make_user("no-groups")
    token, _ = Token.objects.get_or_create(user=plain)
    with django_assert_num_queries(1):
        user, _ = ApiClientTokenAuthentication().authenticate_credentials(token.key)
        assert user_roles(user=user) == frozenset()


def test_unknown_token_and_inactive_user_are_refused_with_401(ops_user):
    bad = api_for(None)
    bad.credentials(HTTP_AUTHORIZATION="Token nope")
    assert bad.get("/api/v1/availability/?sku=X").status_code == 401
    robot = make_user("robot-off", roles.API_CLIENT)
    client = api_for(robot)
    robot.is_active = False
    robot.save()
    resp = client.get("/api/v1/availability/?sku=X")
    assert resp.status_code == 401 and "inactive" in resp.json()["detail"]


def test_the_token_query_is_built_once_per_process(api_user, ops_user):
    from orders.auth import _token_query

    auth = ApiClientTokenAuthentication()
    auth.authenticate_credentials(Token.objects.get_or_create(user=api_user)[0].key)
    built = _token_query.cache_info().misses
    for user in (api_user, ops_user, api_user):
        got, _ = auth.authenticate_credentials(Token.objects.get_or_create(user=user)[0].key)
        assert got == user
    assert _token_query.cache_info().misses == built


def test_the_token_read_by_raw_sql_equals_the_orms(api_user, web):
    token, _ = Token.objects.get_or_create(user=api_user)
    user, got = ApiClientTokenAuthentication().authenticate_credentials(token.key)
    orm = Token.objects.select_related("user__api_client__channel").get(key=token.key)
    assert (got.key, got.user_id, got.created) == (orm.key, orm.user_id, orm.created)
    for f in type(user)._meta.concrete_fields:
        assert getattr(user, f.attname) == getattr(orm.user, f.attname), f.name
    assert user.api_client.pk == orm.user.api_client.pk and user.api_client.channel == web
    assert not user._state.adding and got.user is user
