"""Diff of two rule-set versions: rules added, removed, changed and moved. Pure (no database).

A draft is a copy, so its rules have new primary keys; rules are matched across versions by their lineage
key when both carry one (the editor records it when it copies or adds a rule), then by content: identical
rules (name, conditions, action, enabled), the same name (a changed rule), the same conditions and action
(a renamed rule). Of the matched rules, those outside the longest run that kept
its relative order are "moved".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from routing.editor.rule_text import action_summary, conditions_summary, rule_summary


@dataclass(frozen=True, slots=True)
class RuleRow:
    id: int
    name: str
    priority: int
    enabled: bool
    conditions: Any
    action: Any
    key: str | None = None  # lineage key: the same rule across versions (routing.editor.models.RuleLineage)

    @property
    def summary(self) -> str:
        return rule_summary(conditions=self.conditions, action=self.action)

    def content(self) -> tuple:
        return (self.name, _canon(self.conditions), _canon(self.action), self.enabled)


def _canon(value: Any) -> str:
    import json

    return json.dumps(value, sort_keys=True)


@dataclass(frozen=True, slots=True)
class Change:
    what: str  # "name", "enabled", "conditions", "action"
    before: str
    after: str


@dataclass(slots=True)
class RuleDiff:
    kind: str  # "added", "removed", "changed", "moved"
    name: str
    old: RuleRow | None
    new: RuleRow | None
    changes: list[Change] = field(default_factory=list)
    moved: bool = False
    old_position: int | None = None
    new_position: int | None = None


@dataclass(slots=True)
class VersionDiff:
    added: list[RuleDiff] = field(default_factory=list)
    removed: list[RuleDiff] = field(default_factory=list)
    changed: list[RuleDiff] = field(default_factory=list)
    moved: list[RuleDiff] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.moved)

    def by_new_rule(self) -> dict[int, list[str]]:
        """Draft rule id → the badges to show beside it ('added', 'changed', 'moved')."""
        out: dict[int, list[str]] = {}
        for d in self.added:
            out.setdefault(d.new.id, []).append("added")
        for d in self.changed:
            out.setdefault(d.new.id, []).append("changed")
        for d in self.moved:
            out.setdefault(d.new.id, []).append("moved")
        return out

    def summary(self) -> str:
        """One line naming the diff, e.g. '1 added (X), 1 changed (Y)'; used by the publish confirmation."""
        if self.empty:
            return "no changes"
        parts = []
        for label, items in (
            ("added", self.added),
            ("removed", self.removed),
            ("changed", self.changed),
            ("moved", self.moved),
        ):
            if items:
                names = ", ".join(f"“{d.name}”" for d in items)
                parts.append(f"{len(items)} {label} ({names})")
        return "; ".join(parts)

    def as_json(self) -> dict:
        def one(d: RuleDiff) -> dict:
            return {
                "name": d.name,
                "changes": [{"what": c.what, "before": c.before, "after": c.after} for c in d.changes],
                "old_position": d.old_position,
                "new_position": d.new_position,
            }

        return {
            "added": [one(d) for d in self.added],
            "removed": [one(d) for d in self.removed],
            "changed": [one(d) for d in self.changed],
            "moved": [one(d) for d in self.moved],
        }


def _changes(old: RuleRow, new: RuleRow) -> list[Change]:
    out = []
    if old.name != new.name:
        out.append(Change("name", old.name, new.name))
    if old.enabled != new.enabled:
        out.append(Change("enabled", "on" if old.enabled else "off", "on" if new.enabled else "off"))
    if _canon(old.conditions) != _canon(new.conditions):
        out.append(Change("conditions", conditions_summary(old.conditions), conditions_summary(new.conditions)))
    if _canon(old.action) != _canon(new.action):
        out.append(Change("action", action_summary(old.action), action_summary(new.action)))
    return out


def _lis_indices(seq: list[int]) -> set[int]:
    """Indices (into seq) of one longest strictly increasing subsequence."""
    import bisect

    tails: list[int] = []
    tails_idx: list[int] = []
    prev = [-1] * len(seq)
    for i, v in enumerate(seq):
        k = bisect.bisect_left(tails, v)
        if k == len(tails):
            tails.append(v)
            tails_idx.append(i)
        else:
            tails[k] = v
            tails_idx[k] = i
        prev[i] = tails_idx[k - 1] if k else -1
    out: set[int] = set()
    i = tails_idx[-1] if tails_idx else -1
    while i != -1:
        out.add(i)
        i = prev[i]
    return out


def versions_diff(*, old: list[RuleRow], new: list[RuleRow]) -> VersionDiff:
    """What changed from `old` (the published version) to `new` (the draft). Order = priority, then id."""
    old = sorted(old, key=lambda r: (r.priority, r.id))
    new = sorted(new, key=lambda r: (r.priority, r.id))
    pairs: dict[int, int] = {}  # new index → old index
    free_old = set(range(len(old)))
    for key in (
        lambda r: r.key,
        RuleRow.content,
        lambda r: r.name,
        lambda r: (_canon(r.conditions), _canon(r.action)),
    ):
        index: dict[Any, list[int]] = {}
        for i in sorted(free_old):
            index.setdefault(key(old[i]), []).append(i)
        for j, r in enumerate(new):
            if j in pairs or key(r) is None:
                continue
            hits = index.get(key(r))
            if hits:
                i = hits.pop(0)
                pairs[j] = i
                free_old.discard(i)
    diff = VersionDiff()
    matched = sorted(pairs)  # new indices in new order
    keep = _lis_indices([pairs[j] for j in matched])
    # Positions count only rules both versions share, so an insertion above a rule does not "move" it.
    for pos, j in enumerate(matched):
        i = pairs[j]
        changes = _changes(old[i], new[j])
        moved = pos not in keep
        d = RuleDiff(
            kind="changed",
            name=new[j].name,
            old=old[i],
            new=new[j],
            changes=changes,
            moved=moved,
            old_position=i + 1,
            new_position=j + 1,
        )
        if changes:
            diff.changed.append(d)
        if moved:
            diff.moved.append(
                RuleDiff(
                    kind="moved",
                    name=new[j].name,
                    old=old[i],
                    new=new[j],
                    moved=True,
                    old_position=i + 1,
                    new_position=j + 1,
                )
            )
    for j, r in enumerate(new):
        if j not in pairs:
            diff.added.append(RuleDiff(kind="added", name=r.name, old=None, new=r, new_position=j + 1))
    for i in sorted(free_old):
        diff.removed.append(RuleDiff(kind="removed", name=old[i].name, old=old[i], new=None, old_position=i + 1))
    return diff
