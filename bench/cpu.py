"""CPU time of the processes a bench starts and of the PostgreSQL backends serving its database, from Linux's
/proc/<pid>/stat (user + system time), sampled by a thread so that processes born or gone during the run
count too: a process seen at the start counts from its time then, one born later from zero, one gone from
its last sample (at most `interval` of its time is lost).

`bench load` uses it to report CPU milliseconds per order by process group (web workers, cluster,
PostgreSQL backends, the load clients) and the bound that cost puts on a two-core machine.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

PROC = Path("/proc")
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def proc_stat_read(*, pid: int) -> tuple[int, int] | None:
    """(parent pid, user + system clock ticks) of a live process, or None when it is gone."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces: split after its closing one.
    rest = text[text.rindex(")") + 2 :].split()
    return int(rest[1]), int(rest[11]) + int(rest[12])


def proc_descendants(*, root: int) -> set[int]:
    """`root` and every live process below it."""
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit() and (stat := proc_stat_read(pid=int(entry.name))) is not None:
            children.setdefault(stat[0], []).append(int(entry.name))
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo += children.get(pid, [])
    return found


@dataclass
class CpuSampler:
    """CPU seconds per group of processes between `start()` and `stop()`. `groups` maps a name to a function
    returning the group's pids now (a pid is counted in the first group that names it)."""

    groups: dict[str, Callable[[], set[int]]]
    interval: float = 0.5
    base: dict[int, int] = field(default_factory=dict)
    last: dict[int, int] = field(default_factory=dict)
    owner: dict[int, str] = field(default_factory=dict)
    stopping: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def _sample(self, *, first: bool) -> None:
        for name, pids in self.groups.items():
            for pid in pids():
                if (stat := proc_stat_read(pid=pid)) is None:
                    continue
                self.owner.setdefault(pid, name)
                if pid not in self.base:
                    self.base[pid] = stat[1] if first else 0
                self.last[pid] = stat[1]

    def _run(self) -> None:
        while not self.stopping.wait(self.interval):
            self._sample(first=False)

    def start(self) -> None:
        self._sample(first=True)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def stop(self) -> dict[str, float]:
        """CPU seconds per group."""
        self.stopping.set()
        if self.thread is not None:
            self.thread.join()
        self._sample(first=False)
        out = dict.fromkeys(self.groups, 0.0)
        for pid, name in self.owner.items():
            out[name] += (self.last[pid] - self.base[pid]) / TICKS
        return out


def cpu_per_order(*, seconds: dict[str, float], orders: int, client_s: float) -> dict:
    """CPU ms per order by group, their server-side total (web, cluster, PostgreSQL), and the orders per second
    two cores can take at most at that cost (2,000 ms of CPU per second / ms per order); the load clients'
    share (on the same machine here, elsewhere in production) beside it, and the bound counting them too."""
    n = max(orders, 1)
    per = {name: round(s * 1000 / n, 2) for name, s in seconds.items()}
    total = round(sum(per.values()), 2)
    client = round(client_s * 1000 / n, 2)
    return {
        "cpu_ms_per_order": {**per, "total": total, "load_clients": client},
        "two_core_bound_orders_per_s": round(2000 / total, 1) if total else None,
        "two_core_bound_with_clients_orders_per_s": round(2000 / (total + client), 1) if total + client else None,
    }


def postgres_backends(*, database: str) -> set[int]:
    """The PostgreSQL backends connected to `database` on this machine (by their process title,
    "postgres: [<cluster name>:] <user> <database> <client> …"), whatever their parent."""
    found = set()
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        parts = title.split()
        if parts[:1] != ["postgres:"]:
            continue
        parts = parts[2:] if len(parts) > 1 and parts[1].endswith(":") else parts[1:]  # cluster_name, if set
        if len(parts) >= 2 and parts[1] == database:
            found.add(int(entry.name))
    return found


def load_cpu_sampler(*, cluster_pid: int, database: str) -> CpuSampler:
    """A sampler of a `bench load` run: the cluster (its process tree), the web server (every other process
    this one started: gunicorn's master and workers), and the database's PostgreSQL backends."""
    me = os.getpid()

    def cluster() -> set[int]:
        return proc_descendants(root=cluster_pid)

    def web() -> set[int]:
        return proc_descendants(root=me) - {me} - cluster()

    return CpuSampler(
        groups={"cluster": cluster, "web": web, "postgresql": lambda: postgres_backends(database=database)}
    )
