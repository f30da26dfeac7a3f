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
