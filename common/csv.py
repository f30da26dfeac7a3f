"""The one CSV writer of the product: every CSV it writes (downloads, e-mail attachments, admin exports) goes
through here, so a spreadsheet opening it never runs a formula a user typed.

The OWASP rule for CSV injection: a text cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return is
prefixed with a single quote, which spreadsheets show as text. Real numbers (int, float, Decimal) are written as
they are, so a negative quantity stays `-5`; pass numbers as numbers, not as formatted text. A test
(`common/tests/test_csv.py`) fails when code outside this module builds a `csv.writer` of its own.
"""

import csv
import io
from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.http import HttpResponse


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_cell_safe(value: Any) -> Any:
    """One cell made safe: numbers unchanged, None empty, text starting with a formula character quoted."""
    if value is None:
        return ""
    if isinstance(value, (int, float, Decimal)):  # bool is an int: written as True/False, never a formula
        return value
    text = str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def csv_row_safe(row: Iterable[Any]) -> list[Any]:
    """A row with every cell made safe."""
    return [csv_cell_safe(value) for value in row]


class SafeCsvWriter:
    """`csv.writer` with every cell made safe; the only one the product uses."""

    def __init__(self, *, stream, **fmtparams: Any) -> None:
        self._writer = csv.writer(stream, **fmtparams)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow(csv_row_safe(row))

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(*, stream, **fmtparams: Any) -> SafeCsvWriter:
    """A formula-safe writer over `stream` (a file, a StringIO or an HttpResponse)."""
    return SafeCsvWriter(stream=stream, **fmtparams)


def csv_text(*, header: Iterable[Any] | None, rows: Iterable[Iterable[Any]]) -> str:
    """A whole CSV document as text (for e-mail attachments and files)."""
    out = io.StringIO()
    writer = csv_writer(stream=out)
    if header is not None:
        writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def csv_response(*, filename: str, header: Iterable[Any] | None, rows: Iterable[Iterable[Any]]) -> "HttpResponse":
    """A CSV download (`attachment; filename=...`) written through the safe writer."""
    from django.http import HttpResponse  # here, so settings can import this module (admin export format)

    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv_writer(stream=response)
    if header is not None:
        writer.writerow(header)
    writer.writerows(rows)
    return response
