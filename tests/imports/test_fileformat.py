"""The import file's rules, as pure functions: what a usable file is, what a line must hold."""

from __future__ import annotations

import pytest

from loyalty_app.imports.fileformat import (
    MAX_LINES,
    FileError,
    Rejection,
    Row,
    file_read,
    file_rows,
)


def rows_of(text: str | bytes) -> list[Row | Rejection]:
    content = text.encode() if isinstance(text, str) else text
    return list(file_rows(file_read(content)))


def only(text: str) -> Row | Rejection:
    [result] = rows_of(text)
    return result


# --- the header ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "customer_id", "email", "points", "tier"),
    [
        ("customer_id,email,points,tier", 0, 1, 2, 3),
        ("Email,Points", None, 0, 1, None),
        ("ID,Balance", 0, None, 1, None),
        ("Shopify Customer ID,E-mail,Points Balance,VIP Tier", 0, 1, 2, 3),
        ("  EMAIL , POINTS ", None, 0, 1, None),
        ("first_name,email,last_name,points", None, 1, 3, None),
    ],
)
def test_the_header_names_are_matched_whatever_their_case_and_spelling(
    header, customer_id, email, points, tier
):
    columns = file_read(f"{header}\nx\n".encode()).columns

    assert (columns.customer_id, columns.email, columns.points, columns.tier) == (
        customer_id,
        email,
        points,
        tier,
    )


def test_unknown_columns_are_ignored_and_reported():
    columns = file_read(b"email,points,First Name,notes\na@b.co,1,,\n").columns

    assert columns.as_dict() == {
        "email": "email",
        "points": "points",
        "ignored": ["First Name", "notes"],
    }


@pytest.mark.parametrize(
    ("content", "field", "message"),
    [
        (b"", "file", "is empty"),
        (b"\n\n  \n", "file", "is empty"),
        (b"email,points\n", "file", "has a header but no lines"),
        (b"email,points\n,\n\n", "file", "has a header but no lines"),
        (b"name,points\nAda,1\n", "columns", "needs an 'email' or a 'customer_id' column"),
        (b"email,tier\na@b.co,Gold\n", "columns", "needs a 'points' (or 'balance') column"),
        (b"id,customer_id,points\n1,1,1\n", "columns", "'id' and 'customer_id' both give"),
        (b"email,points\xff\na@b.co,1\n", "file", "is not UTF-8 text (byte 12 is not)"),
        ("email,points\n".encode("utf-16"), "file", "is not UTF-8 text"),
    ],
)
def test_a_file_that_cannot_be_imported_names_the_field_and_why(content, field, message):
    with pytest.raises(FileError) as error:
        file_read(content)

    assert error.value.field == field
    assert message in error.value.message
    assert not error.value.too_large


def test_a_file_over_the_line_limit_is_too_large():
    content = b"id,points\n" + b"1,1\n" * (MAX_LINES + 1)

    with pytest.raises(FileError, match="more than 1,000,000 lines") as error:
        file_read(content)

    assert error.value.too_large


def test_a_byte_order_mark_crlf_and_a_semicolon_delimiter_are_understood():
    content = "\ufeffCustomer ID;Points;Tier\r\n7;1200;Gold\r\n".encode()

    assert rows_of(content) == [Row(line=2, customer_id="7", email="", points=1200, tier="Gold")]


def test_a_spreadsheets_sep_line_sets_the_delimiter():
    rows = rows_of("sep=|\nid|points\n7|5\n")

    assert rows == [Row(line=3, customer_id="7", email="", points=5, tier=None)]


def test_tab_separated_files_and_old_mac_line_ends_are_understood():
    assert rows_of("id\tpoints\r7\t5\r8\t6") == [
        Row(line=2, customer_id="7", email="", points=5, tier=None),
        Row(line=3, customer_id="8", email="", points=6, tier=None),
    ]


# --- a line --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "customer_id", "email", "points", "tier"),
    [
        ("7,,10,", "7", "", 10, ""),
        ("gid://shopify/Customer/7,,10,Gold", "7", "", 10, "Gold"),
        (" 007 , ,+10, Gold ", "7", "", 10, "Gold"),
        (",Ada@Example.com,0,", "", "Ada@Example.com", 0, ""),
        (
            '7,ada@example.com,"1000000000","Gold, plus"',
            "7",
            "ada@example.com",
            10**9,
            "Gold, plus",
        ),
        ("7,,-0,", "7", "", 0, ""),
        ("7,,10,,", "7", "", 10, ""),  # a trailing empty value
        ("7,,10", "7", "", 10, ""),  # a missing trailing cell is blank
    ],
)
def test_a_valid_line_becomes_a_row(line, customer_id, email, points, tier):
    row = only(f"customer_id,email,points,tier\n{line}\n")

    assert isinstance(row, Row)
    assert (row.customer_id, row.email, row.points, row.tier) == (customer_id, email, points, tier)


@pytest.mark.parametrize(
    ("line", "column", "reason"),
    [
        (",,10,", "customer_id", "customer_id: missing: each line needs a customer_id or email"),
        ("abc,,10,", "customer_id", "customer_id: 'abc' is not a customer id"),
        ("gid://shopify/Order/7,,10,", "customer_id", "is not a customer id"),
        ("0,,10,", "customer_id", "customer_id: 0 is not a customer id"),
        ("6.2E+12,,10,", "customer_id", "scientific notation"),
        ("12345678901234567890,,10,", "customer_id", "too long for a customer id"),
        (",not-an-email,10,", "email", "email: 'not-an-email' is not a valid email address"),
        ("7,,,", "points", "points: missing"),
        ("7,,12.5,", "points", "points: must be a whole number (got 12.5)"),
        ('7,,"12,5",', "points", "points: must be a whole number (got 12,5)"),
        ("7,,1e3,", "points", "points: must be a whole number (got 1e3)"),
        ("7,,ten,", "points", "points: must be a whole number (got 'ten')"),
        ("7,,-5,", "points", "points: must not be negative (got -5)"),
        ("7,,1000000001,", "points", "points: at most 1,000,000,000 (got 1000000001)"),
        ("7,,99999999999999999999999,", "points", "points: at most 1,000,000,000"),
        (f"7,,10,{'G' * 101}", "tier", "tier: longer than 100 characters"),
        ("7,,10,Gold,extra", "line", "line: has 5 values but the header has 4 columns"),
        ('7,,10,"Gold', "line", "line: cannot be read as CSV"),
        ("7,,10,Go\x00ld", "line", "line: contains a NUL character"),
    ],
)
def test_a_bad_line_is_rejected_with_a_reason_naming_its_column(line, column, reason):
    rejection = only(f"customer_id,email,points,tier\n{line}\n")

    assert isinstance(rejection, Rejection)
    assert rejection.line == 2
    assert rejection.column == column
    assert reason in rejection.reason
    assert rejection.raw == line


def test_a_rejected_lines_raw_text_is_cut_at_200_characters():
    rejection = only(f"email,points\n{'a' * 300}@example.com,x\n")

    assert isinstance(rejection, Rejection)
    assert rejection.raw == "a" * 200


def test_later_lines_for_the_same_customer_are_rejected_and_name_the_first():
    results = rows_of(
        "customer_id,email,points\n"
        "7,ada@example.com,10\n"
        "7,,20\n"
        ",ADA@example.com,30\n"
        "8,bob@example.com,40\n"
    )

    assert [type(r).__name__ for r in results] == ["Row", "Rejection", "Rejection", "Row"]
    assert results[1].reason == "customer_id: customer 7 is already on line 2"
    assert results[2].reason == "email: ADA@example.com is already on line 2"


def test_a_rejected_line_does_not_hide_a_later_valid_one_for_the_same_customer():
    results = rows_of("id,points\n7,-1\n7,5\n")

    assert isinstance(results[0], Rejection)
    assert results[1] == Row(line=3, customer_id="7", email="", points=5, tier=None)


def test_blank_lines_are_skipped_and_line_numbers_stay_the_files():
    content = "\n\nid,points\n\n7,1\n,\n8,x\n\n"

    parsed = file_read(content.encode())
    results = list(file_rows(parsed))

    assert parsed.data_lines == 2
    assert [r.line for r in results] == [5, 7]
    assert isinstance(results[1], Rejection)


def test_a_stray_quote_spoils_only_its_own_line():
    results = rows_of('id,points\n7,"5\n8,6\n9,7\n')

    assert [type(r).__name__ for r in results] == ["Rejection", "Row", "Row"]
