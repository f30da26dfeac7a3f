"""Credentials of feeds and endpoints come only from environment variables operations set aside for them.

A configuration row names a variable; only names that start with the prefix operations chose for that kind
of credential (`DOM_FEED_SECRET_PREFIX`, `DOM_ENDPOINT_SECRET_PREFIX`) are accepted, so no row can name
`SECRET_KEY`, `DATABASE_URL` or any other variable of the server. The check runs when the row is saved and
again every time the secret is read, so a row written around the forms is refused too.

This module imports no other app of the project.
"""

from __future__ import annotations

import os
import re

from django.conf import settings

_NAME = re.compile(r"[A-Z][A-Z0-9_]*")


class CredentialRefused(Exception):
    """The row names a variable outside the allow-list."""


def credential_prefix(*, kind: str) -> str:
    """The prefix for `kind` ("feed" or "endpoint"), from settings."""
    default = {"feed": "DOM_FEED_", "endpoint": "DOM_ENDPOINT_"}[kind]
    prefix = getattr(settings, f"DOM_{kind.upper()}_SECRET_PREFIX", default) or default
    return prefix


def credential_env_check(*, name: str, kind: str) -> None:
    """Raise CredentialRefused unless `name` is an upper-case variable name with the kind's prefix and more."""
    prefix = credential_prefix(kind=kind)
    if not _NAME.fullmatch(name or "") or not name.startswith(prefix) or len(name) <= len(prefix):
        raise CredentialRefused(
            f"The variable name must start with {prefix} (upper-case letters, digits and _): "
            f"credentials are read only from variables operations set aside for {kind}s."
        )


def credential_env_read(*, name: str, kind: str) -> str:
    """The value of an allow-listed variable ("" when unset or when `name` is empty); CredentialRefused
    for a name outside the allow-list."""
    if not name:
        return ""
    credential_env_check(name=name, kind=kind)
    return os.environ.get(name, "")
