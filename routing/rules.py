"""Routing rules as data: the condition grammar, the action registry, validation and compilation.

A rule is `conditions` (a JSON tree) + `action` (a JSON object with a `type`). Conditions are either a
leaf `{"field": "order.total", "op": "gte", "value": 200}` or a group `{"all": [...]}` / `{"any": [...]}`,
nested freely; an empty `{}` always matches. Each action type is a class registered in `ACTIONS` (the
django-oscar offers shape: the row holds parameters, the class holds behaviour). Compilation turns a
published version into closures once; `routing.selectors.network_static` caches the result per process.

Nothing here writes to the database; validation reads location and group codes to name unknown ones.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError

# ---------------------------------------------------------------------------------------------------------
# Conditions

METHODS = ("ship", "pickup", "ship_to_store", "same_day")
SERVICE_LEVELS = ("standard", "express", "overnight")
HANDLING_CLASSES = ("ambient", "chilled", "frozen", "hazmat", "oversized")
TIERS = ("standard", "silver", "gold", "platinum")
KINDS = ("warehouse", "store", "3pl", "dropship")


@dataclass(frozen=True, slots=True)
class FieldSpec:
    label: str
    kind: str  # "text" or "number"
    choices: tuple[str, ...] | None = None
    per_line: str | None = None  # "any" / "all": evaluated over the order's lines
    getter: Callable[[Any], Any] | None = None  # order view → value (or line → value for per-line fields)


def _order_attr(name: str) -> Callable[[Any], Any]:
    return operator.attrgetter(name)


FIELDS: dict[str, FieldSpec] = {
    "order.channel": FieldSpec("the order's channel code", "text", getter=_order_attr("channel")),
    "order.method": FieldSpec("the fulfilment method", "text", METHODS, getter=_order_attr("method")),
    "order.service_level": FieldSpec("the service level", "text", SERVICE_LEVELS, getter=_order_attr("service_level")),
    "order.total": FieldSpec("the order total", "number", getter=_order_attr("total")),
    "order.line_count": FieldSpec("the number of lines", "number", getter=_order_attr("line_count")),
    "order.units": FieldSpec("the number of units", "number", getter=_order_attr("units")),
    "customer.tier": FieldSpec("the customer's loyalty tier", "text", TIERS, getter=_order_attr("customer_tier")),
    "destination.country": FieldSpec("the destination country", "text", getter=_order_attr("country")),
    "destination.region": FieldSpec("the destination state or region", "text", getter=_order_attr("region")),
    "destination.postal_code": FieldSpec("the destination postal code", "text", getter=_order_attr("postal_code")),
    "any_line.handling_class": FieldSpec(
        "any line's handling class", "text", HANDLING_CLASSES, "any", _order_attr("handling_class")
    ),
    "all_lines.handling_class": FieldSpec(
        "every line's handling class", "text", HANDLING_CLASSES, "all", _order_attr("handling_class")
    ),
    "any_line.sku": FieldSpec("any line's SKU", "text", None, "any", _order_attr("sku")),
    "all_lines.sku": FieldSpec("every line's SKU", "text", None, "all", _order_attr("sku")),
}

OPERATORS: dict[str, str] = {
    "eq": "equals",
    "ne": "does not equal",
    "in": "is one of",
    "not_in": "is none of",
    "gt": "is greater than",
    "gte": "is at least",
    "lt": "is less than",
    "lte": "is at most",
    "startswith": "starts with",
}
_LIST_OPS = ("in", "not_in")
_NUMBER_OPS = ("gt", "gte", "lt", "lte")


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _validate_leaf(node: dict, where: str, errors: list[str]) -> None:
    name, op = node.get("field"), node.get("op")
    unknown_keys = set(node) - {"field", "op", "value"}
    if unknown_keys:
        errors.append(f"{where}: unexpected key(s) {', '.join(sorted(unknown_keys))}; use field, op and value.")
    spec = FIELDS.get(name) if isinstance(name, str) else None
    if spec is None:
        errors.append(f"{where}: {name!r} is not a field you can test. Choose one of: {', '.join(FIELDS)}.")
        return
    if op not in OPERATORS:
        errors.append(f"{where}: {op!r} is not an operator. Choose one of: {', '.join(OPERATORS)}.")
        return
    if "value" not in node:
        errors.append(f"{where}: give a value to compare {spec.label} with.")
        return
    value = node["value"]
    if op in _LIST_OPS:
        if not isinstance(value, list) or not value:
            errors.append(f'{where}: \'{op}\' needs a non-empty list of values, e.g. ["a", "b"].')
            return
        values = value
    else:
        if isinstance(value, list | dict):
            errors.append(f"{where}: '{op}' needs a single value, not a list.")
            return
        values = [value]
    if op in _NUMBER_OPS and spec.kind != "number":
        errors.append(f"{where}: {spec.label} is text; '{op}' only compares numbers (order.total, order.units …).")
        return
    if spec.kind == "number":
        if op == "startswith":
            errors.append(f"{where}: {spec.label} is a number; 'startswith' only works on text.")
            return
        bad = [v for v in values if not _is_number(v)]
        if bad:
            errors.append(f"{where}: {spec.label} is a number; {bad[0]!r} is not one.")
            return
    else:
        bad = [v for v in values if not isinstance(v, str)]
        if bad:
            errors.append(f"{where}: {spec.label} is text; write {bad[0]!r} in quotes.")
            return
        if spec.choices and op != "startswith":
            wrong = [v for v in values if v not in spec.choices]
            if wrong:
                errors.append(
                    f"{where}: {wrong[0]!r} is not a valid value for {spec.label}; "
                    f"choose from {', '.join(spec.choices)}."
                )


def _validate_node(node: Any, where: str, errors: list[str], depth: int = 0) -> None:
    if depth > 10:
        errors.append(f"{where}: conditions are nested too deeply (at most 10 levels).")
        return
    if not isinstance(node, dict):
        errors.append(f'{where}: expected an object like {{"field": …, "op": …, "value": …}}.')
        return
    groups = [k for k in ("all", "any") if k in node]
    if groups:
        if len(node) != 1:
            errors.append(f"{where}: a group has exactly one key, 'all' or 'any', holding a list of conditions.")
            return
        items = node[groups[0]]
        if not isinstance(items, list) or not items:
            errors.append(f"{where}: '{groups[0]}' needs a non-empty list of conditions.")
            return
        for i, child in enumerate(items, start=1):
            _validate_node(child, f"{where} › {groups[0]} #{i}", errors, depth + 1)
        return
    _validate_leaf(node, where, errors)


def conditions_validate(conditions: Any) -> list[str]:
    """Error messages for a conditions tree ([] when valid). `{}` or null means 'every order'."""
    if conditions in (None, {}):
        return []
    errors: list[str] = []
    _validate_node(conditions, "Condition", errors)
    return errors


def _compile_leaf(node: dict) -> Callable[[Any], bool]:
    spec = FIELDS[node["field"]]
    op, value = node["op"], node["value"]
    get = spec.getter
    if op == "eq":
        test = lambda v: v == value  # noqa: E731
    elif op == "ne":
        test = lambda v: v != value  # noqa: E731
    elif op == "in":
        s = frozenset(value)
        test = lambda v: v in s  # noqa: E731
    elif op == "not_in":
        s = frozenset(value)
        test = lambda v: v not in s  # noqa: E731
    elif op == "gt":
        test = lambda v: v is not None and v > value  # noqa: E731
    elif op == "gte":
        test = lambda v: v is not None and v >= value  # noqa: E731
    elif op == "lt":
        test = lambda v: v is not None and v < value  # noqa: E731
    elif op == "lte":
        test = lambda v: v is not None and v <= value  # noqa: E731
    else:  # startswith
        test = lambda v: isinstance(v, str) and v.startswith(value)  # noqa: E731
    if spec.per_line == "any":
        return lambda o: any(test(get(ln)) for ln in o.lines)
    if spec.per_line == "all":
        return lambda o: bool(o.lines) and all(test(get(ln)) for ln in o.lines)
    return lambda o: test(get(o))


def conditions_compile(conditions: Any) -> Callable[[Any], bool]:
    """A predicate over an order view (routing.core.OrderView). Assumes the tree was validated."""
    if conditions in (None, {}):
        return lambda o: True
    if "all" in conditions:
        parts = [conditions_compile(c) for c in conditions["all"]]
        return lambda o: all(p(o) for p in parts)
    if "any" in conditions:
        parts = [conditions_compile(c) for c in conditions["any"]]
        return lambda o: any(p(o) for p in parts)
    return _compile_leaf(conditions)


# ---------------------------------------------------------------------------------------------------------
# Actions


@dataclass
class RuleContext:
    """What the fired rules have said about one order; read by routing.core when it builds candidates."""

    allowed: list[tuple[str, Callable[[Any], bool]]] = field(default_factory=list)  # (rule name, loc → ok)
    excluded: list[tuple[str, Callable[[Any], bool]]] = field(default_factory=list)
    adjustments: list[tuple[str, Callable[[Any], bool], float]] = field(default_factory=list)
    max_shipments: int | None = None
    ship_complete: bool = False
    max_km: tuple[str, float] | None = None
    protect_store_units: int = 0
    pickup_fallback: str = "backorder"  # or "ship_to_store"
    fired: list[dict] = field(default_factory=list)
    # Handling rules scoped to lines: (rule name, handling classes, restrict?, loc → named by the action).
    line_rules: list[tuple[str, frozenset[str], bool, Callable[[Any], bool]]] = field(default_factory=list)

    def line_exclusion(self, loc, handling_class: str) -> str | None:
        """Why a handling rule keeps a line of `handling_class` away from the location, or None."""
        for name, classes, restrict, hit in self.line_rules:
            if handling_class in classes and hit(loc) != restrict:
                return f"rule “{name}”: excluded for {handling_class} lines"
        return None

    def exclusion_reason(self, loc) -> str | None:
        for name, ok in self.allowed:
            if not ok(loc):
                return f"rule “{name}”: not among the allowed locations"
        for name, hit in self.excluded:
            if hit(loc):
                return f"rule “{name}”: excluded"
        return None

    def adjustment(self, loc) -> float:
        return sum(amount for _, hit, amount in self.adjustments if hit(loc))


@dataclass(frozen=True, slots=True)
class Resolver:
    """Location and group codes → ids, known when compiling (the cached network provides it)."""

    location_ids: dict[str, int]
    group_members: dict[str, frozenset[int]]


class Action:
    """Base class: `validate` checks the JSON params (class method); `apply` changes the RuleContext."""

    type: str = ""
    label: str = ""
    param_names: frozenset[str] = frozenset()
    stops: bool = False

    def __init__(self, params: dict, resolver: Resolver) -> None:
        self.params = params
        self.resolver = resolver

    @classmethod
    def validate(cls, params: dict) -> list[str]:
        return []

    def apply(self, ctx: RuleContext, rule_name: str) -> None:
        raise NotImplementedError


ACTIONS: dict[str, type[Action]] = {}


def action_register(cls: type[Action]) -> type[Action]:
    """Class decorator: make an action type available to rules."""
    ACTIONS[cls.type] = cls
    return cls


def _validate_selector(params: dict, *, required: bool = True) -> list[str]:
    from inventory.models import Location, LocationGroup

    errors = []
    keys = [k for k in ("locations", "groups", "kinds") if k in params]
    if required and not keys:
        return ["Name the locations, groups or kinds it applies to (at least one of 'locations', 'groups', 'kinds')."]
    for k in keys:
        v = params[k]
        if not isinstance(v, list) or not v or not all(isinstance(x, str) for x in v):
            errors.append(
                f"'{k}' must be a non-empty list of codes, e.g. [\"{'DC-EDISON' if k == 'locations' else 'store'}\"]."
            )
    if errors:
        return errors
    if "kinds" in params:
        wrong = [k for k in params["kinds"] if k not in KINDS]
        if wrong:
            errors.append(f"Unknown location kind {wrong[0]!r}; choose from {', '.join(KINDS)}.")
    if "locations" in params:
        known = set(Location.objects.filter(code__in=params["locations"]).values_list("code", flat=True))
        missing = [c for c in params["locations"] if c not in known]
        if missing:
            errors.append(f"No location with code {', '.join(missing)}.")
    if "groups" in params:
        known = set(LocationGroup.objects.filter(code__in=params["groups"]).values_list("code", flat=True))
        missing = [c for c in params["groups"] if c not in known]
        if missing:
            errors.append(f"No location group with code {', '.join(missing)}.")
    return errors


class _SelectorAction(Action):
    """Actions that name locations by code, group or kind."""

    param_names = frozenset({"locations", "groups", "kinds"})

    def __init__(self, params: dict, resolver: Resolver) -> None:
        super().__init__(params, resolver)
        ids: set[int] = {resolver.location_ids[c] for c in params.get("locations", []) if c in resolver.location_ids}
        for g in params.get("groups", []):
            ids |= resolver.group_members.get(g, frozenset())
        kinds = frozenset(params.get("kinds", []))
        self.ids = frozenset(ids)
        self.kinds = kinds

    def matches(self, loc) -> bool:
        return loc.id in self.ids or loc.kind in self.kinds

    @classmethod
    def validate(cls, params: dict) -> list[str]:
        return _validate_selector(params)


@action_register
class RestrictAction(_SelectorAction):
    type = "restrict"
    label = "Only use these locations"

    def apply(self, ctx: RuleContext, rule_name: str) -> None:
        ctx.allowed.append((rule_name, self.matches))


@action_register
class ExcludeAction(_SelectorAction):
    type = "exclude"
    label = "Never use these locations"

    def apply(self, ctx: RuleContext, rule_name: str) -> None:
        ctx.excluded.append((rule_name, self.matches))


@action_register
class PreferAction(_SelectorAction):
    """A cost adjustment per shipment from the named locations: negative prefers them, positive avoids."""

    type = "prefer"
    label = "Prefer (or avoid) these locations by a cost adjustment"
    param_names = frozenset({"locations", "groups", "kinds", "adjustment"})

    @classmethod
    def validate(cls, params: dict) -> list[str]:
        errors = _validate_selector(params)
        amount = params.get("adjustment", -1.0)
        if not _is_number(amount) or abs(amount) > 1000:
            errors.append("'adjustment' must be a number of dollars per shipment between -1000 and 1000, e.g. -1.5.")
        return errors

    def apply(self, ctx: RuleContext, rule_name: str) -> None:
        ctx.adjustments.append((rule_name, self.matches, float(self.params.get("adjustment", -1.0))))


def _positive_int(params: dict, key: str, label: str) -> list[str]:
    v = params.get(key)
    if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        return [f"'{key}' must be a whole number of at least 1 ({label})."]
    return []


@action_register
class MaxShipmentsAction(Action):
    type = "max_shipments"
    label = "At most N shipments"
    param_names = frozenset({"max"})

    @classmethod
    def validate(cls, params: dict) -> list[str]:
        return _positive_int(params, "max", "the most packages an order may be split into")

    def apply(self, ctx: RuleContext, rule_name: str) -> None:
        m = int(self.params["max"])
        ctx.max_shipments = m if ctx.max_shipments is None else min(ctx.max_shipments, m)


@action_register
class ShipCompleteAction(Action):
    type = "ship_complete"
    label = "Ship complete (one shipment, no split, or wait)"

    def apply(self, ctx: RuleContext, rule_name: str) -> None:
        ctx.ship_complete = True
        ctx.max_shipments = 1


@action_register
class MaxDistanceAction(Action):
    type = "max_distance"
    label = "Only locations within N km of the destination"
    param_names = frozenset({"km"})

    @classmethod
    def validate(cls, params: dict) -> list[str]:
        v = params.get("km")
        if not _is_number(v) or v <= 0:
            return ["'km' must be a positive number of kilometres, e.g. 800."]
        return []

    def apply(self, ctx: RuleContext, rule_name: str) -> None:
        km = float(self.params["km"])
        if ctx.max_km is None or km < ctx.max_km[1]:
            ctx.max_km = (rule_name, km)


@action_register
class ProtectStoreStockAction(Action):
    type = "protect_store_stock"
    label = "Hold back units at stores from ship orders"
    param_names = frozenset({"units"})

    @classmethod
    def validate(cls, params: dict) -> list[str]:
        return _positive_int(params, "units", "units kept at each store for walk-in and pickup customers")

    def apply(self, ctx: RuleContext, rule_name: str) -> None:
        ctx.protect_store_units = max(ctx.protect_store_units, int(self.params["units"]))


@action_register
class PickupFallbackAction(Action):
    type = "pickup_fallback"
    label = "When the pickup store lacks stock"
    param_names = frozenset({"fallback"})

    @classmethod
    def validate(cls, params: dict) -> list[str]:
        if params.get("fallback") not in ("ship_to_store", "backorder"):
            return ['\'fallback\' must be "ship_to_store" (send it to the store from elsewhere) or "backorder".']
        return []

    def apply(self, ctx: RuleContext, rule_name: str) -> None:
        ctx.pickup_fallback = self.params["fallback"]


@action_register
class StopAction(Action):
    type = "stop"
    label = "Stop: ignore the rules after this one"
    stops = True

    def apply(self, ctx: RuleContext, rule_name: str) -> None:
        pass


def action_validate(action: Any) -> list[str]:
    """Error messages for an action object ([] when valid)."""
    if not isinstance(action, dict):
        return ['The action must be an object like {"type": "exclude", "kinds": ["store"]}.']
    kind = action.get("type")
    cls = ACTIONS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        return [f"Action {kind!r} is not known. Choose one of: {', '.join(ACTIONS)}."]
    params = {k: v for k, v in action.items() if k != "type"}
    allowed = cls.param_names
    errors = []
    extra = set(params) - allowed
    if extra:
        errors.append(
            f"Action '{kind}' does not take {', '.join(sorted(extra))}"
            + (f"; it takes {', '.join(sorted(allowed))}." if allowed else "; it takes no parameters.")
        )
    return errors + [f"Action '{kind}': {m}" for m in cls.validate(params)]


def rule_validate(*, conditions: Any, action: Any) -> None:
    """Raise ValidationError({'conditions': […], 'action': […]}) naming every problem; None when valid."""
    errors: dict[str, list[str]] = {}
    c = conditions_validate(conditions)
    a = action_validate(action)
    if c:
        errors["conditions"] = c
    if a:
        errors["action"] = a
    if errors:
        raise ValidationError(errors)


# ---------------------------------------------------------------------------------------------------------
# Compiled rule sets


@dataclass(frozen=True, slots=True)
class CompiledRule:
    id: int
    name: str
    priority: int
    predicate: Callable[[Any], bool]
    action: Action
    line_classes: frozenset[str] | None = None  # a handling rule: applies only to lines of these classes


@dataclass(frozen=True, slots=True)
class CompiledRuleSet:
    version_id: int | None
    label: str
    rules: tuple[CompiledRule, ...]

    def apply(self, order) -> RuleContext:
        """Evaluate every enabled rule in priority order against an order view; returns the context."""
        ctx = RuleContext()
        for rule in self.rules:
            if rule.predicate(order):
                if rule.line_classes is not None:
                    restrict = rule.action.type == RestrictAction.type
                    ctx.line_rules.append((rule.name, rule.line_classes, restrict, rule.action.matches))
                else:
                    rule.action.apply(ctx, rule.name)
                ctx.fired.append({"id": rule.id, "name": rule.name, "action": rule.action.type})
                if rule.action.stops:
                    break
        return ctx


def _line_classes(conditions: dict, action_type: str) -> frozenset[str] | None:
    """The handling classes a location rule is about when its only conditions are "any line's handling class
    is one of …" (an exclude or restrict rule then applies to those lines, not to the whole order), else None."""
    if action_type not in (ExcludeAction.type, RestrictAction.type) or not isinstance(conditions, dict):
        return None
    if len(conditions) != 1 or not set(conditions) <= {"any", "all"}:
        return None
    ((key, leaves),) = conditions.items()
    if not isinstance(leaves, list) or not leaves or (key == "all" and len(leaves) != 1):
        return None
    classes: set[str] = set()
    for leaf in leaves:
        if not isinstance(leaf, dict) or leaf.get("field") != "any_line.handling_class":
            return None
        value = leaf.get("value")
        if leaf.get("op") == "eq" and isinstance(value, str):
            classes.add(value)
        elif leaf.get("op") == "in" and isinstance(value, list):
            classes.update(v for v in value if isinstance(v, str))
        else:
            return None
    return frozenset(classes)


def ruleset_compile(
    *, version_id: int | None, label: str, rules: Iterable[tuple[int, str, int, dict, dict]], resolver: Resolver
) -> CompiledRuleSet:
    """Compile (id, name, priority, conditions, action) rows (enabled ones, any order) into a CompiledRuleSet."""
    compiled = []
    for rid, name, priority, conditions, action in sorted(rules, key=lambda r: (r[2], r[0])):
        params = {k: v for k, v in action.items() if k != "type"}
        compiled.append(
            CompiledRule(
                rid,
                name,
                priority,
                conditions_compile(conditions),
                ACTIONS[action["type"]](params, resolver),
                _line_classes(conditions, action["type"]),
            )
        )
    return CompiledRuleSet(version_id=version_id, label=label, rules=tuple(compiled))
