"""django-import-export's admin export format, made formula-safe by `common.csv` (settings: EXPORT_FORMATS)."""

from import_export.formats.base_formats import CSV

from common.csv import csv_row_safe


class SafeCSV(CSV):
    """django-import-export's CSV format with every exported cell made safe (admin "Export").

    The library's own `IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT` only strips a leading `=`; this applies
    the OWASP rule of `common.csv`. Settings make it the only export format (`EXPORT_FORMATS`)."""

    def export_data(self, dataset, **kwargs):
        safe = dataset.__class__(headers=csv_row_safe(dataset.headers or []) or None, title=dataset.title)
        for row in dataset:
            safe.append(csv_row_safe(row))
        return super().export_data(safe, **kwargs)
