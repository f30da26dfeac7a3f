"""Per-process caches of rarely changing rows, checked against a digest the caller reads from the database in
a query it makes anyway (so a hit costs no round trip and a change made by any process is seen by the next
read in every process).

A cache holds one value and the digest it was loaded under. `digest_cache_get` returns the value when the
digest the caller just read matches, else loads it again (and remembers it under that digest). A value
loaded after its digest was read is at least as new as the digest, so it is never older than what the
database said; a change between the two reads is caught by the next caller's digest. None as the digest
(a database without the digest expression, or a missing row) always loads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_MISSING = object()


@dataclass(slots=True)
class DigestCache:
    """One cached value per process, with the digest it was loaded under."""

    name: str
    load: Callable[[], Any]
    entry: tuple[object, Any] = (_MISSING, None)
    lock: threading.Lock = field(default_factory=threading.Lock)


def digest_cache_get(*, cache: DigestCache, digest: object) -> Any:
    """The cached value when `digest` is the one it was loaded under, else `cache.load()` remembered under it."""
    seen, value = cache.entry  # one tuple: a thread never sees a digest with another digest's value
    if digest is not None and seen == digest:
        return value
    value = cache.load()
    if digest is not None:
        with cache.lock:
            cache.entry = (digest, value)
    return value


def digest_cache_clear(*, cache: DigestCache) -> None:
    """Forget the value (the next read loads it)."""
    with cache.lock:
        cache.entry = (_MISSING, None)
