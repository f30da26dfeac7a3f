"""The lint tooling agrees with itself: the pre-commit hooks, `make lint` and CI run the same ruff."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _ruff_pin() -> str:
    pins = re.findall(r"^ruff==(\S+)$", (ROOT / "requirements-dev.txt").read_text(), flags=re.MULTILINE)
    assert len(pins) == 1, "requirements-dev.txt must pin ruff exactly once"
    return pins[0]


def test_pre_commit_ruff_hooks_pinned_to_the_dev_requirement():
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    ruff = [r for r in config["repos"] if r["repo"] == "https://github.com/astral-sh/ruff-pre-commit"]
    assert len(ruff) == 1
    assert ruff[0]["rev"] == f"v{_ruff_pin()}"
    assert {h["id"] for h in ruff[0]["hooks"]} == {"ruff-check", "ruff-format"}


def test_ci_lints_before_it_tests():
    steps = [ln.strip() for ln in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert "make lint" in steps
    assert "make test" in steps
    assert steps.index("make lint") < steps.index("make test")


def test_make_lint_runs_ruff_check_and_format_check():
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^lint:.*\n((?:\t.*\n)+)", makefile, flags=re.MULTILINE)
    assert recipe is not None
    assert "ruff check ." in recipe.group(1)
    assert "ruff format --check ." in recipe.group(1)


# --- Function length and flags ------------------------------------------------------------------------------

PRODUCTION_APPS = (
    "analytics",
    "common",
    "dom_project",
    "fulfillment",
    "inventory",
    "orders",
    "returns",
    "routing",
    "webhooks",
)
MAX_FUNCTION_LINES = 80
# Functions still longer than MAX_FUNCTION_LINES ("app::function", so a module split into a package keeps its
# entries), each with why it is not split yet. The list may only shrink: a function that is short now must
# leave it (the second test says so), and no new one may join.
LONG_FUNCTIONS: dict[str, str] = {}
# Public services that still take a boolean flag (issue 16 §3.3), same rules as above.
FLAG_PARAMETERS: dict[str, str] = {}
# Boolean parameters that are data, not flags: the value is stored as given and changes no code path.
BOOLEAN_DATA = {
    "routing::rule_add(enabled)": "the rule's own enabled field",
    "routing::rule_update(enabled)": "the rule's own enabled field",
    "routing::rule_enable(enabled)": "the rule's own enabled field",
    "webhooks::subscription_create(is_active)": "the subscription's own active field",
    "webhooks::subscription_active_set(is_active)": "the subscription's own active field",
}


def _production_modules():
    import ast

    for app in PRODUCTION_APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            rel = path.relative_to(ROOT)
            if {"tests", "migrations"} & set(rel.parts):
                continue
            yield app, rel, ast.parse(path.read_text(), filename=str(rel))


def _long_functions() -> dict[str, str]:
    import ast

    found = {}
    for app, rel, tree in _production_modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    found[f"{app}::{node.name}"] = f"{rel.as_posix()}:{node.lineno} ({lines} lines)"
    return found


def _flag_parameters() -> dict[str, str]:
    """Boolean parameters of the public functions of every app's services (module or package)."""
    import ast

    found = {}
    for app, rel, tree in _production_modules():
        if "services" not in {rel.stem, *rel.parts[:-1]}:
            continue
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
                for arg in node.args.args + node.args.kwonlyargs:
                    if arg.annotation is not None and ast.unparse(arg.annotation) == "bool":
                        found[f"{app}::{node.name}({arg.arg})"] = rel.as_posix()
    return found


def test_no_function_in_the_production_apps_is_longer_than_80_lines():
    new = {name: where for name, where in _long_functions().items() if name not in LONG_FUNCTIONS}
    assert not new, f"functions over {MAX_FUNCTION_LINES} lines (split them): {new}"


def test_the_long_function_allow_list_only_shrinks():
    stale = set(LONG_FUNCTIONS) - set(_long_functions())
    assert not stale, f"now short (or gone): remove from LONG_FUNCTIONS: {sorted(stale)}"


def test_public_services_take_no_boolean_flags():
    found = _flag_parameters()
    new = {name: where for name, where in found.items() if name not in FLAG_PARAMETERS | BOOLEAN_DATA}
    assert not new, f"boolean flags on public services (use a mode value or separate entry points): {new}"
    stale = set(FLAG_PARAMETERS | BOOLEAN_DATA) - set(found)
    assert not stale, f"flag gone: remove from FLAG_PARAMETERS: {sorted(stale)}"


def test_the_checks_see_what_they_look_for(tmp_path, monkeypatch):
    """The AST scans are not vacuous: a long function and a flagged service in a scratch app are found."""
    app = tmp_path / "scratch"
    app.mkdir()
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    (app / "services.py").write_text(f"def thing_do(*, force: bool = False) -> None:\n{body}\n")
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    monkeypatch.setitem(globals(), "PRODUCTION_APPS", ("scratch",))
    assert set(_long_functions()) == {"scratch::thing_do"}
    assert set(_flag_parameters()) == {"scratch::thing_do(force)"}
