"""The CSV reading that balance imports and bulk awards share (pure, no database)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from loyalty_app.common.csvfiles import (
    FileError,
    file_read,
    header_cells,
    line_blank,
    lines_split,
    name_normalise,
    text_read,
)


@dataclass(frozen=True)
class _Columns:
    delimiter: str
    names: tuple[str, ...]


def _header(line: str, delimiter: str | None) -> _Columns:
    found, cells = header_cells(line, delimiter)
    return _Columns(delimiter=found, names=tuple(cells))


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        ("a\nb\n", ["a", "b", ""]),
        ("a\r\nb\r\n", ["a", "b", ""]),
        ("a\rb\r", ["a", "b", ""]),
        ("a\x0cb\nc", ["a\x0cb", "c"]),  # a form feed inside a value is no line end
        ("a\r\nb\nc", ["a", "b", "c"]),
    ],
)
def test_lines_end_at_lf_crlf_or_a_lone_cr_only(text, lines):
    assert lines_split(text) == lines


@pytest.mark.parametrize(
    ("line", "delimiter", "cells"),
    [
        ("email,points", ",", ["email", "points"]),
        ("email;points;tier", ";", ["email", "points", "tier"]),
        ("email\tpoints", "\t", ["email", "points"]),
        ('"a,b";c;d', ";", ["a,b", "c", "d"]),
        ("email", ",", ["email"]),
    ],
)
def test_the_header_names_its_delimiter_by_its_most_frequent_candidate(line, delimiter, cells):
    assert header_cells(line, None) == (delimiter, cells)


def test_a_sep_line_names_the_delimiter_and_the_header_follows_it():
    text = text_read(b"\n\nsep=;\nemail,points\na@b.co,1\n", max_bytes=100)

    assert text.header == 3
    assert text.delimiter == ";"
    assert text.lines[text.header] == "email,points"


def test_a_byte_order_mark_is_dropped_and_blank_lines_are_not_counted():
    parsed = file_read(
        b"\xef\xbb\xbfemail;points\r\n\r\na@b.co;1\r\n ; \r\nb@b.co;2\r\n",
        max_bytes=1000,
        max_lines=2,
        header_read=_header,
    )

    assert parsed.columns == _Columns(delimiter=";", names=("email", "points"))
    assert parsed.first_line == 2
    assert parsed.lines == ["", "a@b.co;1", " ; ", "b@b.co;2", ""]
    assert parsed.data_lines == 2
    assert parsed.sha256 == "04352c26c6bc2901286d92191622e0e541035797a0c53f3269ae447500ca0835"


@pytest.mark.parametrize(
    ("content", "field", "message", "too_large"),
    [
        (b"x" * 21, "file", "is larger than 0 MB; split it", True),
        (b"\n \n", "file", "is empty", False),
        (b"\nsep=,", "file", "has no header row", False),
        (b"email\n\n", "file", "has a header but no lines", False),
        (b"email\na\nb\nc\n", "file", "has more than 2 lines; split it", True),
        (b"email\xff\n", "file", "is not UTF-8 text (byte 5 is not)", False),
        (b'"a"b,c\n1\n', "columns", "the header row cannot be read", False),
    ],
)
def test_a_file_that_cannot_be_read_names_the_field_and_why(content, field, message, too_large):
    with pytest.raises(FileError) as error:
        file_read(content, max_bytes=20, max_lines=2, header_read=_header)

    assert error.value.field == field
    assert error.value.message.startswith(message)
    assert error.value.too_large is too_large


def test_blank_means_only_delimiters_and_spaces_and_names_match_without_punctuation():
    assert line_blank(" , ,", ",")
    assert not line_blank(" , x", ",")
    assert name_normalise(" Shopify_Customer-ID ") == "shopifycustomerid"
