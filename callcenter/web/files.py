"""Serving a stored file with HTTP byte ranges (RFC 9110 §14): recordings and attachments.

Browsers' ``<audio>`` asks for ``Range: bytes=N-`` to seek; one range is
answered 206 with ``Content-Range``, an unsatisfiable one 416, anything we do
not understand (several ranges, other units) with the whole file, as the RFC
allows.  The caller has already decided the user may read the file.
"""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
MAX_CHUNK = 16 * 1024 * 1024  # one answer carries at most this much; the browser asks for the rest


def parse_range(header: str | None, size: int) -> tuple[int, int] | None | str:
    """``(first, last)`` inclusive for one satisfiable range, None for "send it all", "unsatisfiable"."""
    if not header:
        return None
    m = _RANGE.match(header.strip())
    if m is None:
        return None
    first, last = m.groups()
    if first == "" and last == "":
        return None
    if first == "":  # the last N bytes
        n = int(last)
        if n == 0 or size == 0:
            return "unsatisfiable"
        return max(size - n, 0), size - 1
    start = int(first)
    if start >= size:
        return "unsatisfiable"
    end = min(int(last), size - 1) if last else size - 1
    if end < start:
        return None
    return start, end


def read_part(path: Path, first: int, length: int) -> bytes:
    with path.open("rb") as f:
        f.seek(first)
        return f.read(length)


async def send_file(request, deps, path: Path, media_type: str, *, filename: str | None = None,
                    inline: bool = True) -> bytes:
    """Answer ``request`` with the file (or the asked-for range of it), reading in the thread pool."""
    size = path.stat().st_size
    wanted = parse_range((request.getHeader(b"range") or b"").decode("latin-1"), size)
    request.setHeader(b"Accept-Ranges", b"bytes")
    request.setHeader(b"Content-Type", media_type.encode("ascii"))
    request.setHeader(b"Cache-Control", b"private, no-store")
    if filename:
        disposition = "inline" if inline else "attachment"
        request.setHeader(b"Content-Disposition",
                          f"{disposition}; filename*=UTF-8''{quote(filename, safe='')}".encode("ascii"))
    if wanted == "unsatisfiable":
        request.setResponseCode(416)
        request.setHeader(b"Content-Range", f"bytes */{size}".encode("ascii"))
        return b""
    if wanted is None:
        first, last = 0, size - 1
        if size > MAX_CHUNK:  # a whole answer would be too big: hand out the first part as a range
            wanted = (0, MAX_CHUNK - 1)
            last = MAX_CHUNK - 1
    else:
        first, last = wanted
        last = min(last, first + MAX_CHUNK - 1)
    body = await deps.db(read_part, path, first, last - first + 1) if size else b""
    if wanted is not None:
        request.setResponseCode(206)
        request.setHeader(b"Content-Range", f"bytes {first}-{first + len(body) - 1}/{size}".encode("ascii"))
    request.setHeader(b"Content-Length", str(len(body)).encode("ascii"))
    return body
