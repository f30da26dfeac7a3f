"""One owner per table: only the app that defines a model writes its rows; every other app calls the owner's
services. An AST check over the production code of every project app finds writes to another app's models:

- `Model.objects…create/bulk_create/update/delete/get_or_create/update_or_create/bulk_update(...)` where the
  chain starts from a model class of another app (imported at module or function level);
- `.save()` / `.delete()` on a local variable bound to such a model (`x = Model(...)`,
  `x = Model.objects….get()/first()/last()`, `for x in Model.objects…`);
- the project's bulk writers called on another app's model (`model_rows_insert(model=Model)`,
  `_add_by_id(table=Model._meta.db_table)`, …);
- raw SQL `INSERT INTO` / `UPDATE` / `DELETE FROM` on another app's table in a string literal.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from django.apps import apps

ROOT = Path(__file__).resolve().parents[2]
PROJECT_APPS = (
    "orders",
    "inventory",
    "routing",
    "fulfillment",
    "returns",
    "analytics",
    "webhooks",
    "dom_project",
    "common",
)
WRITE_METHODS = {"create", "bulk_create", "update", "delete", "get_or_create", "update_or_create", "bulk_update"}
INSTANCE_WRITES = {"save", "delete"}
INSTANCE_SOURCES = {"get", "first", "last", "create", "get_or_create"}
BULK_WRITER = re.compile(r"insert|_add_by_id|update|delete|copy", re.I)

# Not production code paths: each is excluded for the stated reason and nothing else. The `bench` package
# (benchmarks and the demo seed) is not in PROJECT_APPS: it builds and tears down whole worlds of every app.
EXCLUDED: dict[str, str] = {}
EXCLUDED_PARTS = {"tests", "migrations"}  # test fixtures and schema/data migrations
EXCLUDED_NAME = re.compile(r"(^|_)bench(_|\.py$)")  # benchmarks (*bench*.py) create and delete their own worlds


def _model_apps() -> tuple[dict[str, str], dict[str, str]]:
    """Model class name → owning app, and db_table → owning app, for the project's apps."""
    by_name, by_table = {}, {}
    for model in apps.get_models():
        label = model._meta.app_label
        if label in PROJECT_APPS:
            by_name[model.__name__] = label
            by_table[model._meta.db_table] = label
    return by_name, by_table


def _files():
    for app in PROJECT_APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            parts = set(path.relative_to(ROOT).parts)
            if parts & EXCLUDED_PARTS or rel in EXCLUDED or EXCLUDED_NAME.search(path.name):
                continue
            yield app, rel, path


def _imported_models(tree: ast.AST, by_name: dict[str, str]) -> dict[str, str]:
    """Local name → owning app, for every model class imported from a project app's models module."""
    out = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[-1].startswith("models"):
            src = node.module.split(".")[0]
            for alias in node.names:
                if alias.name in by_name and by_name[alias.name] == src:
                    out[alias.asname or alias.name] = src
    return out


def _chain_root(node: ast.AST) -> str | None:
    """The name an attribute/call chain starts from (`A.objects.filter().update` → A)."""
    while True:
        if isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Attribute | ast.Subscript):
            node = node.value
        elif isinstance(node, ast.Name):
            return node.id
        else:
            return None


def _chain_methods(node: ast.AST) -> list[str]:
    names = []
    while isinstance(node, ast.Call | ast.Attribute | ast.Subscript):
        if isinstance(node, ast.Attribute):
            names.append(node.attr)
        node = node.func if isinstance(node, ast.Call) else node.value
    return names


class _Finder(ast.NodeVisitor):
    def __init__(self, *, app: str, rel: str, foreign: dict[str, str]):
        self.app, self.rel, self.foreign = app, rel, foreign
        # `x.order.save()`: an attribute named after a foreign model (snake case) holds one of its rows.
        self.related = {re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower(): name for name in foreign}
        self.bound: dict[str, str] = {}  # variable → model name, per function
        self.querysets: dict[str, str] = {}  # variable → model name of a queryset it holds, per function
        self.found: list[str] = []
        self.func = "<module>"

    def _hit(self, node: ast.AST, what: str) -> None:
        self.found.append(f"{self.rel}:{node.lineno} {self.func}: {what}")

    def visit_FunctionDef(self, node):
        outer, outer_bound, outer_qs = self.func, self.bound, self.querysets
        self.func, self.bound, self.querysets = node.name, dict(outer_bound), dict(outer_qs)
        self.generic_visit(node)
        self.func, self.bound, self.querysets = outer, outer_bound, outer_qs

    visit_AsyncFunctionDef = visit_FunctionDef

    def _model_of(self, value: ast.AST) -> str | None:
        """The foreign model an expression evaluates to an instance of, if it clearly does."""
        root = _chain_root(value)
        if root not in self.foreign:
            return None
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Name):
            return root  # Model(...)
        methods = _chain_methods(value)
        if methods and methods[0] in INSTANCE_SOURCES and "objects" in methods:
            return root
        return None

    def _queryset_of(self, value: ast.AST) -> str | None:
        """The foreign model whose queryset an expression is (`Model.objects.filter(...)`, `list(...)` of it)."""
        if isinstance(value, ast.Call) and getattr(value.func, "id", "") == "list" and value.args:
            value = value.args[0]
        root = _chain_root(value)
        if root in self.querysets:
            return self.querysets[root]
        if root in self.foreign and "objects" in _chain_methods(value) and not self._model_of(value):
            return root
        return None

    def visit_Assign(self, node):
        model, queryset = self._model_of(node.value), self._queryset_of(node.value)
        for target in node.targets:
            if isinstance(target, ast.Name):
                self.bound.pop(target.id, None)
                self.querysets.pop(target.id, None)
                if model:
                    self.bound[target.id] = model
                elif queryset:
                    self.querysets[target.id] = queryset
        self.generic_visit(node)

    def visit_For(self, node):
        model = self._queryset_of(node.iter)
        if model and isinstance(node.target, ast.Name):
            self.bound[node.target.id] = model
        self.generic_visit(node)

    def visit_Call(self, node):
        func = node.func
        if isinstance(func, ast.Attribute):
            root = _chain_root(func.value)
            methods = _chain_methods(func.value)
            if root in self.foreign and "objects" in methods and func.attr in WRITE_METHODS:
                self._hit(node, f"{root}.objects….{func.attr}() writes {self.foreign[root]}")
            elif root in self.querysets and func.attr in WRITE_METHODS:
                model = self.querysets[root]
                self._hit(node, f"{root}….{func.attr}() writes {model} of {self.foreign[model]}")
            elif isinstance(func.value, ast.Name) and func.value.id in self.bound and func.attr in INSTANCE_WRITES:
                model = self.bound[func.value.id]
                self._hit(node, f"{func.value.id}.{func.attr}() writes a {model} of {self.foreign[model]}")
            elif (
                isinstance(func.value, ast.Attribute)
                and func.value.attr in self.related
                and func.attr in INSTANCE_WRITES
            ):
                model = self.related[func.value.attr]
                self._hit(node, f"….{func.value.attr}.{func.attr}() writes a {model} of {self.foreign[model]}")
        callee = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if BULK_WRITER.search(callee or ""):
            for kw in node.keywords:
                if kw.arg in ("model", "table") and _chain_root(kw.value) in self.foreign:
                    model = _chain_root(kw.value)
                    self._hit(node, f"{callee}({kw.arg}={model}) writes {self.foreign[model]}")
        self.generic_visit(node)


SQL_WRITE = re.compile(r"\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+[\"`]?(\w+)", re.I)


def _sql_hits(tree: ast.AST, *, app: str, rel: str, by_table: dict[str, str]) -> list[str]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            for table in SQL_WRITE.findall(node.value):
                owner = by_table.get(table)
                if owner and owner != app:
                    out.append(f"{rel}:{node.lineno}: raw SQL writes {table} of {owner}")
    return out


def ownership_violations() -> list[str]:
    by_name, by_table = _model_apps()
    found = []
    for app, rel, path in _files():
        tree = ast.parse(path.read_text(), filename=rel)
        foreign = {k: v for k, v in _imported_models(tree, by_name).items() if v != app}
        finder = _Finder(app=app, rel=rel, foreign=foreign)
        finder.visit(tree)
        found += finder.found
        found += _sql_hits(tree, app=app, rel=rel, by_table=by_table)
    return found


def test_no_app_writes_another_apps_models():
    found = ownership_violations()
    assert not found, f"{len(found)} write(s) to another app's models:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "source,count",
    [
        ("from orders.models import Order\ndef f():\n    Order.objects.filter(pk=1).update(status='x')\n", 1),
        ("from orders.models import Order\ndef f():\n    o = Order.objects.get(pk=1)\n    o.save()\n", 1),
        ("from orders.models import Order\ndef f():\n    for o in Order.objects.all():\n        o.delete()\n", 1),
        ("from orders.models import OrderEvent\ndef f():\n    model_rows_insert(model=OrderEvent, rows=[])\n", 1),
        ("from orders.models import Order\ndef f():\n    qs = Order.objects.filter(pk=1)\n    qs.delete()\n", 1),
        (
            "from orders.models import Order\ndef f():\n"
            "    qs = Order.objects.all()\n    for o in qs:\n        o.save()\n",
            1,
        ),
        ("from orders.models import OrderLine\ndef f(fl):\n    fl.order_line.save()\n", 1),
        ("from orders.models import Order\ndef f():\n    Order.objects.filter(pk=1).exists()\n", 0),
        ("def f(cur):\n    cur.execute('UPDATE orders_order SET status = 1')\n", 1),
        ("def f(cur):\n    cur.execute('SELECT * FROM orders_order')\n", 0),
    ],
)
def test_the_check_finds_writes(source, count):
    """The check itself: each kind of cross-app write is found in a routing module, reads are not."""
    by_name, by_table = _model_apps()
    tree = ast.parse(source)
    foreign = {k: v for k, v in _imported_models(tree, by_name).items() if v != "routing"}
    finder = _Finder(app="routing", rel="routing/x.py", foreign=foreign)
    finder.visit(tree)
    assert len(finder.found) + len(_sql_hits(tree, app="routing", rel="routing/x.py", by_table=by_table)) == count
