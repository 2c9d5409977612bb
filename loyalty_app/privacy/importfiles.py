"""A customer in stored balance-import files: find their lines, blank them out.

Pure functions over the stored bytes (no database). A line is about the customer when
its customer-id cell is their id (plain digits or a ``gid://shopify/Customer/N``) or
its email cell is their email (case ignored); a line the importer rejected is matched
on its raw text, since its cells may not read.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from typing import Any

from loyalty_app.imports.fileformat import FileError, Rejection, Row, file_read, file_rows

_BOM = b"\xef\xbb\xbf"
_GID = re.compile(r"gid://shopify/Customer/(\d+)", re.IGNORECASE)


@dataclass(frozen=True)
class Subject:
    """Whom to look for: customer ids (digits, no leading zeros) and lower-case emails."""

    customer_ids: frozenset[str]
    emails: frozenset[str]

    @classmethod
    def of(cls, *, customer_ids: set[str], emails: set[str]) -> Subject:
        return cls(
            customer_ids=frozenset(str(int(c)) for c in customer_ids if c.strip().isdigit()),
            emails=frozenset(e.strip().lower() for e in emails if e.strip()),
        )

    def __bool__(self) -> bool:
        return bool(self.customer_ids or self.emails)

    def cell_matches(self, value: str) -> bool:
        value = value.strip()
        if not value:
            return False
        if value.lower() in self.emails:
            return True
        gid = _GID.fullmatch(value)
        digits = gid.group(1) if gid else value
        return digits.isdigit() and str(int(digits)) in self.customer_ids

    def text_mentions(self, text: str) -> bool:
        lowered = text.lower()
        if any(email in lowered for email in self.emails):
            return True
        return any(re.search(rf"(?<!\d){re.escape(cid)}(?!\d)", text) for cid in self.customer_ids)


def import_lines_about(content: bytes, subject: Subject) -> list[dict[str, Any]]:
    """The file's lines about the subject: what each said, or why it was rejected."""
    if not subject:
        return []
    try:
        parsed = file_read(content)
    except FileError:
        return []
    found: list[dict[str, Any]] = []
    for item in file_rows(parsed):
        if isinstance(item, Row):
            if (item.customer_id and item.customer_id in subject.customer_ids) or (
                item.email and item.email.lower() in subject.emails
            ):
                found.append(
                    {
                        "line": item.line,
                        "customer_id": item.customer_id,
                        "email": item.email,
                        "points": item.points,
                        "tier": item.tier,
                    }
                )
        elif isinstance(item, Rejection) and subject.text_mentions(item.raw):
            found.append({"line": item.line, "rejected": item.reason, "raw": item.raw})
    return found


def _line_blank(line: str, delimiter: str, subject: Subject, identity: frozenset[int]) -> str:
    """The line with its identity cells (customer id and email: on a line about the
    subject, both are theirs) and every cell naming the subject emptied; the rest kept."""
    cells = next(csv.reader([line], delimiter=delimiter), [])
    if not any(subject.cell_matches(cell) for cell in cells):
        # Unreadable, or the mention is not a whole cell: nothing of the line is kept. A
        # placeholder, not an empty line: a blank line would change the file's line count.
        return "redacted"
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="").writerow(
        "" if index in identity or subject.cell_matches(cell) else cell
        for index, cell in enumerate(cells)
    )
    return out.getvalue()


def import_content_scrub(content: bytes, subject: Subject) -> tuple[bytes, list[int]]:
    """The file with the subject's lines blanked, and those lines' numbers.

    Line count and order are kept, so a job's cursor and counters still describe the
    file; a blanked line names nobody, so were the job ever run again it could only be
    rejected, never import a balance for anyone.
    """
    if not subject:
        return content, []
    try:
        parsed = file_read(content)
    except FileError:
        return content, []
    delimiter = parsed.columns.delimiter
    identity = frozenset(
        i for i in (parsed.columns.customer_id, parsed.columns.email) if i is not None
    )
    hit: set[int] = set()
    for item in file_rows(parsed):
        if isinstance(item, Row):
            if (item.customer_id and item.customer_id in subject.customer_ids) or (
                item.email and item.email.lower() in subject.emails
            ):
                hit.add(item.line)
        elif subject.text_mentions(item.raw):
            hit.add(item.line)
    if not hit:
        return content, []
    text = content.decode("utf-8-sig")
    if "\n" not in text and "\r" in text:
        separator, lines = "\r", text.split("\r")
    else:
        separator = "\n"
        lines = text.split("\n")
    for number in hit:
        index = number - 1
        ending = "\r" if lines[index].endswith("\r") else ""
        body = lines[index][:-1] if ending else lines[index]
        lines[index] = _line_blank(body, delimiter, subject, identity) + ending
    scrubbed = separator.join(lines).encode()
    if content.startswith(_BOM):
        scrubbed = _BOM + scrubbed
    return scrubbed, sorted(hit)
