"""What every CSV file merchants upload has in common, before its columns mean anything.

Pure functions, no database. The balance import (``imports.fileformat``) and the bulk
award (``bulk_actions.fileformat``) read their files through these, so both accept the
same files as text:

- UTF-8 (a byte-order mark is fine), at most the caller's number of bytes;
- one record per physical line, ended by \\n, \\r\\n or (old spreadsheets) a lone \\r: a
  quoted value cannot span lines, so a stray quote spoils only its own line;
- leading blank lines skipped; a spreadsheet's ``sep=;`` line names the delimiter,
  otherwise the header's most frequent comma, semicolon or tab does (comma when none);
- a line of nothing but delimiters and spaces is blank: skipped and not counted.

What the columns are called and what a line must hold is each file format's business.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

DELIMITERS = (",", ";", "\t")
MAX_CUSTOMER_ID_DIGITS = 19  # Shopify's ids are 64-bit integers
_GID = re.compile(r"gid://shopify/Customer/(\d+)", re.IGNORECASE)
_DIGITS = re.compile(r"\d+")
_SCIENTIFIC = re.compile(r"[+-]?\d+(?:[.,]\d+)?[eE][+-]?\d+")


class FileError(Exception):
    """The file as a whole cannot be used. ``field`` is ``file`` or ``columns``;
    ``too_large`` marks a size limit (HTTP 413 rather than 400, where the API says so)."""

    def __init__(self, field: str, message: str, *, too_large: bool = False) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.too_large = too_large


class _Columns(Protocol):
    @property
    def delimiter(self) -> str: ...


C = TypeVar("C", bound=_Columns)


@dataclass(frozen=True)
class CsvFile(Generic[C]):
    """A file that passed the file-level checks, with its format's ``columns``.
    ``lines`` are the physical lines after the header; ``first_line`` is the file line
    number of ``lines[0]``; ``data_lines`` counts the non-blank ones."""

    columns: C
    lines: list[str] = field(repr=False)
    first_line: int
    data_lines: int
    sha256: str


def file_read(
    content: bytes,
    *,
    max_bytes: int,
    max_lines: int,
    header_read: Callable[[str, str | None], C],
) -> CsvFile[C]:
    """Check a file as a whole: size, encoding, header (``header_read(line, delimiter
    or None)`` reads it into the format's columns), line count. Raises FileError."""
    text = text_read(content, max_bytes=max_bytes)
    columns = header_read(text.lines[text.header], text.delimiter)
    body = text.lines[text.header + 1 :]
    return CsvFile(
        columns=columns,
        lines=body,
        first_line=text.header + 2,
        data_lines=data_lines_count(body, delimiter=columns.delimiter, max_lines=max_lines),
        sha256=hashlib.sha256(content).hexdigest(),
    )


@dataclass(frozen=True)
class CsvText:
    """A decoded file's physical lines. ``header`` is the index of the header row in
    ``lines``; ``delimiter`` is the one a ``sep=`` line named, or None (guess it from
    the header)."""

    lines: list[str] = field(repr=False)
    header: int
    delimiter: str | None


def text_read(content: bytes, *, max_bytes: int) -> CsvText:
    """Check size and encoding, split the lines and find the header row.
    Raises FileError (``file``)."""
    if len(content) > max_bytes:
        raise FileError(
            "file", f"is larger than {max_bytes // (1024 * 1024)} MB; split it", too_large=True
        )
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileError(
            "file",
            f"is not UTF-8 text (byte {exc.start} is not); export it as 'CSV UTF-8'",
        ) from exc
    lines = lines_split(text)
    start = 0
    while start < len(lines) and not lines[start].strip():
        start += 1
    if start == len(lines):
        raise FileError("file", "is empty")
    delimiter = None
    first = lines[start].strip()
    if first.lower().startswith("sep=") and len(first) == 5:
        delimiter = first[4]
        start += 1
        if start == len(lines):
            raise FileError("file", "has no header row")
    return CsvText(lines=lines, header=start, delimiter=delimiter)


def lines_split(text: str) -> list[str]:
    """Physical lines: \\n, \\r\\n or (old spreadsheets) a lone \\r ends one. Not
    ``str.splitlines``, which also breaks at form feeds and Unicode separators that
    may sit inside a value."""
    if "\n" not in text and "\r" in text:
        return text.split("\r")
    lines = text.split("\n")
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def header_cells(line: str, delimiter: str | None) -> tuple[str, list[str]]:
    """The header's delimiter (``delimiter``, or the most frequent of ``DELIMITERS``)
    and its cells as written. Raises FileError (``columns``) for a line the csv module
    cannot read."""
    if delimiter is None:
        counts = {d: line.count(d) for d in DELIMITERS}
        delimiter = max(DELIMITERS, key=lambda d: counts[d]) if any(counts.values()) else ","
    try:
        cells = next(csv.reader([line], delimiter=delimiter, strict=True), [])
    except csv.Error as exc:
        raise FileError("columns", f"the header row cannot be read ({exc})") from exc
    return delimiter, cells


def line_blank(line: str, delimiter: str) -> bool:
    """True for a line of nothing but delimiters and white space."""
    return not line.replace(delimiter, "").strip()


def data_lines_count(body: list[str], *, delimiter: str, max_lines: int) -> int:
    """The non-blank lines after the header. Raises FileError (``file``) for none, or
    for more than ``max_lines``."""
    count = sum(1 for line in body if not line_blank(line, delimiter))
    if count == 0:
        raise FileError("file", "has a header but no lines")
    if count > max_lines:
        raise FileError("file", f"has more than {max_lines:,} lines; split it", too_large=True)
    return count


def name_normalise(name: str) -> str:
    """A column name as matched against aliases: lower case, letters and digits only."""
    return "".join(ch for ch in name.lower() if ch.isalnum())


def customer_id_read(raw: str) -> tuple[str, str]:
    """A customer id cell (plain digits or ``gid://shopify/Customer/N``) as
    ``(id without leading zeros, "")``, or ``("", why it is not one)``."""
    gid = _GID.fullmatch(raw)
    digits = gid.group(1) if gid else raw
    if _SCIENTIFIC.fullmatch(raw):
        return "", (
            f"{raw} is a rounded number (a spreadsheet's scientific notation); "
            "export the column as text"
        )
    if not _DIGITS.fullmatch(digits):
        return "", f"{raw[:40]!r} is not a customer id (digits, or gid://shopify/Customer/N)"
    if len(digits.lstrip("0")) > MAX_CUSTOMER_ID_DIGITS:
        return "", f"{raw[:40]} is too long for a customer id"
    customer_id = str(int(digits))
    if customer_id == "0":
        return "", "0 is not a customer id"
    return customer_id, ""
