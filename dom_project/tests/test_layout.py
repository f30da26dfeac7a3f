"""The layout keeps the direction of the architecture: an AST check over every module of the project.

- no module outside a `tests` package imports a `tests` package (production code and benchmarks never lean
  on test helpers);
- no app imports `dom_project` (settings, URLs, WSGI: the apps get what they share from `common`);
- `common` imports no other app of the project;
- the production apps never import `bench` (benchmarks and the demo world sit on top of them, not inside);
- a production app uses another app only through its public modules: `models`, `services`, `selectors`,
  `signals`, `kpis` (the dashboard's contract) and routing's `network`, and only the package's exported names
  (`fulfillment.services`, never `fulfillment.services.picking`).

Imports inside functions count as much as module-level ones; only `tests` packages are exempt.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_APPS = (
    "inventory",
    "orders",
    "routing",
    "fulfillment",
    "returns",
    "analytics",
    "webhooks",
    "notifications",
    "common",
)
PROJECT_PACKAGES = (*PRODUCTION_APPS, "bench", "dom_project")
# Inventory is the bottom of the domain: routing, fulfilment, returns, outbound events and e-mails build on it.
INVENTORY_NEVER_IMPORTS = {"routing", "fulfillment", "returns", "webhooks", "notifications"}
PUBLIC_MODULES = {"models", "services", "selectors", "signals", "kpis"}
PUBLIC_MODULES_OF = {"routing": PUBLIC_MODULES | {"network"}}


def public_violation(*, package: str, imported: str) -> str:
    """Why `imported` is not another app's public surface, or ""."""
    names = imported.split(".")
    if package not in PRODUCTION_APPS or names[0] not in PRODUCTION_APPS or names[0] in {package, "common"}:
        return ""
    if len(names) == 2 and names[1] in PUBLIC_MODULES_OF.get(names[0], PUBLIC_MODULES):
        return ""
    return f"{imported} is not public: import from {names[0]}.services, .selectors, .models or .signals"


def imports_of(*, source: str, module: str) -> list[tuple[int, str]]:
    """(line, imported module) for every import in `source`, relative imports resolved against `module`."""
    package = module.split(".")[:-1]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join([*base, node.module] if node.module else base)
            if node.module is None:  # `from . import x`: each name may be a module
                found.extend((node.lineno, f"{target}.{alias.name}") for alias in node.names)
            else:
                found.append((node.lineno, target))
    return found


def project_modules() -> list[tuple[str, str, Path]]:
    """(package, dotted module, path) for every module of the project outside `tests` packages."""
    out = []
    for package in PROJECT_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "tests" in parts:
                continue
            out.append((package, ".".join(parts), path))
    return out


def layout_violations() -> list[str]:
    violations = []
    for package, module, path in project_modules():
        rel = path.relative_to(ROOT).as_posix()
        for line, imported in imports_of(source=path.read_text(), module=module):
            names = imported.split(".")
            top = names[0]
            if top in PROJECT_PACKAGES and "tests" in names:
                violations.append(f"{rel}:{line} imports test code {imported}")
            if top == "dom_project" and package != "dom_project":
                violations.append(f"{rel}:{line} imports {imported}: apps do not import dom_project")
            if package == "common" and top in PROJECT_PACKAGES and top != "common":
                violations.append(f"{rel}:{line} imports {imported}: common imports no other app")
            if package in PRODUCTION_APPS and top == "bench":
                violations.append(f"{rel}:{line} imports {imported}: production apps never import bench")
            if reason := public_violation(package=package, imported=imported):
                violations.append(f"{rel}:{line} imports {reason}")
            if package == "inventory" and top in INVENTORY_NEVER_IMPORTS:
                violations.append(f"{rel}:{line} imports {imported}: inventory sits below {top}")
    return violations


def test_every_project_package_is_checked():
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    assert packages == set(PROJECT_PACKAGES)


def test_the_layout_keeps_its_direction():
    assert layout_violations() == []


def test_the_scan_reads_imports_inside_functions_and_relative_ones():
    # The check has teeth: it sees what the real modules import, wherever the import sits.
    assert imports_of(
        source="def f():\n    if True:\n        from inventory.tests.helpers import put_stock\n",
        module="orders.services",
    ) == [(3, "inventory.tests.helpers")]
    assert imports_of(source="from .models import Order\nfrom . import tests\n", module="orders.services") == [
        (1, "orders.models"),
        (2, "orders.tests"),
    ]
    assert imports_of(source="from ..roles import HasRole\n", module="common.sub.api") == [(1, "common.roles")]
    bench_imports = {
        name
        for _, module, path in project_modules()
        if module.startswith("bench.")
        for _, name in imports_of(source=path.read_text(), module=module)
    }
    assert {"inventory.models", "orders.models", "routing.services"} <= bench_imports


@pytest.mark.parametrize(
    ("package", "source", "what"),
    [
        ("fulfillment", "from fulfillment.tests.helpers import make_fo\n", "imports test code"),
        ("orders", "from dom_project.roles import OPERATIONS\n", "apps do not import dom_project"),
        ("common", "def f():\n    from inventory.models import Location\n", "common imports no other app"),
        ("routing", "import bench.world\n", "production apps never import bench"),
        ("inventory", "def f():\n    from routing.services import route\n", "inventory sits below routing"),
    ],
)
def test_each_rule_flags_its_breach(tmp_path, monkeypatch, package, source, what):
    (tmp_path / package).mkdir()
    (tmp_path / package / "breach.py").write_text(source)
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert any(what in v for v in layout_violations())


@pytest.mark.parametrize(
    ("package", "imported", "public"),
    [
        ("returns", "routing.network", True),
        ("returns", "routing.core", False),
        ("routing", "fulfillment.services", True),
        ("routing", "fulfillment.services.picking", False),
        ("orders", "inventory.selectors", True),
        ("orders", "inventory.feeds", False),
        ("routing", "routing.core", True),
        ("bench", "routing.core", True),
        ("fulfillment", "common.geo", True),
    ],
)
def test_other_apps_are_used_through_their_public_modules(package, imported, public):
    assert (public_violation(package=package, imported=imported) == "") is public
