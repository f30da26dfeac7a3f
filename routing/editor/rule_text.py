"""One-line, plain-words summaries of a rule's conditions and action (the editor's list, diffs, history).

Pure: words come from the grammar in `routing.rules` (field labels, operator names, action labels).
"""

from __future__ import annotations

from typing import Any

from routing.rules import ACTIONS, FIELDS, OPERATORS


def _value_text(value: Any) -> str:
    if isinstance(value, list):
        if len(value) > 6:
            return ", ".join(str(v) for v in value[:6]) + f" … (+{len(value) - 6})"
        return ", ".join(str(v) for v in value)
    return str(value)


def _leaf_text(node: dict) -> str:
    spec = FIELDS.get(node.get("field"))
    label = spec.label if spec else str(node.get("field"))
    op = OPERATORS.get(node.get("op"), str(node.get("op")))
    return f"{label} {op} {_value_text(node.get('value'))}"


def conditions_summary(conditions: Any, *, _depth: int = 0) -> str:
    """'every order' for an empty tree; otherwise the tree in words, groups in parentheses."""
    if not conditions:
        return "every order"
    if not isinstance(conditions, dict):
        return str(conditions)
    for key, joiner in (("all", " and "), ("any", " or ")):
        if key in conditions and isinstance(conditions[key], list):
            parts = [conditions_summary(c, _depth=_depth + 1) for c in conditions[key]]
            text = joiner.join(parts)
            return f"({text})" if _depth and len(parts) > 1 else text
    return _leaf_text(conditions)


def _selector_text(action: dict) -> str:
    parts = []
    if action.get("locations"):
        parts.append("locations " + _value_text(action["locations"]))
    if action.get("groups"):
        parts.append("groups " + _value_text(action["groups"]))
    if action.get("kinds"):
        parts.append("kinds " + _value_text(action["kinds"]))
    return "; ".join(parts) or "nothing"


def action_summary(action: Any) -> str:
    """The action in words, e.g. 'Never use these locations: kinds store'."""
    if not isinstance(action, dict):
        return str(action)
    kind = action.get("type")
    cls = ACTIONS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        return f"unknown action {kind!r}"
    if kind in ("restrict", "exclude"):
        return f"{cls.label}: {_selector_text(action)}"
    if kind == "prefer":
        amount = action.get("adjustment", -1.0)
        verb = "prefer" if isinstance(amount, int | float) and amount < 0 else "avoid"
        return f"{verb} {_selector_text(action)} ({amount:+g} $ per shipment)"
    if kind == "max_shipments":
        return f"at most {action.get('max')} shipment(s)"
    if kind == "max_distance":
        return f"only locations within {action.get('km')} km"
    if kind == "protect_store_stock":
        return f"hold back {action.get('units')} unit(s) at each store from ship orders"
    if kind == "pickup_fallback":
        return (
            "pickup store lacks stock → ship to the store from elsewhere"
            if action.get("fallback") == "ship_to_store"
            else "pickup store lacks stock → backorder"
        )
    return cls.label


def rule_summary(*, conditions: Any, action: Any) -> str:
    return f"IF {conditions_summary(conditions)} THEN {action_summary(action)}"
