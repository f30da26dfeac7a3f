"""Diff of a draft against the published version: added, removed, changed, moved (routing.editor.diff, pure)."""

from routing.editor.diff import RuleRow, versions_diff

HAZMAT = {"any": [{"field": "any_line.handling_class", "op": "in", "value": ["hazmat"]}]}
B2B = {"all": [{"field": "order.channel", "op": "eq", "value": "b2b"}]}


def row(i, name, priority, conditions=None, action=None, enabled=True):
    return RuleRow(i, name, priority, enabled, conditions or {}, action or {"type": "stop"})


def base():
    return [
        row(1, "Hazmat from DCs", 10, HAZMAT, {"type": "exclude", "kinds": ["store"]}),
        row(2, "B2B from DCs", 20, B2B, {"type": "restrict", "kinds": ["warehouse"]}),
        row(3, "Three packages max", 30, {}, {"type": "max_shipments", "max": 3}),
    ]


def copy_of(rows, start=100):
    return [RuleRow(r.id + start, r.name, r.priority, r.enabled, r.conditions, r.action) for r in rows]


def test_a_copy_has_no_changes():
    diff = versions_diff(old=base(), new=copy_of(base()))
    assert diff.empty
    assert diff.summary() == "no changes"


def test_added_removed_changed_and_moved_are_named():
    old = base()
    new = copy_of(old)
    new[2] = RuleRow(103, "Three packages max", 5, True, {}, {"type": "max_shipments", "max": 2})  # changed + moved
    del new[1]  # removed
    new.append(row(200, "Stop for marketplace", 40, {"field": "order.channel", "op": "eq", "value": "mkt"}))  # added
    diff = versions_diff(old=old, new=new)
    assert [d.name for d in diff.added] == ["Stop for marketplace"]
    assert [d.name for d in diff.removed] == ["B2B from DCs"]
    assert [d.name for d in diff.changed] == ["Three packages max"]
    (change,) = diff.changed[0].changes
    assert change.what == "action"
    assert change.before == "at most 3 shipment(s)" and change.after == "at most 2 shipment(s)"
    assert [d.name for d in diff.moved] == ["Three packages max"]
    assert (diff.moved[0].old_position, diff.moved[0].new_position) == (3, 1)
    s = diff.summary()
    assert "1 added (“Stop for marketplace”)" in s and "1 removed (“B2B from DCs”)" in s
    assert "1 changed" in s and "1 moved" in s
    assert diff.by_new_rule() == {200: ["added"], 103: ["changed", "moved"]}


def test_disable_and_rename_are_changes_not_add_remove():
    old = base()
    new = copy_of(old)
    new[0] = RuleRow(
        101, "Hazardous goods never from stores", 10, True, HAZMAT, {"type": "exclude", "kinds": ["store"]}
    )
    new[1] = RuleRow(102, "B2B from DCs", 20, False, B2B, {"type": "restrict", "kinds": ["warehouse"]})
    diff = versions_diff(old=old, new=new)
    assert not diff.added and not diff.removed and not diff.moved
    whats = {d.name: [c.what for c in d.changes] for d in diff.changed}
    assert whats == {"Hazardous goods never from stores": ["name"], "B2B from DCs": ["enabled"]}


def test_inserting_a_rule_moves_nothing():
    old = base()
    new = copy_of(old)
    new.insert(0, row(300, "First", 1))
    diff = versions_diff(old=old, new=new)
    assert [d.name for d in diff.added] == ["First"] and not diff.moved and not diff.changed


def test_swap_marks_one_rule_moved():
    old = base()
    new = copy_of(old)
    new[0] = RuleRow(101, old[0].name, 25, True, old[0].conditions, old[0].action)  # now after "B2B from DCs"
    diff = versions_diff(old=old, new=new)
    assert len(diff.moved) == 1 and not diff.changed and not diff.added


def test_lineage_key_matches_a_rule_renamed_and_changed_at_once():
    old = [RuleRow(1, "B2B from DCs", 10, True, B2B, {"type": "restrict", "kinds": ["warehouse"]}, key="k1")]
    new = [RuleRow(9, "Wholesale", 10, False, {}, {"type": "stop"}, key="k1")]
    diff = versions_diff(old=old, new=new)
    assert not diff.added and not diff.removed
    assert [c.what for c in diff.changed[0].changes] == ["name", "enabled", "conditions", "action"]
    # Without keys the same pair reads as one removed and one added rule.
    plain = versions_diff(
        old=[RuleRow(1, "B2B from DCs", 10, True, B2B, {"type": "restrict"})],
        new=[RuleRow(9, "Wholesale", 10, False, {}, {"type": "stop"})],
    )
    assert len(plain.added) == 1 and len(plain.removed) == 1
