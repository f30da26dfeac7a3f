"""Writes of the merchandiser rule editor: drafts, rule edits, reordering, publish and rollback — each one
atomic and recorded in the audit trail (`RuleSetEvent`) with the user, the time and an optional comment.

Publishing and copying reuse the routing services (`ruleset_version_publish`, which archives the previous
version and invalidates every process's compiled rules; `ruleset_version_draft`). Rules are validated by
`RoutingRule.save` (routing.rules.rule_validate), so the editor shows the model's own messages and nothing
invalid is ever saved.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max

from routing.editor.diff import VersionDiff
from routing.editor.lint import LintWarning
from routing.editor.models import RuleLineage, RuleSetEvent
from routing.editor.rule_text import action_summary, conditions_summary
from routing.editor.selectors import version_diff, version_draft, version_lint_report, version_published
from routing.models import RoutingRule, RuleSet, RuleSetVersion
from routing.rules import rule_validate
from routing.services import ruleset_version_draft, ruleset_version_publish

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

PRIORITY_STEP = 10


def _actor(actor: AbstractBaseUser | None):
    return actor if getattr(actor, "pk", None) else None


def ruleset_event_add(
    *,
    rule_set: RuleSet,
    version: RuleSetVersion | None,
    action: str,
    summary: str,
    comment: str = "",
    data: dict | None = None,
    actor: AbstractBaseUser | None = None,
) -> RuleSetEvent:
    """Append one entry to the rule set's history."""
    return RuleSetEvent.objects.create(
        rule_set=rule_set,
        version=version,
        action=action,
        summary=summary[:500],
        comment=(comment or "").strip()[:500],
        data=data or {},
        actor=_actor(actor),
    )


def _lineage_copy(*, source: RuleSetVersion, copy: RuleSetVersion) -> None:
    """Give each copied rule its source rule's lineage key (a new key for sources without one). The copy
    holds the source's rules in the same (priority, id) order, one for one."""
    src = list(source.rules.order_by("priority", "pk").select_related("lineage"))
    dst = list(copy.rules.order_by("priority", "pk"))
    if len(src) != len(dst):
        return
    fresh, copies = [], []
    for s, d in zip(src, dst, strict=True):
        existing = getattr(s, "lineage", None)
        key = existing.key if existing else uuid.uuid4()
        if existing is None:
            fresh.append(RuleLineage(rule=s, key=key))
        copies.append(RuleLineage(rule=d, key=key))
    RuleLineage.objects.bulk_create(fresh + copies)


def _lock_draft(version: RuleSetVersion) -> RuleSetVersion:
    locked = RuleSetVersion.objects.select_for_update().select_related("rule_set").get(pk=version.pk)
    if locked.status != RuleSetVersion.Status.DRAFT:
        raise ValidationError(
            f"Version {locked.number} of {locked.rule_set.name} is {locked.status}; start a new draft to change it."
        )
    return locked


def ruleset_draft_create(
    *, rule_set: RuleSet, actor: AbstractBaseUser | None = None, comment: str = ""
) -> RuleSetVersion:
    """A new draft copying the published version (or the newest version when none is published).
    One draft at a time per rule set: a second one is refused, naming the open draft."""
    with transaction.atomic():
        rule_set = RuleSet.objects.select_for_update().get(pk=rule_set.pk)
        open_draft = version_draft(rule_set=rule_set)
        if open_draft is not None:
            raise ValidationError(
                f"{rule_set.name} already has a draft (version {open_draft.number}); edit it, publish it or "
                "discard it first."
            )
        source = version_published(rule_set=rule_set) or rule_set.versions.order_by("-number").first()
        if source is None:
            draft = RuleSetVersion.objects.create(
                rule_set=rule_set, number=1, note=comment or "first draft", created_by=_actor(actor)
            )
        else:
            draft = ruleset_version_draft(version=source, actor=_actor(actor), note=comment[:300])
            _lineage_copy(source=source, copy=draft)
        ruleset_event_add(
            rule_set=rule_set,
            version=draft,
            action=RuleSetEvent.Action.DRAFT_CREATED,
            summary=f"Draft v{draft.number} created" + (f" from v{source.number}" if source else ""),
            comment=comment,
            actor=actor,
        )
        return draft


def ruleset_draft_discard(*, version: RuleSetVersion, actor: AbstractBaseUser | None = None, comment: str = "") -> None:
    """Delete a draft and its rules (published and archived versions are never deleted)."""
    with transaction.atomic():
        draft = _lock_draft(version)
        ruleset_event_add(
            rule_set=draft.rule_set,
            version=None,
            action=RuleSetEvent.Action.DRAFT_DISCARDED,
            summary=f"Draft v{draft.number} discarded ({draft.rules.count()} rules)",
            comment=comment,
            actor=actor,
        )
        draft.delete()


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": ["Give the rule a name, e.g. “Hazmat only from DCs”."]})
    if len(name) > 200:
        raise ValidationError({"name": ["Keep the name under 200 characters."]})
    return name


def _save_rule(rule: RoutingRule) -> None:
    """Validate everything (name, conditions, action) at once, then save."""
    errors: dict[str, list[str]] = {}
    try:
        rule.name = _clean_name(rule.name)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    try:
        rule_validate(conditions=rule.conditions, action=rule.action)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    rule.save()


def rule_add(
    *,
    version: RuleSetVersion,
    name: str,
    conditions: Any,
    action: Any,
    enabled: bool = True,
    actor: AbstractBaseUser | None = None,
    comment: str = "",
) -> RoutingRule:
    """Add a rule at the end of a draft. ValidationError({'name'|'conditions'|'action': [...]}) when invalid."""
    with transaction.atomic():
        draft = _lock_draft(version)
        last = draft.rules.aggregate(m=Max("priority"))["m"] or 0
        rule = RoutingRule(
            version=draft,
            priority=last + PRIORITY_STEP,
            name=name,
            enabled=enabled,
            conditions=conditions or {},
            action=action,
        )
        _save_rule(rule)
        RuleLineage.objects.create(rule=rule, key=uuid.uuid4())
        ruleset_event_add(
            rule_set=draft.rule_set,
            version=draft,
            action=RuleSetEvent.Action.RULE_ADDED,
            summary=f"Added “{rule.name}”: IF {conditions_summary(rule.conditions)} THEN {action_summary(rule.action)}",
            comment=comment,
            data={"rule_id": rule.pk, "conditions": rule.conditions, "action": rule.action},
            actor=actor,
        )
        return rule


def rule_update(
    *,
    rule: RoutingRule,
    name: str,
    conditions: Any,
    action: Any,
    enabled: bool,
    actor: AbstractBaseUser | None = None,
    comment: str = "",
) -> RoutingRule:
    """Change a draft's rule (name, conditions, action, enabled); validated like a new one."""
    with transaction.atomic():
        draft = _lock_draft(rule.version)
        rule = RoutingRule.objects.get(pk=rule.pk, version=draft)
        before = {"name": rule.name, "enabled": rule.enabled, "conditions": rule.conditions, "action": rule.action}
        rule.name, rule.conditions, rule.action, rule.enabled = name, conditions or {}, action, enabled
        _save_rule(rule)
        changed = [k for k in before if before[k] != getattr(rule, k)]
        ruleset_event_add(
            rule_set=draft.rule_set,
            version=draft,
            action=RuleSetEvent.Action.RULE_CHANGED,
            summary=f"Changed “{rule.name}”" + (f" ({', '.join(changed)})" if changed else " (no change)"),
            comment=comment,
            data={"rule_id": rule.pk, "before": before, "after": {k: getattr(rule, k) for k in before}},
            actor=actor,
        )
        return rule


def rule_enable(
    *, rule: RoutingRule, enabled: bool, actor: AbstractBaseUser | None = None, comment: str = ""
) -> RoutingRule:
    """Switch a draft's rule on or off."""
    with transaction.atomic():
        draft = _lock_draft(rule.version)
        rule = RoutingRule.objects.get(pk=rule.pk, version=draft)
        if rule.enabled != enabled:
            rule.enabled = enabled
            rule.save(update_fields=["enabled"])
            ruleset_event_add(
                rule_set=draft.rule_set,
                version=draft,
                action=RuleSetEvent.Action.RULE_ENABLED if enabled else RuleSetEvent.Action.RULE_DISABLED,
                summary=f"{'Enabled' if enabled else 'Disabled'} “{rule.name}”",
                comment=comment,
                data={"rule_id": rule.pk},
                actor=actor,
            )
        return rule


def rule_delete(*, rule: RoutingRule, actor: AbstractBaseUser | None = None, comment: str = "") -> None:
    """Delete a rule from a draft."""
    with transaction.atomic():
        draft = _lock_draft(rule.version)
        rule = RoutingRule.objects.get(pk=rule.pk, version=draft)
        ruleset_event_add(
            rule_set=draft.rule_set,
            version=draft,
            action=RuleSetEvent.Action.RULE_DELETED,
            summary=f"Deleted “{rule.name}”",
            comment=comment,
            data={"name": rule.name, "conditions": rule.conditions, "action": rule.action},
            actor=actor,
        )
        rule.delete()


def rules_reorder(
    *, version: RuleSetVersion, rule_ids: list[int], actor: AbstractBaseUser | None = None, comment: str = ""
) -> None:
    """Persist a new order of a draft's rules: priorities become 10, 20, 30… in the order given.
    `rule_ids` must name every rule of the draft exactly once."""
    with transaction.atomic():
        draft = _lock_draft(version)
        rules = {r.pk: r for r in draft.rules.select_for_update().order_by("priority", "pk")}
        ids = [int(i) for i in rule_ids]
        if sorted(ids) != sorted(rules) or len(set(ids)) != len(ids):
            missing = sorted(set(rules) - set(ids))
            unknown = sorted(set(ids) - set(rules))
            raise ValidationError(
                "The new order must list every rule of the draft exactly once"
                + (f"; missing rule id(s) {missing}" if missing else "")
                + (f"; rule id(s) {unknown} are not in this draft" if unknown else "")
                + ". Reload the page and try again."
            )
        before = list(rules)
        for i, pk in enumerate(ids, start=1):
            rules[pk].priority = i * PRIORITY_STEP
        # Only priorities change (the rules stay valid); bulk_update skips the per-row validation on save.
        RoutingRule.objects.bulk_update(list(rules.values()), ["priority"])
        if before != ids:
            ruleset_event_add(
                rule_set=draft.rule_set,
                version=draft,
                action=RuleSetEvent.Action.RULES_REORDERED,
                summary="Reordered: " + " → ".join(f"“{rules[pk].name}”" for pk in ids)[:480],
                comment=comment,
                data={"before": before, "after": ids},
                actor=actor,
            )


def diff_fingerprint(diff: VersionDiff) -> str:
    """A short fingerprint of a diff: the publish confirmation carries it, so a draft changed by someone else
    after the reviewer read the diff is not published unseen."""
    return hashlib.sha256(json.dumps(diff.as_json(), sort_keys=True).encode()).hexdigest()[:16]


def _validate_all(version: RuleSetVersion) -> None:
    errors = []
    for rule in version.rules.order_by("priority", "pk"):
        try:
            rule_validate(conditions=rule.conditions, action=rule.action)
        except ValidationError as exc:
            for field, msgs in exc.message_dict.items():
                errors.extend(f"Rule “{rule.name}” ({field}): {m}" for m in msgs)
    if errors:
        raise ValidationError(errors)


def lint_warning_key(warning: LintWarning) -> str:
    """A stable name for one lint warning (rule, kind and wording), acknowledged one by one before publishing."""
    digest = hashlib.sha256(warning.message.encode()).hexdigest()[:12]
    return f"{warning.rule_id}:{warning.code}:{digest}"


def version_publish(
    *,
    version: RuleSetVersion,
    actor: AbstractBaseUser | None = None,
    comment: str = "",
    fingerprint: str | None = None,
    acknowledged: set[str] | None = None,
) -> RuleSetVersion:
    """Publish a draft (the previous published version becomes archived), recording the diff it made.
    With `fingerprint`, refuse when the diff is no longer the one the user confirmed. With `acknowledged`
    (the screen always passes it), refuse unless every lint warning of the draft is in it."""
    with transaction.atomic():
        draft = _lock_draft(version)
        diff = version_diff(version=draft)
        if fingerprint is not None and fingerprint != diff_fingerprint(diff):
            raise ValidationError("The draft changed since you reviewed it; read the changes again before publishing.")
        if acknowledged is not None:
            open_warnings = [
                w for w in version_lint_report(version=draft).warnings if lint_warning_key(w) not in acknowledged
            ]
            if open_warnings:
                raise ValidationError(
                    f"Tick each warning to confirm you have read it ({len(open_warnings)} not confirmed): "
                    + " ".join(w.message for w in open_warnings[:3])
                )
        _validate_all(draft)
        previous = version_published(rule_set=draft.rule_set)
        published = ruleset_version_publish(version=draft, actor=_actor(actor))
        ruleset_event_add(
            rule_set=draft.rule_set,
            version=published,
            action=RuleSetEvent.Action.PUBLISHED,
            summary=f"Published v{published.number}"
            + (f" (replacing v{previous.number})" if previous else "")
            + f": {diff.summary()}",
            comment=comment,
            data={"diff": diff.as_json(), "previous_version": previous.pk if previous else None},
            actor=actor,
        )
        return published


def version_rollback(
    *, version: RuleSetVersion, actor: AbstractBaseUser | None = None, comment: str = ""
) -> RuleSetVersion:
    """Make an earlier version current again as a NEW published version copying its rules (history is
    never rewritten: the old version stays archived, the current one is archived in turn)."""
    with transaction.atomic():
        target = RuleSetVersion.objects.select_for_update().select_related("rule_set").get(pk=version.pk)
        if target.status == RuleSetVersion.Status.DRAFT:
            raise ValidationError(f"Version {target.number} is a draft; publish it instead of rolling back to it.")
        if target.status == RuleSetVersion.Status.PUBLISHED:
            raise ValidationError(f"Version {target.number} is already the published version.")
        _validate_all(target)
        previous = version_published(rule_set=target.rule_set)
        copy = ruleset_version_draft(version=target, actor=_actor(actor), note=f"rollback to v{target.number}")
        _lineage_copy(source=target, copy=copy)
        diff = version_diff(version=copy, against=previous)
        published = ruleset_version_publish(version=copy, actor=_actor(actor))
        ruleset_event_add(
            rule_set=target.rule_set,
            version=published,
            action=RuleSetEvent.Action.ROLLED_BACK,
            summary=f"Rolled back to v{target.number} as v{published.number}"
            + (f" (replacing v{previous.number})" if previous else "")
            + f": {diff.summary()}",
            comment=comment,
            data={
                "diff": diff.as_json(),
                "rolled_back_to": target.pk,
                "previous_version": previous.pk if previous else None,
            },
            actor=actor,
        )
        return published
