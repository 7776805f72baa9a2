"""Parser of Chinese case numbers (案号), e.g. `（2024）京0105民初12345号`.

Since 2016 a case number is `（year）` + court code + case-type code + sequence + `号`:

- court code (法院代字): `最高法` for the Supreme People's Court, otherwise the province's
  one-character abbreviation (`京`), followed by two digits for an intermediate or special
  court (`京02`, `京73`) or four for a basic court (`京0105`, `京0491`);
- case-type code (类型代字): `民初`, `刑终`, `执`, ..., see `CASE_TYPES`.

Brackets may be half-width `()`, full-width `（）` or `〔〕`. Numbers of other jurisdictions and the
pre-2016 format (`（2014）朝民初字第123号`) are not parsed: catalog entries need not be Chinese,
so this serves search, filters and the demo, never as a gate on input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


class CaseNumberError(ValueError):
    """The text is not a case number of the 2016 format."""


@dataclass(frozen=True, slots=True)
class CaseType:
    category: str  # criminal, civil, administrative, enforcement, state_compensation, ...
    instance: str | None  # first, second, retrial; None where instances do not apply
    label: str  # English description


CRIMINAL, CIVIL, ADMINISTRATIVE = "criminal", "civil", "administrative"
ENFORCEMENT, COMPENSATION = "enforcement", "state_compensation"
FIRST, SECOND, RETRIAL = "first", "second", "retrial"

CASE_TYPES: dict[str, CaseType] = {
    "刑初": CaseType(CRIMINAL, FIRST, "criminal, first instance"),
    "刑终": CaseType(CRIMINAL, SECOND, "criminal, second instance"),
    "刑申": CaseType(CRIMINAL, RETRIAL, "criminal, petition for retrial"),
    "刑再": CaseType(CRIMINAL, RETRIAL, "criminal, retrial"),
    "刑更": CaseType(CRIMINAL, None, "criminal, commutation or parole"),
    "民初": CaseType(CIVIL, FIRST, "civil, first instance"),
    "民终": CaseType(CIVIL, SECOND, "civil, second instance"),
    "民申": CaseType(CIVIL, RETRIAL, "civil, petition for retrial"),
    "民再": CaseType(CIVIL, RETRIAL, "civil, retrial"),
    "民特": CaseType(CIVIL, None, "civil, special procedure"),
    "民辖": CaseType(CIVIL, None, "civil, jurisdiction dispute"),
    "民催": CaseType(CIVIL, None, "civil, public summons"),
    "知民初": CaseType(CIVIL, FIRST, "intellectual property civil, first instance"),
    "知民终": CaseType(CIVIL, SECOND, "intellectual property civil, second instance"),
    "知行初": CaseType(
        ADMINISTRATIVE, FIRST, "intellectual property administrative, first instance"
    ),
    "知行终": CaseType(
        ADMINISTRATIVE, SECOND, "intellectual property administrative, second instance"
    ),
    "破申": CaseType(CIVIL, None, "bankruptcy application"),
    "破": CaseType(CIVIL, None, "bankruptcy"),
    "行初": CaseType(ADMINISTRATIVE, FIRST, "administrative, first instance"),
    "行终": CaseType(ADMINISTRATIVE, SECOND, "administrative, second instance"),
    "行申": CaseType(ADMINISTRATIVE, RETRIAL, "administrative, petition for retrial"),
    "行再": CaseType(ADMINISTRATIVE, RETRIAL, "administrative, retrial"),
    "行审": CaseType(ADMINISTRATIVE, None, "administrative, non-litigation enforcement review"),
    "执": CaseType(ENFORCEMENT, None, "enforcement"),
    "执恢": CaseType(ENFORCEMENT, None, "enforcement, resumed"),
    "执异": CaseType(ENFORCEMENT, None, "enforcement, objection"),
    "执复": CaseType(ENFORCEMENT, None, "enforcement, reconsideration"),
    "执监": CaseType(ENFORCEMENT, None, "enforcement, supervision"),
    "执保": CaseType(ENFORCEMENT, None, "enforcement, property preservation"),
    "赔": CaseType(COMPENSATION, None, "state compensation"),
}

# Codes outside the table still tell their category by their first character.
_CATEGORY_BY_PREFIX = {
    "刑": CRIMINAL,
    "民": CIVIL,
    "行": ADMINISTRATIVE,
    "执": ENFORCEMENT,
    "赔": COMPENSATION,
}

# Province-level abbreviations, 兵 (Xinjiang Production and Construction Corps), 军 (military).
PROVINCES = "京津冀晋蒙辽吉黑沪苏浙皖闽赣鲁豫鄂湘粤桂琼渝川贵云藏陕甘青宁新兵军"

_PATTERN = re.compile(
    rf"""
    [(（〔\[] \s* (?P<year>\d{{4}}) \s* [)）〕\]] \s*
    (?P<court>最高法|[{PROVINCES}](?:\d{{4}}|\d{{2}})?)
    (?P<type>[\u4e00-\u9fff]{{1,6}}?)
    (?P<sequence>\d{{1,9}})
    号
    """,
    re.VERBOSE,
)

_TO_HALF_WIDTH = str.maketrans("（）〔〕", "()()")
_TO_FULL_WIDTH = str.maketrans("()〔〕", "（）（）")


@dataclass(frozen=True, slots=True)
class ParsedCaseNumber:
    year: int
    court_code: str  # 京0105
    type_code: str  # 民初
    sequence: int
    category: str | None  # see CaseType; None when the code tells nothing known
    instance: str | None

    @property
    def canonical(self) -> str:
        """The official form, with full-width brackets: `（2024）京0105民初12345号`."""
        return f"（{self.year}）{self.court_code}{self.type_code}{self.sequence}号"

    @property
    def label(self) -> str | None:
        case_type = CASE_TYPES.get(self.type_code)
        return case_type.label if case_type else None


def parse_case_number(text: str) -> ParsedCaseNumber:
    """Parse `text`; raises CaseNumberError when it is not a case number of the 2016 format."""
    match = _PATTERN.fullmatch(text.strip())
    if match is None:
        raise CaseNumberError(f"not a case number like （2024）京0105民初12345号: {text!r}")
    year, sequence = int(match["year"]), int(match["sequence"])
    if not 1949 <= year <= 2999:
        raise CaseNumberError(f"year {year} out of range in {text!r}")
    if sequence == 0:
        raise CaseNumberError(f"sequence number 0 in {text!r}")
    type_code = match["type"]
    if "字" in type_code:
        raise CaseNumberError(f"pre-2016 case numbers (…字第…号) are not parsed: {text!r}")
    known = CASE_TYPES.get(type_code)
    return ParsedCaseNumber(
        year=year,
        court_code=match["court"],
        type_code=type_code,
        sequence=sequence,
        category=known.category if known else _CATEGORY_BY_PREFIX.get(type_code[0]),
        instance=known.instance if known else None,
    )


def bracket_variants(text: str) -> set[str]:
    """`text` as typed, with half-width and with full-width brackets: one case number, three
    spellings, so that lookups and duplicate checks find each other's entries."""
    stripped = text.strip()
    return {stripped, stripped.translate(_TO_HALF_WIDTH), stripped.translate(_TO_FULL_WIDTH)}
