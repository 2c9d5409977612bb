"""The balance-import file: what a usable file is and what each line must hold.

Pure functions, no database: the service feeds them the stored bytes.

The format, as merchants get it from other loyalty apps' exports:

- UTF-8 text (a byte-order mark is fine), at most ``MAX_BYTES`` and ``MAX_LINES`` data
  lines. One record per physical line: a quoted value cannot span lines, so a stray
  quote spoils only its own line, never the rest of the file.
- A header row first (a spreadsheet's ``sep=;`` line before it is understood). The
  delimiter is the header's: comma, semicolon or tab. Column names are matched
  case-insensitively and ignoring spaces, dashes and underscores:
  ``email`` (``email_address``, ``customer_email``), ``customer_id`` (``id``,
  ``shopify_customer_id``), ``points`` (``balance``, ``points_balance``) and an optional
  ``tier`` (``vip_tier``, ``tier_name``). Other columns are ignored and reported.
- Each line names its customer by customer id (digits, or ``gid://shopify/Customer/N``)
  or by email, or both, and gives a whole, non-negative number of points up to
  ``MAX_POINTS``. A tier is at most ``MAX_TIER_LENGTH`` characters; when the file has a
  tier column, a blank cell means "no tier".
- A customer (same id, or same email ignoring case) may appear once: later lines for
  them are rejected, because which of two balances is right is the merchant's call.
- Blank lines are skipped and not counted.

A file that breaks a file-level rule raises ``FileError`` naming ``file`` or
``columns``; a bad line becomes a ``Rejection`` naming its column, and the rest of the
file carries on.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

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

MAX_BYTES = 20 * 1024 * 1024
MAX_LINES = 1_000_000
MAX_POINTS = 1_000_000_000
MAX_TIER_LENGTH = 100
MAX_EMAIL_LENGTH = 254
MAX_LINE_LENGTH = 10_000
RAW_KEPT = 200  # characters of a rejected line kept in the report

EMAIL, CUSTOMER_ID, POINTS, TIER = "email", "customer_id", "points", "tier"
ALIASES = {
    EMAIL: ("email", "emailaddress", "customeremail"),
    CUSTOMER_ID: ("customerid", "id", "shopifycustomerid", "shopifyid"),
    POINTS: ("points", "balance", "pointsbalance", "pointbalance"),
    TIER: ("tier", "viptier", "tiername", "loyaltytier"),
}
_ROLE_OF = {alias: role for role, aliases in ALIASES.items() for alias in aliases}
_SIGNED_INT = re.compile(r"[+-]?\d+")
_DECIMAL = re.compile(r"[+-]?\d*[.,]\d+")
_SCIENTIFIC = re.compile(r"[+-]?\d+(?:[.,]\d+)?[eE][+-]?\d+")


@dataclass(frozen=True)
class Columns:
    """Where each known column is (0-based), the delimiter, and the header as given."""

    delimiter: str
    header: tuple[str, ...]
    points: int
    email: int | None = None
    customer_id: int | None = None
    tier: int | None = None
    ignored: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {
            role: self.header[index]
            for role, index in (
                (CUSTOMER_ID, self.customer_id),
                (EMAIL, self.email),
                (POINTS, self.points),
                (TIER, self.tier),
            )
            if index is not None
        } | {"ignored": list(self.ignored)}


@dataclass(frozen=True, slots=True)
class Row:
    """A valid line. ``tier`` is None when the file has no tier column (leave the
    member's tier alone) and "" when its cell is blank (no tier)."""

    line: int
    customer_id: str
    email: str
    points: int
    tier: str | None
    raw: str = field(default="", repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Rejection:
    line: int
    column: str
    reason: str
    raw: str

    def as_dict(self) -> dict[str, object]:
        return {"line": self.line, "column": self.column, "reason": self.reason, "raw": self.raw}


# A file that passed the file-level checks (``csvfiles.CsvFile``).
ImportFile = CsvFile[Columns]


def file_read(content: bytes) -> ImportFile:
    """Check a file as a whole: size, encoding, header, line count. Raises FileError."""
    return csv_file_read(
        content, max_bytes=MAX_BYTES, max_lines=MAX_LINES, header_read=_header_read
    )


def _header_read(line: str, delimiter: str | None) -> Columns:
    delimiter, cells = header_cells(line, delimiter)
    header = [name.strip().lstrip("\ufeff") for name in cells]
    found: dict[str, int] = {}
    ignored = []
    for index, name in enumerate(header):
        role = _ROLE_OF.get(name_normalise(name))
        if role is None:
            if name:
                ignored.append(name)
            continue
        if role in found:
            raise FileError(
                "columns",
                f"'{header[found[role]]}' and '{name}' both give the {role}; keep one",
            )
        found[role] = index
    shown = ", ".join(repr(name) for name in header if name)[:300] or "nothing"
    if EMAIL not in found and CUSTOMER_ID not in found:
        raise FileError(
            "columns", f"needs an 'email' or a 'customer_id' column (the header has {shown})"
        )
    if POINTS not in found:
        raise FileError(
            "columns", f"needs a 'points' (or 'balance') column (the header has {shown})"
        )
    return Columns(
        delimiter=delimiter,
        header=tuple(header),
        points=found[POINTS],
        email=found.get(EMAIL),
        customer_id=found.get(CUSTOMER_ID),
        tier=found.get(TIER),
        ignored=tuple(ignored),
    )


def file_rows(parsed: ImportFile) -> Iterator[Row | Rejection]:
    """Every non-blank line in order, as a Row or a Rejection.

    Deterministic for a given file, so a job that resumes reads the same results (a
    later duplicate is rejected the same way each time).
    """
    columns = parsed.columns
    seen_ids: dict[str, int] = {}
    seen_emails: dict[str, int] = {}
    for offset, line in enumerate(parsed.lines):
        if line_blank(line, columns.delimiter):
            continue
        number = parsed.first_line + offset
        result = line_read(line, number, columns)
        if isinstance(result, Row):
            duplicate = _duplicate(result, line, seen_ids, seen_emails)
            if duplicate is not None:
                yield duplicate
                continue
            if result.customer_id:
                seen_ids[result.customer_id] = number
            if result.email:
                seen_emails[result.email.lower()] = number
        yield result


def _duplicate(
    row: Row, raw: str, seen_ids: dict[str, int], seen_emails: dict[str, int]
) -> Rejection | None:
    if row.customer_id and row.customer_id in seen_ids:
        first = seen_ids[row.customer_id]
        return _reject(
            row.line, CUSTOMER_ID, f"customer {row.customer_id} is already on line {first}", raw
        )
    if row.email and row.email.lower() in seen_emails:
        first = seen_emails[row.email.lower()]
        return _reject(row.line, EMAIL, f"{row.email} is already on line {first}", raw)
    return None


def _reject(line: int, column: str, message: str, raw: str) -> Rejection:
    return Rejection(line=line, column=column, reason=f"{column}: {message}", raw=raw[:RAW_KEPT])


def line_read(line: str, number: int, columns: Columns) -> Row | Rejection:
    """Validate one line. The first problem found is the reason, naming its column."""

    def reject(column: str, message: str) -> Rejection:
        return _reject(number, column, message, line)

    if "\x00" in line:
        return reject("line", "contains a NUL character")
    if len(line) > MAX_LINE_LENGTH:
        return reject("line", f"is longer than {MAX_LINE_LENGTH:,} characters")
    if '"' not in line:  # most lines: without quotes a split is what the csv module does
        values = line.split(columns.delimiter)
    else:
        try:
            values = next(csv.reader([line], delimiter=columns.delimiter, strict=True))
        except csv.Error as exc:
            return reject("line", f"cannot be read as CSV ({exc}); check its quotes")
    if len(values) > len(columns.header) and any(v.strip() for v in values[len(columns.header) :]):
        return reject(
            "line",
            f"has {len(values)} values but the header has {len(columns.header)} columns "
            "(an unquoted delimiter inside a value?)",
        )

    def cell(index: int | None) -> str:
        return values[index].strip() if index is not None and index < len(values) else ""

    customer_id = ""
    raw_id = cell(columns.customer_id)
    if raw_id:
        customer_id, problem = customer_id_read(raw_id)
        if problem:
            return reject(CUSTOMER_ID, problem)

    email = cell(columns.email)
    if email:
        if len(email) > MAX_EMAIL_LENGTH:
            return reject(EMAIL, f"longer than {MAX_EMAIL_LENGTH} characters")
        try:
            validate_email(email)
        except ValidationError:
            return reject(EMAIL, f"{email[:60]!r} is not a valid email address")

    if not customer_id and not email:
        which = " or ".join(
            name
            for name, index in ((CUSTOMER_ID, columns.customer_id), (EMAIL, columns.email))
            if index is not None
        )
        column = CUSTOMER_ID if columns.customer_id is not None else EMAIL
        return reject(column, f"missing: each line needs a {which}")

    raw_points = cell(columns.points)
    if not raw_points:
        return reject(POINTS, "missing")
    if not _SIGNED_INT.fullmatch(raw_points):
        if _DECIMAL.fullmatch(raw_points) or _SCIENTIFIC.fullmatch(raw_points):
            return reject(POINTS, f"must be a whole number (got {raw_points[:40]})")
        return reject(POINTS, f"must be a whole number (got {raw_points[:40]!r})")
    if raw_points.startswith("-") and raw_points.strip("-0"):
        return reject(POINTS, f"must not be negative (got {raw_points[:40]})")
    digits = raw_points.lstrip("+-").lstrip("0")
    if len(digits) > len(str(MAX_POINTS)) or int(digits or "0") > MAX_POINTS:
        return reject(POINTS, f"at most {MAX_POINTS:,} (got {raw_points[:40]})")
    points = int(digits or "0")

    tier: str | None = None
    if columns.tier is not None:
        tier = cell(columns.tier)
        if len(tier) > MAX_TIER_LENGTH:
            return reject(TIER, f"longer than {MAX_TIER_LENGTH} characters")
    return Row(
        line=number,
        customer_id=customer_id,
        email=email,
        points=points,
        tier=tier,
        raw=line[:RAW_KEPT],
    )
