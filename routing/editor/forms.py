"""The rule form of the editor: a condition builder (field, operator, value rows in all/any groups, one level
of sub-groups) and an action editor per action type, parsed from and rendered to plain POST data so that
every change can round-trip through the server (htmx) and be validated with the model's own messages.

Form names: `match` (all/any) and `n` (row count) for the top group; row i uses the prefix `r{i}_`
(`r0_kind` = leaf/group, `r0_field`, `r0_op`, `r0_value` — repeated for lists —, and for a sub-group
`r0_match`, `r0_n` and children `r0_{j}_…`). Actions: `action_type` and `a_<param>`.
Conditions too deep for the builder are edited as JSON (`mode=json`, `conditions_json`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from routing.rules import ACTIONS, FIELDS, KINDS, OPERATORS

LIST_OPS = ("in", "not_in")
NUMBER_OPS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in")
CHOICE_OPS = ("eq", "ne", "in", "not_in")
TEXT_OPS = ("eq", "ne", "in", "not_in", "startswith")
DEFAULT_FIELD = "order.channel"
# Fields whose natural test is a prefix (postal codes): the builder suggests 'starts with' first.
PREFIX_FIELDS = ("destination.postal_code",)
ACTION_PARAMS = {
    "restrict": ("locations", "groups", "kinds"),
    "exclude": ("locations", "groups", "kinds"),
    "prefer": ("locations", "groups", "kinds", "adjustment"),
    "max_shipments": ("max",),
    "ship_complete": (),
    "max_distance": ("km",),
    "protect_store_stock": ("units",),
    "pickup_fallback": ("fallback",),
    "stop": (),
}


def field_ops(name: str) -> tuple[str, ...]:
    spec = FIELDS.get(name)
    if spec is None:
        return tuple(OPERATORS)
    if spec.kind == "number":
        return NUMBER_OPS
    if name in PREFIX_FIELDS:
        return ("startswith", "eq", "ne", "in", "not_in")
    if spec.choices or name in ("order.channel", "destination.region"):
        return CHOICE_OPS
    return TEXT_OPS


def value_input(name: str, op: str) -> str:
    """How the value is entered: 'number', 'choice' (one), 'choices' (several), 'list' (comma-separated
    text) or 'text'."""
    spec = FIELDS.get(name)
    if spec is None:
        return "text"
    if spec.kind == "number":
        return "numbers" if op in LIST_OPS else "number"
    pickable = bool(spec.choices) or name in ("order.channel", "destination.region")
    if pickable and op != "startswith":
        return "choices" if op in LIST_OPS else "choice"
    return "list" if op in LIST_OPS else "text"


def _number(raw: str) -> Any:
    s = raw.strip()
    try:
        f = float(s)
    except ValueError:
        return s  # validation then says "is a number; 'abc' is not one"
    return int(f) if f.is_integer() and "." not in s and "e" not in s.lower() else f


def _split(raw: str) -> list[str]:
    return [p.strip() for p in raw.replace("\n", ",").split(",") if p.strip()]


@dataclass(slots=True)
class Row:
    prefix: str
    kind: str = "leaf"  # or "group"
    field: str = DEFAULT_FIELD
    op: str = "eq"
    values: list[str] = dc_field(default_factory=list)  # raw strings as entered / picked
    match: str = "all"
    children: list[Row] = dc_field(default_factory=list)
    options: list[tuple[str, str]] = dc_field(default_factory=list)  # pickers for the value (see rows_fill_options)

    # Rendering helpers
    @property
    def ops(self) -> list[tuple[str, str]]:
        return [(o, OPERATORS[o]) for o in field_ops(self.field)]

    @property
    def input(self) -> str:
        return value_input(self.field, self.op)

    @property
    def text(self) -> str:
        return ", ".join(self.values)

    @property
    def choices(self) -> tuple[str, ...]:
        spec = FIELDS.get(self.field)
        return spec.choices if spec and spec.choices else ()

    def node(self) -> dict | None:
        if self.kind == "group":
            kids = [c.node() for c in self.children]
            kids = [k for k in kids if k is not None]
            return {self.match: kids} if kids else None
        spec = FIELDS.get(self.field)
        node: dict[str, Any] = {"field": self.field, "op": self.op}
        vals = [v for v in self.values if v.strip()]
        if self.op in LIST_OPS:
            items = [x for v in vals for x in _split(v)]
            node["value"] = [_number(x) for x in items] if spec and spec.kind == "number" else items
        elif vals:
            node["value"] = _number(vals[0]) if spec and spec.kind == "number" else vals[0].strip()
        return node


@dataclass(slots=True)
class RuleFormState:
    name: str = ""
    enabled: bool = True
    comment: str = ""
    match: str = "all"
    rows: list[Row] = dc_field(default_factory=list)
    mode: str = "builder"  # or "json"
    conditions_json: str = ""
    action_type: str = "exclude"
    params: dict[str, Any] = dc_field(default_factory=dict)  # raw: lists of strings or a string
    json_error: str = ""

    # --- to the model's JSON ---
    def conditions(self) -> Any:
        if self.mode == "json":
            text = self.conditions_json.strip()
            if not text:
                return {}
            try:
                return json.loads(text)
            except json.JSONDecodeError as exc:
                self.json_error = f"Conditions are not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}."
                return None
        kids = [r.node() for r in self.rows]
        kids = [k for k in kids if k is not None]
        return {self.match: kids} if kids else {}

    def action(self) -> dict:
        action: dict[str, Any] = {"type": self.action_type}
        for p in ACTION_PARAMS.get(self.action_type, ()):
            raw = self.params.get(p)
            if p in ("locations", "groups", "kinds"):
                vals = [v for v in (raw or []) if v]
                if vals:
                    action[p] = vals
            elif p == "fallback":
                if raw:
                    action[p] = raw
            elif raw not in (None, ""):
                action[p] = _number(str(raw))
        return action

    def selected(self, param: str) -> list[str]:
        raw = self.params.get(param)
        return raw if isinstance(raw, list) else []

    def param(self, name: str) -> str:
        raw = self.params.get(name)
        return "" if raw is None or isinstance(raw, list) else str(raw)

    @property
    def action_types(self) -> list[tuple[str, str]]:
        return [(k, cls.label) for k, cls in ACTIONS.items()]

    @property
    def action_fields(self) -> tuple[str, ...]:
        return ACTION_PARAMS.get(self.action_type, ())

    @property
    def kinds(self) -> tuple[str, ...]:
        return KINDS


def rows_fill_options(rows: list[Row], *, channels: list[tuple[str, str]], regions: list[tuple[str, str]]) -> None:
    """Give each row the values its picker offers: channels and regions from the database, fixed choices
    (methods, service levels, tiers, handling classes) from the grammar. Values already chosen stay listed."""
    for r in rows:
        if r.kind == "group":
            rows_fill_options(r.children, channels=channels, regions=regions)
            continue
        if r.field == "order.channel":
            opts = [(code, f"{code} — {name}") for code, name in channels]
        elif r.field == "destination.region":
            opts = list(regions)
        else:
            opts = [(c, c) for c in r.choices]
        known = {v for v, _ in opts}
        opts += [(v, f"{v} (unknown)") for v in r.values if v and v not in known]
        r.options = opts


# ---------------------------------------------------------------------------------------------------------
# From the model


def _row_from_node(node: Any, prefix: str, depth: int) -> Row | None:
    if not isinstance(node, dict):
        return None
    for key in ("all", "any"):
        if key in node and isinstance(node[key], list):
            if depth >= 1:
                return None  # deeper than the builder shows
            children = []
            for j, child in enumerate(node[key]):
                r = _row_from_node(child, f"{prefix}{j}_", depth + 1)
                if r is None or r.kind == "group":
                    return None
                children.append(r)
            return Row(prefix=prefix, kind="group", match=key, children=children)
    value = node.get("value")
    values = [str(v) for v in value] if isinstance(value, list) else ([] if value is None else [str(value)])
    if node.get("op") in LIST_OPS and value_input(node.get("field", ""), node.get("op")) in ("list", "numbers"):
        values = [", ".join(values)]
    return Row(prefix=prefix, field=str(node.get("field", "")), op=str(node.get("op", "eq")), values=values)


def state_from_rule(*, name: str, enabled: bool, conditions: Any, action: Any) -> RuleFormState:
    st = RuleFormState(name=name, enabled=enabled)
    conditions = conditions or {}
    rows: list[Row] | None = []
    if conditions:
        if "field" in conditions:
            conditions = {"all": [conditions]}
        key = "all" if "all" in conditions else "any" if "any" in conditions else None
        if key is None or not isinstance(conditions.get(key), list):
            rows = None
        else:
            st.match = key
            for i, child in enumerate(conditions[key]):
                r = _row_from_node(child, f"r{i}_", 0)
                if r is None:
                    rows = None
                    break
                rows.append(r)
    if rows is None:
        st.mode = "json"
    else:
        st.rows = rows
    st.conditions_json = json.dumps(conditions, indent=2) if conditions else ""
    action = action if isinstance(action, dict) else {}
    st.action_type = action.get("type", "exclude")
    st.params = {k: ([str(x) for x in v] if isinstance(v, list) else str(v)) for k, v in action.items() if k != "type"}
    return st


# ---------------------------------------------------------------------------------------------------------
# From POST data (plus one builder operation)


def _int(raw: Any, default: int = 0) -> int:
    try:
        return max(0, min(int(raw), 50))
    except (TypeError, ValueError):
        return default


def _parse_row(data, prefix: str, depth: int) -> Row:
    kind = data.get(f"{prefix}kind", "leaf")
    if kind == "group" and depth == 0:
        n = _int(data.get(f"{prefix}n"))
        children = [_parse_row(data, f"{prefix}{j}_", depth + 1) for j in range(n)]
        return Row(prefix=prefix, kind="group", match=data.get(f"{prefix}match", "all"), children=children)
    fld = data.get(f"{prefix}field", DEFAULT_FIELD)
    if fld not in FIELDS:
        fld = DEFAULT_FIELD
    op = data.get(f"{prefix}op", "")
    prev_field = data.get(f"{prefix}prev_field", fld)
    values = data.getlist(f"{prefix}value") if hasattr(data, "getlist") else list(data.get(f"{prefix}value", []))
    if fld != prev_field or op not in field_ops(fld):
        # The field changed: start its operator and value afresh, fitted to the new field.
        op, values = field_ops(fld)[0], []
    return Row(prefix=prefix, field=fld, op=op, values=[str(v) for v in values])


def _renumber(rows: list[Row], prefix: str = "r") -> None:
    for i, r in enumerate(rows):
        r.prefix = f"{prefix}{i}_"
        if r.kind == "group":
            _renumber(r.children, r.prefix)


def state_from_post(data, *, op: str = "") -> RuleFormState:
    """The form's state from POST data, after applying `op`: add_leaf[:prefix], add_group, remove:prefix,
    mode:json / mode:builder. Operators and values reset when a row's field changes."""
    st = RuleFormState(
        name=data.get("name", ""),
        enabled=data.get("enabled") in ("on", "true", "1"),
        comment=data.get("comment", ""),
        match=data.get("match", "all") if data.get("match") in ("all", "any") else "all",
        mode="json" if data.get("mode") == "json" else "builder",
        conditions_json=data.get("conditions_json", ""),
        action_type=data.get("action_type") if data.get("action_type") in ACTIONS else "exclude",
    )
    n = _int(data.get("n"))
    st.rows = [_parse_row(data, f"r{i}_", 0) for i in range(n)]
    # Parameter names are specific to their action types (the selectors are shared by restrict, exclude
    # and prefer), so whatever is posted can be read; action() keeps only the current type's parameters.
    for p in ("locations", "groups", "kinds"):
        if hasattr(data, "getlist"):
            st.params[p] = [v for v in data.getlist(f"a_{p}") if v]
    for p in ("adjustment", "max", "km", "units", "fallback"):
        if data.get(f"a_{p}") not in (None, ""):
            st.params[p] = data.get(f"a_{p}")
    # Builder operations.
    if op == "add_group":
        st.rows.append(Row(prefix="", kind="group", match="any", children=[Row(prefix="")]))
    elif op.startswith("add_leaf"):
        target = op.partition(":")[2]
        group = next((r for r in st.rows if r.kind == "group" and r.prefix == target), None)
        (group.children if group else st.rows).append(Row(prefix=""))
    elif op.startswith("remove:"):
        target = op.partition(":")[2]
        st.rows = [r for r in st.rows if r.prefix != target]
        for r in st.rows:
            if r.kind == "group":
                r.children = [c for c in r.children if c.prefix != target]
        st.rows = [r for r in st.rows if r.kind != "group" or r.children]
    elif op == "mode:json":
        st.conditions_json = json.dumps(st.conditions() or {}, indent=2)
        st.mode = "json"
    elif op == "mode:builder" and st.mode == "json":
        cond = st.conditions()
        if cond is not None:
            back = state_from_rule(name=st.name, enabled=st.enabled, conditions=cond, action=st.action())
            if back.mode == "builder":
                st.rows, st.match, st.mode = back.rows, back.match, "builder"
            else:
                st.json_error = "These conditions are nested deeper than the builder shows; keep editing them as JSON."
    _renumber(st.rows)
    return st


# ---------------------------------------------------------------------------------------------------------
# Messages in the merchandiser's words

_PARAM_WORDS = {
    "locations": "Locations",
    "groups": "Groups",
    "kinds": "Kinds",
    "adjustment": "The cost adjustment",
    "max": "The number of shipments",
    "km": "The maximum distance",
    "units": "The units held back",
    "fallback": "What to do when the pickup store lacks stock",
}
_WHERE = re.compile(r"^Condition((?: › (?:all|any) #\d+)*): ")
_ACTION_PREFIX = re.compile(r"^Action '([a-z_]+)': ")
_QUOTED_PARAM = re.compile(r"^'(" + "|".join(_PARAM_WORDS) + r")' must be")


def _condition_words(message: str) -> str:
    m = _WHERE.match(message)
    if not m:
        return message
    numbers = re.findall(r"#(\d+)", m.group(1))
    where = "Condition " + ", item ".join(numbers) if numbers else "The conditions"
    rest = message[m.end() :]
    for key, spec in FIELDS.items():
        rest = rest.replace(f"({key}, ", f"({spec.label}, ")
    return f"{where}: {rest[:1].upper()}{rest[1:]}"


def _action_words(message: str) -> str:
    msg = _ACTION_PREFIX.sub("", message)
    if msg.startswith("Name the locations, groups or kinds"):
        return "Choose at least one location, group or kind."
    m = _QUOTED_PARAM.match(msg)
    if m:
        msg = f"{_PARAM_WORDS[m.group(1)]} must be" + msg[m.end() :]
    return msg


def rule_messages(*, errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """The model's validation messages reworded for the rule form: rows numbered as on screen
    ("Condition 2"), parameters by their label, no internal keys."""
    out: dict[str, list[str]] = {}
    for key, msgs in errors.items():
        if key == "conditions":
            out[key] = [_condition_words(m) for m in msgs]
        elif key == "action":
            out[key] = [_action_words(m) for m in msgs]
        else:
            out[key] = list(msgs)
    return out


def state_entered(*, state: RuleFormState) -> tuple[Any, dict | None]:
    """What the user has entered so far, for validating on change: the conditions built from rows that have
    a value, and the action when it has a parameter filled in (or takes none). Missing input is reported on
    Check or Save, never while the form is being filled in."""
    if state.mode == "json":
        conditions = state.conditions()
    else:
        kids = []
        for row in state.rows:
            node = row.node()
            if row.kind == "leaf" and node is not None and "value" not in node:
                continue
            if isinstance(node, dict) and row.kind == "leaf" and node.get("value") == []:
                continue
            if row.kind == "group" and node is not None:
                leaves = [k for k in next(iter(node.values())) if "value" in k and k["value"] != []]
                node = {row.match: leaves} if leaves else None
            if node is not None:
                kids.append(node)
        conditions = {state.match: kids} if kids else {}
    action = state.action()
    filled = len(action) > 1 or not ACTION_PARAMS.get(state.action_type)
    return conditions, action if filled else None
