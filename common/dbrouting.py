"""Read replica routing: read-only screens and API calls read from a PostgreSQL streaming replica.

With `DATABASE_REPLICA_URL` set, settings add a `replica` database alias. Reads go there only inside
`replica_reads()` (a context manager and decorator put on read-only views: availability, promise, the
dashboard and its CSV exports) and only outside a transaction. Everything else — every write, every read in
an atomic block, every `select_for_update`, every view not marked — uses the primary (`default`). So a
reservation or a routing batch, which reads stock under lock inside a transaction, always decides on the
primary's rows: replica lag can make a shopper see stock a moment too long, never sell it twice.

Raw SQL reads in the marked paths take their cursor from `read_connection()`; `django.db.connection` is always
the primary.
"""

from __future__ import annotations

from contextlib import ContextDecorator
from contextvars import ContextVar, Token

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper

REPLICA = "replica"

_replica_reads: ContextVar[bool] = ContextVar("dom_replica_reads", default=False)


class replica_reads(ContextDecorator):  # noqa: N801 - used as a decorator and context manager, like `atomic`
    """Reads inside go to the replica when one is configured and no transaction is open on the primary."""

    _token: Token | None = None

    def _recreate_cm(self) -> replica_reads:
        return type(self)()  # a fresh instance per decorated call: threads never share a token

    def __enter__(self) -> replica_reads:
        self._token = _replica_reads.set(True)
        return self

    def __exit__(self, *exc) -> None:
        _replica_reads.reset(self._token)


def replica_configured() -> bool:
    return REPLICA in connections.settings


def read_alias() -> str:
    """The alias a read should use now: the replica inside `replica_reads()` outside any transaction."""
    if not _replica_reads.get() or not replica_configured():
        return DEFAULT_DB_ALIAS
    if connections[DEFAULT_DB_ALIAS].in_atomic_block:
        return DEFAULT_DB_ALIAS
    return REPLICA


def read_connection() -> BaseDatabaseWrapper:
    """The connection for a raw SQL read (see `read_alias`)."""
    return connections[read_alias()]


class ReplicaRouter:
    """Django database router (settings.DATABASE_ROUTERS): writes and migrations to the primary only."""

    def db_for_read(self, model, **hints) -> str:
        instance = hints.get("instance")
        if instance is not None and instance._state.db == DEFAULT_DB_ALIAS:
            return DEFAULT_DB_ALIAS  # related rows of a primary row come from the primary too
        return read_alias()

    def db_for_write(self, model, **hints) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints) -> bool:
        return True  # the replica is a copy of the primary: the same rows, the same ids

    def allow_migrate(self, db: str, app_label: str, **hints) -> bool:
        return db != REPLICA
