"""A customer in stored bulk-award files (``bulk_actions``): find their lines, blank them.

Pure functions over the stored bytes (no database), the counterpart of ``importfiles`` for
the other kind of file a merchant uploads. A line is about the customer when its
customer-id cell is their id or its email cell is their email (case ignored); a line the
reader cannot use is matched on its raw text.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from loyalty_app.bulk_actions.fileformat import FileError, file_lines, file_read

from .importfiles import Subject, _line_blank

_UTC = ZoneInfo("UTC")
# What a blanked line says when nothing of it may stay: not an empty line, which the
# reader skips (the file's line numbers, and the award's cursor, must not move).
_PLACEHOLDER = "redacted"


def _hits(content: bytes, subject: Subject) -> dict[int, str]:
    """Line number -> raw text of the lines about the subject."""
    if not subject:
        return {}
    try:
        parsed = file_read(content)
    except FileError:
        return {}
    hits = {}
    # Dates are not needed to find a person; UTC keeps the reading independent of the shop.
    for line in file_lines(parsed, zone=_UTC):
        if line.error is None:
            if (line.customer_id and line.customer_id in subject.customer_ids) or (
                line.email and line.email in subject.emails
            ):
                hits[line.line] = line.raw
        elif subject.text_mentions(line.raw):
            hits[line.line] = line.raw
    return hits


def bulk_lines_about(content: bytes, subject: Subject) -> list[dict[str, Any]]:
    """The file's lines about the subject, as uploaded (``line`` is the file's line)."""
    return [{"line": n, "text": raw} for n, raw in sorted(_hits(content, subject).items())]


def bulk_content_scrub(content: bytes, subject: Subject) -> tuple[bytes, list[int]]:
    """The file with the subject's lines blanked, and those lines' numbers.

    Line count and order are kept, so an upload's cursors and counters still describe the
    file; a blanked line names nobody, so an award still to run can only reject it.
    """
    hits = _hits(content, subject)
    if not hits:
        return content, []
    delimiter = file_read(content).columns.delimiter
    text = content.decode("utf-8-sig")
    newline = "\r" if "\n" not in text and "\r" in text else "\n"
    lines = text.split(newline)
    for number in hits:
        index = number - 1
        carriage = lines[index].endswith("\r")
        body = lines[index][:-1] if carriage else lines[index]
        blanked = _line_blank(body, delimiter, subject, frozenset())
        if not blanked.replace(delimiter, "").replace('"', "").strip():
            blanked = _PLACEHOLDER
        lines[index] = blanked + ("\r" if carriage else "")
    bom = b"\xef\xbb\xbf" if content.startswith(b"\xef\xbb\xbf") else b""
    return bom + newline.join(lines).encode("utf-8"), sorted(hits)


def bulk_issues_scrub(issues: list[dict[str, Any]], hit: list[int], subject: Subject) -> list:
    """An upload's kept issues with the subject's lines' raw text removed."""
    lines = set(hit)
    out = []
    for item in issues:
        if item.get("line") in lines or subject.text_mentions(str(item.get("raw", ""))):
            item = {**item, "raw": "", "reason": f"{item.get('column') or 'line'}: redacted"}
        out.append(item)
    return out
