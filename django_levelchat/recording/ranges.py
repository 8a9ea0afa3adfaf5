"""Stream a stored file with HTTP range requests (RFC 9110 §14), so a browser ``<video>`` can seek.

One range per request (a multi-range request gets the whole file, which RFC 9110 allows). A range that does not
fit the file is a 416 with ``Content-Range: bytes */<size>``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO

from django.core.files.storage import Storage
from django.http import HttpResponse, StreamingHttpResponse

CHUNK = 64 * 1024
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class Unsatisfiable(Exception):
    pass


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(first, last)`` inclusive for one satisfiable byte range; None = send everything; else ``Unsatisfiable``."""
    if not header:
        return None
    header = header.strip()
    if not header.lower().startswith("bytes=") or "," in header:
        return None  # another unit, or several ranges: the whole file
    match = _RANGE.match(header.replace(" ", "").lower())
    if match is None:
        raise Unsatisfiable(header)
    first_s, last_s = match.groups()
    if first_s == "":
        if last_s == "" or int(last_s) == 0:
            raise Unsatisfiable(header)
        suffix = min(int(last_s), size)
        return size - suffix, size - 1
    first = int(first_s)
    last = min(int(last_s), size - 1) if last_s else size - 1
    if first >= size or (last_s and int(last_s) < first):
        raise Unsatisfiable(header)
    return first, last


def _chunks(handle: IO[bytes], first: int, length: int) -> Iterator[bytes]:
    try:
        handle.seek(first)
        remaining = length
        while remaining > 0:
            data = handle.read(min(CHUNK, remaining))
            if not data:
                break
            remaining -= len(data)
            yield data
    finally:
        handle.close()


def ranged_file_response(
    storage: Storage, name: str, *, range_header: str | None, content_type: str, filename: str
) -> HttpResponse:
    """200 with the whole file, 206 with one range, or 416; ``Accept-Ranges: bytes`` on all of them."""
    size = storage.size(name)
    try:
        span = parse_range(range_header, size)
    except Unsatisfiable:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        response["Accept-Ranges"] = "bytes"
        return response
    first, last = span if span is not None else (0, size - 1)
    length = max(last - first + 1, 0)
    response = StreamingHttpResponse(_chunks(storage.open(name, "rb"), first, length), content_type=content_type)
    if span is not None:
        response.status_code = 206
        response["Content-Range"] = f"bytes {first}-{last}/{size}"
    response["Content-Length"] = str(length)
    response["Accept-Ranges"] = "bytes"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
