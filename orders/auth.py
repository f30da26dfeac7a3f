"""API authentication: DRF tokens, with what every API view asks next read in the same query, whose SQL is
built once per process."""

from __future__ import annotations

import json
from functools import cache

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from common.roles import user_roles_remember
from common.rows import sql_prepared_rows
from orders.models import ApiClient, Channel


@cache
def _token_query(*, token_model: type, vendor: str) -> tuple[str, tuple]:
    """(the SQL that reads a token by key with its user, API client, channel and group names; the models and
    attnames of each column block): built once per process (the ORM would compile it for every request)."""
    qn = connection.ops.quote_name
    user_model = get_user_model()
    through = user_model.groups.through._meta
    blocks = (
        (token_model, "t"),
        (user_model, "u"),
        (ApiClient, "a"),
        (Channel, "c"),
    )
    columns = [f"{alias}.{qn(f.column)}" for model, alias in blocks for f in model._meta.concrete_fields]
    agg = "json_agg(g.name)::text" if vendor == "postgresql" else "json_group_array(g.name)"
    user_col = qn(token_model._meta.get_field("user").column)
    sql = (
        f"SELECT {', '.join(columns)},"
        f" (SELECT {agg} FROM {qn(Group._meta.db_table)} g"
        f" JOIN {qn(through.db_table)} ug ON ug.{qn(through.get_field('group').column)} = g.id"
        f" WHERE ug.{qn(through.get_field('user').column)} = t.{user_col})"
        f" FROM {qn(token_model._meta.db_table)} t"
        f" JOIN {qn(user_model._meta.db_table)} u ON u.{qn(user_model._meta.pk.column)} = t.{user_col}"
        f" LEFT JOIN {qn(ApiClient._meta.db_table)} a ON a.{qn(ApiClient._meta.get_field('user').column)}"
        f" = u.{qn(user_model._meta.pk.column)}"
        f" LEFT JOIN {qn(Channel._meta.db_table)} c ON c.{qn(Channel._meta.pk.column)}"
        f" = a.{qn(ApiClient._meta.get_field('channel').column)}"
        f" WHERE t.{qn(token_model._meta.pk.column)} = %s"
    )
    shapes = tuple(
        (model, [f.attname for f in model._meta.concrete_fields], _converters(model=model)) for model, _ in blocks
    )
    return sql, shapes


def _converters(*, model: type) -> list[tuple[int, list]]:
    """(column index, converters) of the model's fields that the database's values need converting for, as the
    ORM's compiler finds them (the backend's, then the field's: e.g. SQLite's text datetimes)."""
    out = []
    for i, f in enumerate(model._meta.concrete_fields):
        col = f.get_col(model._meta.db_table)
        if found := connection.ops.get_db_converters(col) + f.get_db_converters(connection):
            out.append((i, found))
    return out


def _token_row_models(*, row: tuple, shapes: tuple) -> list:
    """The row's token, user, API client and channel instances (None for an absent LEFT JOIN side), as the
    ORM's `from_db` builds them (converters applied, e.g. datetimes on databases without a time zone)."""
    out, at = [], 0
    for model, attnames, converters in shapes:
        values = list(row[at : at + len(attnames)])
        at += len(attnames)
        if values[model._meta.concrete_fields.index(model._meta.pk)] is None:
            out.append(None)
            continue
        for i, found in converters:
            for converter in found:
                values[i] = converter(values[i], model._meta.concrete_fields[i], connection)
        out.append(model.from_db(connection.alias, attnames, values))
    return out


class ApiClientTokenAuthentication(TokenAuthentication):
    """DRF's token authentication (same header, same errors) that also reads, in the token's query, the
    user's roles (`common.roles.user_roles`) and API-client channel (`orders.selectors.channel_for_client`):
    every API view checks both next, which then need no query of their own."""

    def authenticate_credentials(self, key):
        model = self.get_model()
        sql, shapes = _token_query(token_model=model, vendor=connection.vendor)
        rows = sql_prepared_rows(sql=sql, params=[key])
        row = rows[0] if rows else None
        if row is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        token, user, client, channel = _token_row_models(row=row, shapes=shapes)
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        model.user.field.set_cached_value(token, user)
        if client is not None:
            ApiClient.user.field.set_cached_value(client, user)
            ApiClient.channel.field.set_cached_value(client, channel)
        ApiClient.user.field.remote_field.set_cached_value(user, client)  # user.api_client: no query
        user_roles_remember(user=user, names=json.loads(row[-1] or "[]"))
        user._dom_channel = channel
        return user, token
