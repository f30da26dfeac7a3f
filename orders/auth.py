"""API authentication: DRF tokens, with what every API view asks next read in the same query."""

import json

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.db.models import TextField
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from common.roles import user_roles_remember


def _group_names(*, token_table: str) -> RawSQL:
    """The token's user's group names as a JSON array (text), as a subquery of the token query."""
    through = get_user_model().groups.through._meta
    agg = "json_agg(g.name)::text" if connection.vendor == "postgresql" else "json_group_array(g.name)"
    return RawSQL(
        f"SELECT {agg} FROM {Group._meta.db_table} g"
        f" JOIN {through.db_table} ug ON ug.{through.get_field('group').column} = g.id"
        f" WHERE ug.{through.get_field('user').column} = {token_table}.user_id",
        [],
        output_field=TextField(),
    )


class ApiClientTokenAuthentication(TokenAuthentication):
    """DRF's token authentication (same header, same errors) that also reads, in the token's query, the
    user's roles (`common.roles.user_roles`) and API-client channel (`orders.selectors.channel_for_client`):
    every API view checks both next, which then need no query of their own."""

    def authenticate_credentials(self, key):
        model = self.get_model()
        try:
            token = (
                model.objects.select_related("user__api_client__channel")
                .annotate(group_names=_group_names(token_table=model._meta.db_table))
                .get(key=key)
            )
        except model.DoesNotExist:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from None
        user = token.user
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        user_roles_remember(user=user, names=json.loads(token.group_names or "[]"))
        client = getattr(user, "api_client", None)  # None (no query) when the user is not an API client
        user._dom_channel = client.channel if client is not None else None
        return user, token
