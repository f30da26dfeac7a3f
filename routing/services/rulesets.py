"""Rule sets: publishing a version, starting a draft, and the cache revision that tells every process to
reload the network and rules."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from routing.models import RoutingSettings, RuleSetVersion

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


def routing_revision_bump() -> None:
    """Invalidate every process's cached rules, rates and network (they compare this value on each routing).

    A fresh random value rather than a counter, so a restored (or rolled-back) database never meets a cache
    built for different data under the same number."""
    token = secrets.randbits(62)
    if not RoutingSettings.objects.filter(pk=1).update(revision=token):
        RoutingSettings.objects.create(pk=1, revision=token)


def ruleset_version_publish(*, version: RuleSetVersion, actor: AbstractBaseUser | None = None) -> RuleSetVersion:
    """Publish a draft: the rule set's published version is archived, this one published, and every
    process's compiled rules invalidated."""
    with transaction.atomic():
        version = RuleSetVersion.objects.select_for_update().get(pk=version.pk)
        if version.status != RuleSetVersion.Status.DRAFT:
            raise ValidationError(f"Only drafts can be published; {version} is {version.status}.")
        RuleSetVersion.objects.filter(rule_set_id=version.rule_set_id, status=RuleSetVersion.Status.PUBLISHED).update(
            status=RuleSetVersion.Status.ARCHIVED
        )
        version.status = RuleSetVersion.Status.PUBLISHED
        version.published_at = timezone.now()
        version.save(update_fields=["status", "published_at"])
        routing_revision_bump()
        return version


def ruleset_version_draft(
    *, version: RuleSetVersion, actor: AbstractBaseUser | None = None, note: str = ""
) -> RuleSetVersion:
    """A new draft copying `version`'s rules, to edit and publish."""
    from routing.models import RoutingRule

    with transaction.atomic():
        number = (
            RuleSetVersion.objects.filter(rule_set_id=version.rule_set_id)
            .order_by("-number")
            .values_list("number", flat=True)
            .first()
            or 0
        ) + 1
        draft = RuleSetVersion.objects.create(
            rule_set_id=version.rule_set_id,
            number=number,
            note=note or f"copy of v{version.number}",
            created_by=actor if getattr(actor, "pk", None) else None,
        )
        RoutingRule.objects.bulk_create(
            [
                RoutingRule(
                    version=draft,
                    priority=r.priority,
                    name=r.name,
                    enabled=r.enabled,
                    conditions=r.conditions,
                    action=r.action,
                )
                for r in version.rules.all()
            ]
        )
        return draft
