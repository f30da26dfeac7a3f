"""The formula-safe CSV writer, and a scan that keeps it the only CSV writer of the product."""

import ast
import csv
import io
from decimal import Decimal
from pathlib import Path

import pytest
import tablib
from django.conf import settings
from hypothesis import given
from hypothesis import strategies as st

from common.csv import FORMULA_PREFIXES, csv_cell_safe, csv_response, csv_text, csv_writer
from common.csv_formats import SafeCSV

ROOT = Path(settings.BASE_DIR)
HOSTILE = ['=HYPERLINK("http://evil.example","x")', "+1", "-2+3", "@SUM(A1:A2)", "\tX", "\rX", "=1+1"]


def read(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


@pytest.mark.parametrize("value", HOSTILE)
def test_text_starting_with_a_formula_character_is_quoted(value):
    assert csv_cell_safe(value) == "'" + value
    assert read(csv_text(header=None, rows=[[value]])) == [["'" + value]]


@pytest.mark.parametrize("value", [-5, 0, 7, -1.5, 2.25, Decimal("-3.10"), Decimal("12.5000")])
def test_numbers_stay_numeric(value):
    assert csv_cell_safe(value) is value
    assert read(csv_text(header=None, rows=[[value]])) == [[str(value)]]


def test_plain_text_and_none():
    assert read(csv_text(header=["a", "b", "c"], rows=[["SKU-A", None, "a=b"]])) == [
        ["a", "b", "c"],
        ["SKU-A", "", "a=b"],
    ]


@given(st.lists(st.one_of(st.text(), st.integers(), st.decimals(allow_nan=False)), min_size=1, max_size=6))
def test_no_text_cell_read_back_starts_a_formula(row):
    out = io.StringIO()
    csv_writer(stream=out).writerow(row)
    cells = next(csv.reader(io.StringIO(out.getvalue(), newline="")))
    for original, cell in zip(row, cells, strict=True):
        if isinstance(original, str):
            assert not cell.startswith(FORMULA_PREFIXES)
            assert cell in (original, "'" + original)


def test_response_is_an_attachment():
    response = csv_response(filename="x.csv", header=["code"], rows=[["=1"]])
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == 'attachment; filename="x.csv"'
    assert read(response.content.decode()) == [["code"], ["'=1"]]


def test_admin_export_format_is_safe_and_the_only_one():
    assert [SafeCSV] == settings.EXPORT_FORMATS
    data = tablib.Dataset(["+1", '=HYPERLINK("x")', 5, -2], headers=["sku", "name", "qty", "delta"])
    assert read(SafeCSV().export_data(data)) == [
        ["sku", "name", "qty", "delta"],
        ["'+1", '\'=HYPERLINK("x")', "5", "-2"],
    ]


def _product_sources():
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if rel.parts[0].startswith(".") or rel.parts[0] in {"node_modules", "staticfiles", "media"}:
            continue
        if "tests" in rel.parts or "migrations" in rel.parts or rel.name == "conftest.py":
            continue
        yield rel, path


def _csv_writers(tree: ast.AST) -> list[int]:
    """Lines that build a CSV writer or answer text/csv by hand."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "csv":
            lines += [node.lineno for a in node.names if a.name in {"writer", "DictWriter"}]
        csv_module = isinstance(node, ast.Attribute) and node.attr in {"writer", "DictWriter"}
        if csv_module and isinstance(node.value, ast.Name) and node.value.id == "csv":
            lines.append(node.lineno)
        csv_type = isinstance(node, ast.keyword) and node.arg == "content_type"
        if csv_type and isinstance(node.value, ast.Constant) and str(node.value.value).startswith("text/csv"):
            lines.append(node.lineno)
        export = isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "export"
        if export and node.args and isinstance(node.args[0], ast.Constant) and node.args[0].value in {"csv", "tsv"}:
            lines.append(node.lineno)  # tablib Dataset.export("csv")
    return lines


def test_no_csv_writer_outside_common_csv():
    offenders = []
    for rel, path in _product_sources():
        if rel.as_posix() == "common/csv.py":
            continue
        offenders += [f"{rel}:{line}" for line in _csv_writers(ast.parse(path.read_text(), str(rel)))]
    assert not offenders, f"write CSV through common.csv (csv_writer/csv_response/csv_text): {offenders}"


def test_the_scan_catches_a_hand_made_writer():
    src = "import csv\nw = csv.writer(f)\nfrom csv import DictWriter\nHttpResponse(b, content_type='text/csv')\n"
    assert sorted(_csv_writers(ast.parse(src))) == [2, 3, 4]
