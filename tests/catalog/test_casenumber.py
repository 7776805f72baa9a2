"""The pure parser of Chinese case numbers."""

from __future__ import annotations

import pytest

from courtcast.catalog.casenumber import (
    CASE_TYPES,
    CaseNumberError,
    ParsedCaseNumber,
    bracket_variants,
    parse_case_number,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "(2024)京0105民初12345号",
            ParsedCaseNumber(2024, "京0105", "民初", 12345, "civil", "first"),
        ),
        (
            "（2024）京0105民初12345号",
            ParsedCaseNumber(2024, "京0105", "民初", 12345, "civil", "first"),
        ),
        ("〔2019〕京73民初1号", ParsedCaseNumber(2019, "京73", "民初", 1, "civil", "first")),
        ("(2025)京02民终789号", ParsedCaseNumber(2025, "京02", "民终", 789, "civil", "second")),
        (
            "（2023）最高法民申456号",
            ParsedCaseNumber(2023, "最高法", "民申", 456, "civil", "retrial"),
        ),
        ("(2024)京民终5号", ParsedCaseNumber(2024, "京", "民终", 5, "civil", "second")),
        ("(2024)沪0115刑初88号", ParsedCaseNumber(2024, "沪0115", "刑初", 88, "criminal", "first")),
        ("(2022)粤03刑终200号", ParsedCaseNumber(2022, "粤03", "刑终", 200, "criminal", "second")),
        (
            "(2024)浙0192行初3号",
            ParsedCaseNumber(2024, "浙0192", "行初", 3, "administrative", "first"),
        ),
        ("(2024)京0105执1号", ParsedCaseNumber(2024, "京0105", "执", 1, "enforcement", None)),
        ("(2024)京0105执异17号", ParsedCaseNumber(2024, "京0105", "执异", 17, "enforcement", None)),
        ("(2023)最高法知民终9号", ParsedCaseNumber(2023, "最高法", "知民终", 9, "civil", "second")),
        # a code not in the table still tells its category by its first character
        ("(2024)京0105刑医3号", ParsedCaseNumber(2024, "京0105", "刑医", 3, "criminal", None)),
        ("  (2024) 京0105民初7号 ", ParsedCaseNumber(2024, "京0105", "民初", 7, "civil", "first")),
    ],
)
def test_parses(text: str, expected: ParsedCaseNumber) -> None:
    assert parse_case_number(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2024京0105民初1号",  # no brackets
        "(24)京0105民初1号",  # two-digit year
        "(2024)京0105民初号",  # no sequence
        "(2024)京0105民初12",  # no 号
        "(2024)京0105民初0号",  # sequence starts at 1
        "(1900)京0105民初1号",  # year out of range
        "(2024)XX0105民初1号",  # not a province
        "(2024)京010民初1号",  # three digits in a court code
        "(2024)京0105AB1号",  # a Latin case-type code
        "（2014）京民初字第123号",  # pre-2016 format
        "2024-CV-00123",  # another jurisdiction
    ],
)
def test_rejects(text: str) -> None:
    with pytest.raises(CaseNumberError):
        parse_case_number(text)


def test_canonical_form_and_labels() -> None:
    parsed = parse_case_number("(2024)京0105民初12345号")
    assert parsed.canonical == "（2024）京0105民初12345号"
    assert parse_case_number(parsed.canonical) == parsed
    assert parsed.label == "civil, first instance"
    assert parse_case_number("(2024)京0105刑医3号").label is None


def test_table_covers_the_common_codes() -> None:
    categories = {code: t.category for code, t in CASE_TYPES.items()}
    for code, category in {
        "刑初": "criminal",
        "刑终": "criminal",
        "民初": "civil",
        "民终": "civil",
        "民申": "civil",
        "行初": "administrative",
        "执": "enforcement",
    }.items():
        assert categories[code] == category
    instances = {t.instance for t in CASE_TYPES.values()}
    assert instances == {"first", "second", "retrial", None}


def test_bracket_variants() -> None:
    assert bracket_variants(" (2024)京0105民初1号") == {
        "(2024)京0105民初1号",
        "（2024）京0105民初1号",
    }
    assert bracket_variants("〔2019〕京73民初1号") == {
        "〔2019〕京73民初1号",
        "(2019)京73民初1号",
        "（2019）京73民初1号",
    }
    assert bracket_variants("plain") == {"plain"}
