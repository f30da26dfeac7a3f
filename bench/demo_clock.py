"""Demo-only back-dating: run the apps' own services as if it were an earlier moment.

`demo_backdate(at)` freezes the clock (django.utils.timezone.now, datetime.now, time.time) at `at` with
time-machine, so every timestamp a service writes — placed, routed, picked, shipped, delivered, counted — is
the demo's past instead of a direct write into another app's table. It is used only by `seed_demo` to lay
down the demo's 60 days of history; no production code imports it (time-machine is a development
dependency, installed by `make run`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime


@contextmanager
def demo_backdate(at: datetime) -> Iterator[datetime]:
    """Run the block with the clock stopped at `at` (aware datetime). Demo seeding only."""
    import time_machine

    with time_machine.travel(at, tick=False):
        yield at
