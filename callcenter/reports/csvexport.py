"""CSV export that spreadsheet programs cannot turn into formulas.

A text cell starting with ``= + - @``, tab or CR is prefixed with ``'`` (the
OWASP rule), so a work-order summary like ``=HYPERLINK(...)`` stays text.
Numbers are written as numbers.  UTF-8 with a BOM so Excel shows Chinese.
"""
from __future__ import annotations

import csv
import io

DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value) -> str | int | float:
    if value is None:
        return ""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return round(value, 4) if isinstance(value, float) else value
    text = str(value)
    return "'" + text if text.startswith(DANGEROUS) else text


def to_csv(header: list[str], rows: list[list]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def csv_download(request, name: str, header: list[str], rows: list[list]) -> bytes:
    """Answer ``request`` with ``rows`` as the CSV file ``name`` (a download, never cached)."""
    from urllib.parse import quote

    request.setHeader(b"Content-Type", b"text/csv; charset=utf-8")
    request.setHeader(b"Content-Disposition",
                      f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(name)}".encode("ascii"))
    request.setHeader(b"Cache-Control", b"no-store")
    request.setHeader(b"X-Content-Type-Options", b"nosniff")
    return to_csv(header, rows)
