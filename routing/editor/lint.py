"""Lint for a rule-set version: warnings shown beside each rule in the editor. Pure: the database facts it
needs come in a `LintContext` (built by `routing.editor.selectors.lint_context_load`).

Checks:
- never fires: an earlier enabled "stop" rule matches every order this rule matches (a catch-all stop rule,
  or conditions this rule's conditions imply), or the rule's own conditions contradict each other;
- restrictions to an empty group, to inactive locations, or to no active location at all;
- contradictory restrictions: two restrict rules that can fire on the same order with no location in
  common, a restriction whose every location another co-firing rule excludes, pickup fallbacks both ways;
- values that match nothing: unknown channel, SKU or region codes.

The implication and disjointness tests are sound but not complete: a warning is always real; some
shadowed rules written in roundabout ways are not flagged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from routing.editor.diff import RuleRow
from routing.rules import FIELDS

US_REGIONS = frozenset(
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND "
    "OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR VI GU AS MP AA AE AP".split()
)


@dataclass(frozen=True, slots=True)
class LocationFact:
    id: int
    code: str
    kind: str
    is_active: bool


@dataclass(frozen=True, slots=True)
class LintContext:
    channels: frozenset[str]
    known_skus: frozenset[str]  # at least every SKU the rules name that exists
    regions: frozenset[str]
    locations: dict[str, LocationFact]  # by code
    groups: dict[str, frozenset[str]]  # group code → member location codes


@dataclass(frozen=True, slots=True)
class LintWarning:
    rule_id: int
    code: str  # never_fires, contradictory_conditions, empty_group, inactive_location, no_location,
    # contradiction, unknown_value
    message: str


@dataclass(slots=True)
class LintReport:
    warnings: list[LintWarning] = field(default_factory=list)

    def for_rule(self, rule_id: int) -> list[LintWarning]:
        return [w for w in self.warnings if w.rule_id == rule_id]

    def by_rule(self) -> dict[int, list[LintWarning]]:
        out: dict[int, list[LintWarning]] = {}
        for w in self.warnings:
            out.setdefault(w.rule_id, []).append(w)
        return out


# ---------------------------------------------------------------------------------------------------------
# Predicates over one field: finite sets, co-finite sets, number ranges and prefixes.


def _test(op: str, value: Any, v: Any) -> bool:
    """Does the leaf (op, value) hold for the concrete value v? (Mirrors routing.rules' compiled tests.)"""
    try:
        if op == "eq":
            return v == value
        if op == "ne":
            return v != value
        if op == "in":
            return v in value
        if op == "not_in":
            return v not in value
        if op == "gt":
            return v > value
        if op == "gte":
            return v >= value
        if op == "lt":
            return v < value
        if op == "lte":
            return v <= value
        if op == "startswith":
            return isinstance(v, str) and v.startswith(value)
    except TypeError:
        return False
    return False


def _finite(op: str, value: Any) -> list | None:
    if op == "eq":
        return [value]
    if op == "in" and isinstance(value, list):
        return value
    return None


def _interval(op: str, value: Any) -> tuple[float, bool, float, bool] | None:
    """(low, low_strict, high, high_strict) of a numeric leaf, or None."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    if op == "gt":
        return (value, True, math.inf, False)
    if op == "gte":
        return (value, False, math.inf, False)
    if op == "lt":
        return (-math.inf, False, value, True)
    if op == "lte":
        return (-math.inf, False, value, False)
    if op == "eq":
        return (value, False, value, False)
    return None


def _pred_implies(a: tuple[str, Any], b: tuple[str, Any]) -> bool:
    (oa, va), (ob, vb) = a, b
    fa = _finite(oa, va)
    if fa is not None:
        return all(_test(ob, vb, v) for v in fa)
    if oa in ("ne", "not_in") and ob in ("ne", "not_in"):
        ca = {va} if oa == "ne" else set(va)
        cb = {vb} if ob == "ne" else set(vb)
        return cb <= ca
    ia, ib = _interval(oa, va), _interval(ob, vb)
    if ia is not None and ib is not None:
        lo_ok = ia[0] > ib[0] or (ia[0] == ib[0] and (ia[1] or not ib[1]))
        hi_ok = ia[2] < ib[2] or (ia[2] == ib[2] and (ia[3] or not ib[3]))
        return lo_ok and hi_ok
    if oa == "startswith" and ob == "startswith":
        return isinstance(va, str) and isinstance(vb, str) and va.startswith(vb)
    return False


def _pred_disjoint(a: tuple[str, Any], b: tuple[str, Any]) -> bool:
    (oa, va), (ob, vb) = a, b
    fa, fb = _finite(oa, va), _finite(ob, vb)
    if fa is not None:
        return not any(_test(ob, vb, v) for v in fa)
    if fb is not None:
        return not any(_test(oa, va, v) for v in fb)
    ia, ib = _interval(oa, va), _interval(ob, vb)
    if ia is not None and ib is not None:
        lo, lo_strict = (ia[0], ia[1]) if ia[0] > ib[0] or (ia[0] == ib[0] and ia[1]) else (ib[0], ib[1])
        hi, hi_strict = (ia[2], ia[3]) if ia[2] < ib[2] or (ia[2] == ib[2] and ia[3]) else (ib[2], ib[3])
        return lo > hi or (lo == hi and (lo_strict or hi_strict))
    if oa == "startswith" and ob == "startswith" and isinstance(va, str) and isinstance(vb, str):
        return not (va.startswith(vb) or vb.startswith(va))
    return False


def _split_field(name: str) -> tuple[str, str]:
    """'any_line.sku' → ('any', 'sku'); order-level fields → ('', name)."""
    if name.startswith("any_line."):
        return "any", name.split(".", 1)[1]
    if name.startswith("all_lines."):
        return "all", name.split(".", 1)[1]
    return "", name


def _leaf_implies(a: dict, b: dict) -> bool:
    sa, base_a = _split_field(a.get("field", ""))
    sb, base_b = _split_field(b.get("field", ""))
    if base_a != base_b:
        return False
    # Every line satisfying P implies some line does; not the other way round.
    if sa != sb and not (sa == "all" and sb == "any"):
        return False
    return _pred_implies((a.get("op"), a.get("value")), (b.get("op"), b.get("value")))


def _leaf_disjoint(a: dict, b: dict) -> bool:
    sa, base_a = _split_field(a.get("field", ""))
    sb, base_b = _split_field(b.get("field", ""))
    if base_a != base_b or (sa == "any" and sb == "any") or (sa == "") != (sb == ""):
        return False
    return _pred_disjoint((a.get("op"), a.get("value")), (b.get("op"), b.get("value")))


def _empty(node: Any) -> bool:
    return node in (None, {})


def conditions_imply(a: Any, b: Any) -> bool:
    """True when every order matching `a` surely matches `b` (sound, not complete)."""
    if _empty(b):
        return True
    if _empty(a):
        return False
    if "any" in a:
        return all(conditions_imply(x, b) for x in a["any"])
    if "all" in b:
        return all(conditions_imply(a, y) for y in b["all"])
    if "field" in a and "field" in b:
        return _leaf_implies(a, b)
    if "any" in b and any(conditions_imply(a, y) for y in b["any"]):
        return True
    return "all" in a and any(conditions_imply(x, b) for x in a["all"])


def conditions_disjoint(a: Any, b: Any) -> bool:
    """True when no order can match both `a` and `b` (sound, not complete)."""
    if _empty(a) or _empty(b):
        return False
    if "any" in a:
        return all(conditions_disjoint(x, b) for x in a["any"])
    if "any" in b:
        return all(conditions_disjoint(a, y) for y in b["any"])
    if "all" in a:
        return any(conditions_disjoint(x, b) for x in a["all"])
    if "all" in b:
        return any(conditions_disjoint(a, y) for y in b["all"])
    return _leaf_disjoint(a, b)


def _self_contradictory(node: Any) -> bool:
    if _empty(node) or not isinstance(node, dict):
        return False
    if "any" in node:
        return all(_self_contradictory(x) for x in node["any"])
    if "all" in node:
        items = node["all"]
        if any(_self_contradictory(x) for x in items):
            return True
        return any(conditions_disjoint(items[i], items[j]) for i in range(len(items)) for j in range(i + 1, len(items)))
    return False


# ---------------------------------------------------------------------------------------------------------
# Location selectors


def _selected(action: dict, ctx: LintContext) -> set[str]:
    codes = {c for c in action.get("locations", []) if c in ctx.locations}
    for g in action.get("groups", []):
        codes |= set(ctx.groups.get(g, ()))
    kinds = set(action.get("kinds", []))
    if kinds:
        codes |= {c for c, loc in ctx.locations.items() if loc.kind in kinds}
    return codes


def _active(codes: set[str], ctx: LintContext) -> set[str]:
    return {c for c in codes if ctx.locations[c].is_active}


def _names(codes: set[str], limit: int = 5) -> str:
    s = sorted(codes)
    return ", ".join(s[:limit]) + (f" … (+{len(s) - limit})" if len(s) > limit else "")


def _leaves(node: Any):
    if not isinstance(node, dict):
        return
    if "field" in node:
        yield node
        return
    for key in ("all", "any"):
        for child in node.get(key, []) or []:
            yield from _leaves(child)


def _unknown_values(rule: RuleRow, ctx: LintContext) -> list[LintWarning]:
    out = []
    for leaf in _leaves(rule.conditions):
        name, op, value = leaf.get("field"), leaf.get("op"), leaf.get("value")
        if op in ("ne", "not_in", "startswith") or name not in FIELDS:
            continue  # a "none of" or prefix test with an unknown value still matches orders
        values = value if isinstance(value, list) else [value]
        if name == "order.channel":
            unknown, known, what = [v for v in values if v not in ctx.channels], ctx.channels, "channel"
        elif name in ("any_line.sku", "all_lines.sku"):
            unknown, known, what = [v for v in values if v not in ctx.known_skus], None, "SKU"
        elif name == "destination.region":
            unknown, known, what = [v for v in values if v not in ctx.regions], None, "region"
        else:
            continue
        if not unknown:
            continue
        hint = f" (known: {', '.join(sorted(known)[:8])})" if known else ""
        whole = len(unknown) == len(values)
        out.append(
            LintWarning(
                rule.id,
                "unknown_value",
                f"{FIELDS[name].label} {', '.join(repr(v) for v in unknown)}: no such {what}{hint}"
                + ("; this condition matches no order." if whole else "; that value matches nothing."),
            )
        )
    return out


def _selector_warnings(rule: RuleRow, ctx: LintContext) -> list[LintWarning]:
    action = rule.action if isinstance(rule.action, dict) else {}
    kind = action.get("type")
    if kind not in ("restrict", "exclude", "prefer"):
        return []
    out = []
    for g in action.get("groups", []):
        members = ctx.groups.get(g)
        if members is None:
            continue  # validation already refuses unknown groups
        if not members:
            out.append(LintWarning(rule.id, "empty_group", f"Group {g} has no locations, so it selects nothing."))
        elif not _active(set(members), ctx):
            out.append(
                LintWarning(
                    rule.id, "inactive_location", f"Group {g} holds only inactive locations ({_names(members)})."
                )
            )
    inactive = [c for c in action.get("locations", []) if c in ctx.locations and not ctx.locations[c].is_active]
    if inactive:
        out.append(
            LintWarning(
                rule.id,
                "inactive_location",
                f"{_names(set(inactive))} {'is' if len(inactive) == 1 else 'are'} inactive; routing never uses "
                "inactive locations.",
            )
        )
    if kind == "restrict" and not _active(_selected(action, ctx), ctx):
        out.append(
            LintWarning(
                rule.id,
                "no_location",
                "Restricts to no active location: every order this rule matches will be backordered.",
            )
        )
    return out


def version_lint(*, rules: list[RuleRow], ctx: LintContext) -> LintReport:
    """Every warning for the rules of one version (priority order matters; disabled rules never fire)."""
    report = LintReport()
    ordered = sorted(rules, key=lambda r: (r.priority, r.id))
    enabled = [r for r in ordered if r.enabled]
    position = {r.id: i + 1 for i, r in enumerate(ordered)}
    for idx, rule in enumerate(enabled):
        earlier = enabled[:idx]
        # 1. Never fires.
        report.warnings.extend(_never_fires(rule, earlier, position))
        # 2. Empty groups, inactive locations, restrictions to nothing.
        report.warnings.extend(_selector_warnings(rule, ctx))
        # 3. Contradictions with earlier rules that can fire on the same orders.
        for e in earlier:
            if not conditions_disjoint(rule.conditions, e.conditions):
                report.warnings.extend(_contradictions(rule, e, f"rule #{position[e.id]} “{e.name}”", ctx))
        # 4. Values that match nothing.
        report.warnings.extend(_unknown_values(rule, ctx))
    return report


def _never_fires(rule: RuleRow, earlier: list[RuleRow], position: dict[int, int]) -> list[LintWarning]:
    """The rule's conditions contradict themselves, or an earlier stop rule catches all it matches."""
    out = []
    if _self_contradictory(rule.conditions):
        out.append(
            LintWarning(
                rule.id,
                "contradictory_conditions",
                "Never fires: its conditions contradict each other, so no order can match them all.",
            )
        )
    for e in earlier:
        if (
            isinstance(e.action, dict)
            and e.action.get("type") == "stop"
            and conditions_imply(rule.conditions, e.conditions)
        ):
            catch = "every order" if _empty(e.conditions) else "every order this rule matches"
            out.append(
                LintWarning(
                    rule.id,
                    "never_fires",
                    f"Never fires: rule #{position[e.id]} “{e.name}” catches {catch} first and stops.",
                )
            )
            break
    return out


def _contradictions(rule: RuleRow, e: RuleRow, other: str, ctx: LintContext) -> list[LintWarning]:
    """What `rule` contradicts in the earlier rule `e` (named `other`) for orders matching both."""
    action = rule.action if isinstance(rule.action, dict) else {}
    ea = e.action if isinstance(e.action, dict) else {}
    kinds = (action.get("type"), ea.get("type"))
    out = []
    if kinds == ("restrict", "restrict"):
        mine, theirs = _active(_selected(action, ctx), ctx), _active(_selected(ea, ctx), ctx)
        if mine and theirs and not (mine & theirs):
            out.append(
                LintWarning(
                    rule.id,
                    "contradiction",
                    f"Contradicts {other}: an order matching both may only use "
                    f"{_names(mine)} and only {_names(theirs)} — no location is left, so it is backordered.",
                )
            )
    if kinds in {("restrict", "exclude"), ("exclude", "restrict")}:
        restrict, exclude = (action, ea) if kinds[0] == "restrict" else (ea, action)
        allowed = _active(_selected(restrict, ctx), ctx)
        if allowed and allowed <= _selected(exclude, ctx):
            out.append(
                LintWarning(
                    rule.id,
                    "contradiction",
                    f"Contradicts {other}: every location one allows "
                    f"({_names(allowed)}) the other excludes, so matching orders are backordered.",
                )
            )
    if kinds == ("pickup_fallback", "pickup_fallback") and action.get("fallback") != ea.get("fallback"):
        out.append(
            LintWarning(
                rule.id,
                "contradiction",
                f"Contradicts {other} on the pickup fallback; for orders matching both, this later rule wins.",
            )
        )
    return out
