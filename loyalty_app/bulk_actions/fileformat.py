"""The bulk-award file: which CSV files are accepted and what each line must hold.

Pure functions, no database.

- UTF-8 text (a byte-order mark is fine), at most ``MAX_BYTES`` and ``MAX_LINES`` data
  lines; lines end with \\n, \\r\\n or a lone \\r. Blank lines are skipped.
- A header row first (a spreadsheet's ``sep=;`` line before it is understood). The
  delimiter is the header's: comma, semicolon or tab. Quoted values ("Smith, Jo") are
  read as CSV; a quoted value cannot span lines.
- Column names are matched ignoring case, spaces, dashes and underscores:
  ``email`` (``email_address``, ``customer_email``), ``customer_id`` (``id``,
  ``shopify_customer_id``), ``occurred_at`` (``date``, ``when``, ``attended_at``),
  ``event_key`` (``event_id``, ``key``), ``target`` and ``action``. A file needs
  ``email`` or ``customer_id``; the others are optional. Other columns are ignored.
- A line names its customer by customer id (digits, or ``gid://shopify/Customer/N``) or
  by email; with both, the customer id is used. ``occurred_at`` is an ISO 8601 date
  (``2026-05-17``: the start of that day) or date and time; without a UTC offset it is
  the shop's wall-clock time. ``action`` on a line overrides the action chosen for the
  upload.

What a line becomes (``Line``) is decided here; whether its action exists, its member is
known and its limit has room is the service's business.
"""

from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from loyalty_app.common.csvfiles import (
    CsvFile,
    FileError,
    customer_id_read,
    header_cells,
    line_blank,
    name_normalise,
)
from loyalty_app.common.csvfiles import file_read as csv_file_read

MAX_BYTES = 5 * 1024 * 1024
MAX_LINES = 50_000
MAX_EMAIL_LENGTH = 254
MAX_EVENT_KEY_LENGTH = 150  # the stored key adds a prefix; events allow 200
MAX_TARGET_LENGTH = 255
MAX_ACTION_LENGTH = 64
RAW_KEPT = 200

EMAIL, CUSTOMER_ID, OCCURRED_AT, EVENT_KEY, TARGET, ACTION = (
    "email",
    "customer_id",
    "occurred_at",
    "event_key",
    "target",
    "action",
)
ALIASES = {
    EMAIL: ("email", "emailaddress", "customeremail"),
    CUSTOMER_ID: ("customerid", "id", "shopifycustomerid", "shopifyid"),
    OCCURRED_AT: ("occurredat", "date", "when", "attendedat", "datetime"),
    EVENT_KEY: ("eventkey", "eventid", "key"),
    TARGET: ("target",),
    ACTION: ("action", "actionkey"),
}
_ROLE_OF = {alias: role for role, aliases in ALIASES.items() for alias in aliases}
_ACTION_KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class Columns:
    delimiter: str
    header: tuple[str, ...]
    index: dict[str, int]  # role -> column
    ignored: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {role: self.header[i] for role, i in self.index.items()} | {
            "ignored": list(self.ignored)
        }


@dataclass(frozen=True)
class Line:
    """One data line: its values cleaned, or ``error`` (column, reason) when a value is
    unusable. ``occurred_at`` is aware (UTC) or None (the moment it is awarded)."""

    line: int
    raw: str = field(repr=False)
    customer_id: str = ""
    email: str = ""
    occurred_at: datetime | None = None
    event_key: str = ""
    target: str = ""
    action: str = ""
    error: tuple[str, str] | None = None

    @property
    def who(self) -> str:
        return f"customer:{self.customer_id}" if self.customer_id else f"email:{self.email}"


# A file that passed the file-level checks (``csvfiles.CsvFile``).
BulkFile = CsvFile[Columns]


def file_read(content: bytes) -> BulkFile:
    """Check a file as a whole: size, encoding, header, line count. Raises FileError."""
    return csv_file_read(
        content, max_bytes=MAX_BYTES, max_lines=MAX_LINES, header_read=_header_read
    )


def _split(line: str, delimiter: str) -> list[str]:
    return next(csv.reader([line], delimiter=delimiter, quotechar='"', strict=True), [])


def _header_read(line: str, delimiter: str | None) -> Columns:
    delimiter, cells = header_cells(line, delimiter)
    header = tuple(cell.strip() for cell in cells)
    index: dict[str, int] = {}
    ignored = []
    for position, name in enumerate(header):
        role = _ROLE_OF.get(name_normalise(name))
        if role is None:
            ignored.append(name)
            continue
        if role in index:
            raise FileError("columns", f"two columns mean {role}: pick one")
        index[role] = position
    if EMAIL not in index and CUSTOMER_ID not in index:
        raise FileError(
            "columns",
            "a column 'email' or 'customer_id' is required; found: " + ", ".join(header),
        )
    return Columns(delimiter=delimiter, header=header, index=index, ignored=tuple(ignored))


def file_lines(bulk: BulkFile, *, zone: ZoneInfo) -> list[Line]:
    """Every data line, cleaned, in file order (blank lines left out)."""
    out = []
    for offset, text in enumerate(bulk.lines):
        if line_blank(text, bulk.columns.delimiter):
            continue
        out.append(line_read(text, line=bulk.first_line + offset, columns=bulk.columns, zone=zone))
    return out


def _bad(line: int, raw: str, column: str, reason: str) -> Line:
    return Line(line=line, raw=raw[:RAW_KEPT], error=(column, reason))


def line_read(text: str, *, line: int, columns: Columns, zone: ZoneInfo) -> Line:
    raw = text[:RAW_KEPT]
    try:
        cells = _split(text, columns.delimiter)
    except csv.Error as exc:
        return _bad(line, raw, "line", f"cannot be read as CSV ({exc})")

    def cell(role: str) -> str:
        position = columns.index.get(role)
        if position is None or position >= len(cells):
            return ""
        return cells[position].strip()

    customer_id = ""
    raw_id = cell(CUSTOMER_ID)
    if raw_id:
        customer_id, problem = customer_id_read(raw_id)
        if problem:
            return _bad(line, raw, CUSTOMER_ID, problem)
    email = cell(EMAIL).lower()
    if email:
        try:
            if len(email) > MAX_EMAIL_LENGTH:
                raise ValidationError("too long")
            validate_email(email)
        except ValidationError:
            if not customer_id:
                return _bad(line, raw, EMAIL, "is not a valid email address")
            email = ""
    if not customer_id and not email:
        return _bad(line, raw, EMAIL, "an email or a customer id is required")
    occurred_at = None
    when = cell(OCCURRED_AT)
    if when:
        occurred_at = _moment(when, zone)
        if occurred_at is None:
            return _bad(line, raw, OCCURRED_AT, "is not a date or date and time (2026-05-17)")
    event_key = cell(EVENT_KEY)
    if len(event_key) > MAX_EVENT_KEY_LENGTH or "\x00" in event_key:
        return _bad(line, raw, EVENT_KEY, f"must be at most {MAX_EVENT_KEY_LENGTH} characters")
    target = cell(TARGET).lower()
    if len(target) > MAX_TARGET_LENGTH or "\x00" in target:
        return _bad(line, raw, TARGET, f"must be at most {MAX_TARGET_LENGTH} characters")
    action = cell(ACTION).lower()
    if action and not _ACTION_KEY.match(action):
        return _bad(line, raw, ACTION, "is not an action key")
    return Line(
        line=line,
        raw=raw,
        customer_id=customer_id,
        email=email,
        occurred_at=occurred_at,
        event_key=event_key,
        target=target,
        action=action,
    )


def _moment(text: str, zone: ZoneInfo) -> datetime | None:
    """An ISO 8601 date or date-time; a date is the start of that day, a time without an
    offset is the shop's wall-clock time."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day, time(0), tzinfo=zone)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def line_event_key(row: Line, *, action: str, file_sha256: str) -> str:
    """The event key a line is recorded under: ``bulk:<the line's event_key>`` when it has
    one; otherwise derived from what the line says (action, customer, time, target), so
    the same line uploaded again is the same event. A line without a time is tied to its
    file as well: the same file again is recognised, while next month's list (another
    file) is a new event for the same people."""
    if row.event_key:
        return f"bulk:{row.event_key}"
    when = row.occurred_at.isoformat() if row.occurred_at else f"file:{file_sha256}"
    digest = hashlib.sha256(f"{action}|{row.who}|{when}|{row.target}".encode()).hexdigest()
    return f"bulk:h:{digest[:48]}"
