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
