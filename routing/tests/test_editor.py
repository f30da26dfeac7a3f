"""Editor services: drafts, rule edits with the model's validation, reordering, publish, rollback, audit."""

import pytest
from django.core.exceptions import ValidationError

from routing.editor import services as editor
from routing.editor.models import RuleSetEvent
from routing.editor.selectors import rule_rows, ruleset_history, version_diff, version_published
from routing.models import RoutingRule, RuleSetVersion
from routing.rules import rule_validate
from routing.selectors import network_static
from routing.tests.editor_helpers import published_version

pytestmark = pytest.mark.django_db

WEB_ONLY = {"all": [{"field": "order.channel", "op": "eq", "value": "web"}]}


@pytest.fixture
def v1(db):
    return published_version()


@pytest.fixture
def draft(v1, merch_user):
    return editor.ruleset_draft_create(rule_set=v1.rule_set, actor=merch_user, comment="try something")


def names(version):
    return [r.name for r in rule_rows(version=version)]


def test_new_draft_copies_the_published_version(v1, draft, merch_user):
    assert draft.status == RuleSetVersion.Status.DRAFT and draft.number == v1.number + 1
    assert names(draft) == names(v1)
    assert [(r.conditions, r.action, r.enabled) for r in rule_rows(version=draft)] == [
        (r.conditions, r.action, r.enabled) for r in rule_rows(version=v1)
    ]
    assert version_diff(version=draft).empty
    ev = RuleSetEvent.objects.get(action="draft_created")
    assert ev.actor == merch_user and ev.version == draft and ev.comment == "try something" and ev.created_at


def test_one_draft_at_a_time(draft, merch_user):
    with pytest.raises(ValidationError, match=f"already has a draft \\(version {draft.number}\\)"):
        editor.ruleset_draft_create(rule_set=draft.rule_set, actor=merch_user)


def test_add_rule_appends_and_validates_with_the_models_messages(draft, merch_user, web):
    rule = editor.rule_add(
        version=draft,
        name="Web ships complete",
        conditions=WEB_ONLY,
        action={"type": "ship_complete"},
        actor=merch_user,
    )
    assert names(draft)[-1] == "Web ships complete"
    assert rule.priority > max(r.priority for r in rule_rows(version=draft) if r.id != rule.pk)
    bad_conditions = {"all": [{"field": "order.total", "op": "gte", "value": "lots"}]}
    bad_action = {"type": "max_shipments", "max": 0}
    with pytest.raises(ValidationError) as exc:
        editor.rule_add(version=draft, name="", conditions=bad_conditions, action=bad_action, actor=merch_user)
    with pytest.raises(ValidationError) as model_exc:
        rule_validate(conditions=bad_conditions, action=bad_action)
    assert exc.value.message_dict["conditions"] == model_exc.value.message_dict["conditions"]
    assert exc.value.message_dict["action"] == model_exc.value.message_dict["action"]
    assert exc.value.message_dict["name"]
    assert "the order total is a number; 'lots' is not one" in exc.value.message_dict["conditions"][0]
    assert RoutingRule.objects.filter(version=draft).count() == 4  # nothing invalid saved
    assert RuleSetEvent.objects.filter(action="rule_added").count() == 1


def test_update_disable_delete(draft, merch_user):
    rule = draft.rules.get(name="B2B from DCs")
    editor.rule_update(
        rule=rule,
        name="B2B only from warehouses",
        conditions=rule.conditions,
        action={"type": "restrict", "kinds": ["warehouse", "3pl"]},
        enabled=True,
        actor=merch_user,
        comment="3PL too",
    )
    with pytest.raises(ValidationError, match="Unknown location kind 'moon'"):
        editor.rule_update(
            rule=rule,
            name="x",
            conditions={},
            action={"type": "restrict", "kinds": ["moon"]},
            enabled=True,
            actor=merch_user,
        )
    rule.refresh_from_db()
    assert rule.name == "B2B only from warehouses" and rule.action["kinds"] == ["warehouse", "3pl"]
    editor.rule_enable(rule=rule, enabled=False, actor=merch_user)
    rule.refresh_from_db()
    assert rule.enabled is False
    editor.rule_delete(rule=draft.rules.get(name="At most three packages"), actor=merch_user)
    assert names(draft) == ["Hazmat never from stores", "B2B only from warehouses"]
    diff = version_diff(version=draft)
    assert [d.name for d in diff.removed] == ["At most three packages"]
    assert [c.what for c in diff.changed[0].changes] == ["name", "enabled", "action"]
    actions = [e.action for e in ruleset_history(rule_set=draft.rule_set)]
    assert actions[:3] == ["rule_deleted", "rule_disabled", "rule_changed"]
    assert RuleSetEvent.objects.get(action="rule_changed").comment == "3PL too"


def test_published_versions_cannot_be_edited(v1, merch_user):
    rule = v1.rules.first()
    for call in (
        lambda: editor.rule_enable(rule=rule, enabled=False, actor=merch_user),
        lambda: editor.rule_delete(rule=rule, actor=merch_user),
        lambda: editor.rule_add(version=v1, name="x", conditions={}, action={"type": "stop"}, actor=merch_user),
        lambda: editor.rules_reorder(
            version=v1, rule_ids=[r.id for r in rule_rows(version=v1)][::-1], actor=merch_user
        ),
    ):
        with pytest.raises(ValidationError, match="is published; start a new draft"):
            call()
    assert v1.rules.filter(enabled=True).count() == 3


def test_reorder_persists_priorities(draft, merch_user):
    ids = [r.id for r in rule_rows(version=draft)]
    editor.rules_reorder(version=draft, rule_ids=ids[::-1], actor=merch_user)
    assert [r.id for r in rule_rows(version=draft)] == ids[::-1]
    assert list(RoutingRule.objects.filter(version=draft).order_by("priority").values_list("priority", flat=True)) == [
        10,
        20,
        30,
    ]
    with pytest.raises(ValidationError, match="missing rule id"):
        editor.rules_reorder(version=draft, rule_ids=ids[:2], actor=merch_user)
    assert len(version_diff(version=draft).moved) == 2
    assert RuleSetEvent.objects.filter(action="rules_reordered").count() == 1


def test_publish_archives_the_previous_version_and_records_the_diff(v1, draft, merch_user, web):
    editor.rule_add(
        version=draft,
        name="Web ships complete",
        conditions=WEB_ONLY,
        action={"type": "ship_complete"},
        actor=merch_user,
    )
    stale = editor.diff_fingerprint(version_diff(version=draft))
    editor.rule_enable(rule=draft.rules.get(name="B2B from DCs"), enabled=False, actor=merch_user)
    with pytest.raises(ValidationError, match="changed since you reviewed it"):
        editor.version_publish(version=draft, actor=merch_user, fingerprint=stale)
    fresh = editor.diff_fingerprint(version_diff(version=draft))
    published = editor.version_publish(version=draft, actor=merch_user, fingerprint=fresh, comment="go")
    v1.refresh_from_db()
    assert published.status == "published" and v1.status == "archived"
    assert version_published(rule_set=v1.rule_set) == published
    ev = RuleSetEvent.objects.get(action="published")
    assert ev.actor == merch_user and ev.comment == "go" and ev.version == published
    assert "1 added (“Web ships complete”)" in ev.summary and "1 changed (“B2B from DCs”)" in ev.summary
    # The engine now routes with the new version (the cache was invalidated).
    assert network_static().rules.version_id == published.pk
    assert [r.name for r in network_static().rules.rules] == [
        "Hazmat never from stores",
        "At most three packages",
        "Web ships complete",
    ]


def test_rollback_publishes_a_new_copy_and_keeps_history(v1, draft, merch_user):
    editor.rule_delete(rule=draft.rules.get(name="Hazmat never from stores"), actor=merch_user)
    v2 = editor.version_publish(version=draft, actor=merch_user)
    v3 = editor.version_rollback(version=v1, actor=merch_user, comment="v2 broke hazmat")
    v1.refresh_from_db()
    v2.refresh_from_db()
    assert (v1.status, v2.status, v3.status) == ("archived", "archived", "published")
    assert v3.number == v2.number + 1 and v3.pk not in (v1.pk, v2.pk)
    assert names(v3) == names(v1)
    assert v1.rules.count() == 3 and v2.rules.count() == 2  # nothing rewritten
    ev = RuleSetEvent.objects.get(action="rolled_back")
    assert ev.comment == "v2 broke hazmat" and ev.actor == merch_user
    assert f"Rolled back to v{v1.number} as v{v3.number} (replacing v{v2.number}): 1 added" in ev.summary
    with pytest.raises(ValidationError, match="already the published version"):
        editor.version_rollback(version=v3, actor=merch_user)
    assert network_static().rules.version_id == v3.pk


def test_discard_draft(draft, merch_user):
    editor.ruleset_draft_discard(version=draft, actor=merch_user)
    assert not RuleSetVersion.objects.filter(pk=draft.pk).exists()
    assert RuleSetEvent.objects.filter(action="draft_discarded").count() == 1
    # A new draft can then be started.
    assert editor.ruleset_draft_create(rule_set=draft.rule_set, actor=merch_user).status == "draft"
