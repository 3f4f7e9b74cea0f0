"""Values of key fields as printed on a fax, normalised or refused: dates to ISO 8601, phone and
fax numbers to digits, NPIs checked with their Luhn digit, names and free text cleaned.

Every parser takes one short piece of text (a line at most) and returns the value or None; none
raises, and every pattern is linear (no nested repetition), so hostile text costs little."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from shared.contracts import FIELD_VALUE_MAX_CHARS
from shared.npi import npi_valid

MONTHS = {
    "jan": 1,
    "feb": 2,
    "mar": 3,
    "apr": 4,
    "may": 5,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "oct": 10,
    "nov": 11,
    "dec": 12,
}
_MONTH = r"(?P<month>jan|feb|mar|apr|may|jun|jul|aug|sept?|oct|nov|dec)[a-z]{0,6}\.?"
_DATES = [
    # 1960-03-04, 1960/03/04
    re.compile(
        r"(?<![0-9])(?P<year>[0-9]{4})[-/.](?P<a>[0-9]{1,2})[-/.](?P<b>[0-9]{1,2})(?![0-9])"
    ),
    # 03/04/1960, 3-4-60, 04.03.1960 (dots: day first)
    re.compile(
        r"(?<![0-9])(?P<a>[0-9]{1,2})(?P<sep>[-/.])(?P<b>[0-9]{1,2})(?P=sep)"
        r"(?P<year>[0-9]{4}|[0-9]{2})(?![0-9])"
    ),
    # 4 Mar 1960, 04-Feb-1988, 4th March 1960
    re.compile(
        r"(?<![0-9])(?P<day>[0-9]{1,2})(?:st|nd|rd|th)?[ -]{0,2}" + _MONTH + r"[ ,-]{0,3}"
        r"(?P<year>[0-9]{4})(?![0-9])",
        re.IGNORECASE,
    ),
    # March 4, 1960; Jun 08,1943
    re.compile(
        r"(?<![a-z])" + _MONTH + r"[ '\u2019-]{0,2}(?P<day>[0-9]{1,2})(?:st|nd|rd|th)?[ ,;]{0,3}"
        r"(?P<year>[0-9]{4})(?![0-9])",
        re.IGNORECASE,
    ),
]
_CONTROL = re.compile(
    r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff\ud800-\udfff]"
)
_ESCAPES = re.compile(r"\x1b\[[0-9;?]{0,16}[@-~]|\x9b[0-9;?]{0,16}[@-~]")
_APOSTROPHE = re.compile("(?<=[^\\W\\d_])[\u2018\u2019](?=[^\\W\\d_])")  # "Women\u2019s"
_LINE_BREAKS = re.compile(r"\r\n?|[\u2028\u2029\x0b\x0c\x85]")
# Quotes, dashes, bars and specks that OCR reads around a value.
NOISE = (
    " '\"`\u2018\u2019\u201c\u201d|_.,;:~*^\u2014\u2013-=+!?<>[]{}()\\/"
    "\u2022\u00bb\u00ab\u00a9\u00b0\u00b7"
)
# Words that make a "name" an organisation or a heading, not a person.
_NOT_PERSON = frozenset(
    [
        "laboratory",
        "laboratories",
        "lab",
        "labs",
        "clinic",
        "clinical",
        "hospital",
        "medical",
        "medicine",
        "health",
        "center",
        "centre",
        "pharmacy",
        "drug",
        "report",
        "results",
        "result",
        "insurance",
        "plan",
        "care",
        "group",
        "associates",
        "services",
        "department",
        "imaging",
        "radiology",
        "diagnostics",
        "practice",
        "office",
        "family",
        "internal",
    ]
)
# Suffixes a person's name may carry (compared in capitals, without dots).
CREDENTIALS = frozenset(
    {
        "MD",
        "DO",
        "NP",
        "PA",
        "PA-C",
        "RN",
        "FNP",
        "FNP-C",
        "DNP",
        "APRN",
        "CNP",
        "CRNP",
        "ARNP",
        "ANP",
        "AGNP",
        "PMHNP",
        "CNM",
        "DPM",
        "DDS",
        "DMD",
        "OD",
        "DC",
        "PT",
        "OT",
        "RPH",
        "PHARMD",
        "PHD",
        "MBBS",
        "MBCHB",
        "MSN",
        "MPH",
        "MS",
        "MA",
        "LCSW",
        "LPN",
        "FACP",
        "FACC",
        "FAAP",
        "FAAFP",
        "JR",
        "SR",
        "II",
        "III",
        "IV",
        "ESQ",
    }
)
# The comma before a credential at the end of a name as OCR reads it: ";", ",.", "»" or none
# ("Ann Lee; PA-C", "Ann Lee,DO"); it becomes ", ".
_BEFORE_CREDENTIAL = re.compile(
    r"(?<=[a-z])\s{0,2}[;,.\u00bb]{1,3}\s{0,2}(?=(?:"
    + "|".join(re.escape(c) for c in sorted(CREDENTIALS, key=len, reverse=True))
    + r")\.?$)"
)
_NAME_WORD = re.compile("[^\\W\\d_][\\w'\u2019.-]*\\.?,?")
# A North American number (area code, exchange, line; maybe +1 before), else an international
# one written with its "+". OCR reads a space or dash between the groups as a quote, a colon
# or a plus as well: "(331)'555-0120", "(816):555-0169", "555+ 0186".
_GAP = r"[ .'\u2019:;+-]{0,2}"
_NANP = re.compile(
    rf"(?<![0-9])(?:\+?1[ .-]{{0,2}})?\(?[0-9]{{3}}\)?{_GAP}[0-9]{{3}}{_GAP}[0-9]{{4}}(?![0-9])"
)
_INTERNATIONAL = re.compile(r"\+[0-9][0-9 ().-]{6,20}[0-9]")
_INTEGER = re.compile(r"(?<![0-9])[0-9]{1,3}(?![0-9])")
_IDENTIFIER = re.compile(r"(?<![\w-])(?:[A-Z]{1,4}[- ]?)?[0-9][0-9-]{2,18}[A-Z0-9]{0,3}(?![\w-])")
_NPI = re.compile(r"(?<![0-9])[0-9]{10}(?![0-9])")


def clean_text(text: str) -> str:
    """The text with line breaks unified and terminal escapes, control and invisible format
    characters removed (NFKC folds full-width digits and colons to ASCII)."""
    text = _LINE_BREAKS.sub("\n", unicodedata.normalize("NFKC", text))
    text = _APOSTROPHE.sub("'", text)
    return _CONTROL.sub(" ", _ESCAPES.sub(" ", text))


def tidy(value: str) -> str:
    """Whitespace collapsed and the specks OCR leaves around a value stripped."""
    return " ".join(value.split()).strip(NOISE)


def trimmed(value: str) -> tuple[str, bool]:
    """The value without the stray marks OCR reads around it, and whether any were cut: at
    the start, words of up to 3 characters that are not capitalised ("se", "7", "a"); at the
    end, words of up to 2 that are not capitals ("iy", "Oo", but not "MD")."""
    words = tidy(value).split()
    start, end = 0, len(words)
    while start < end and _stray(words[start], leading=True):
        start += 1
    while end > start and _stray(words[end - 1], leading=False):
        end -= 1
    return tidy(" ".join(words[start:end])), (start, end) != (0, len(words))


def _stray(word: str, *, leading: bool) -> bool:
    core = word.strip(NOISE)
    if not any(char.isalnum() for char in core):
        return True
    if leading:
        return len(core) <= 3 and not (core[0].isupper() and core[0].isalpha())
    return len(core) <= 2 and not core.isupper()


def text_value(value: str) -> tuple[str, bool] | None:
    """Free text (to, from, re) as printed, cut to the contract's length at a word, and
    whether stray marks were cut from it."""
    text, cut = trimmed(value)
    if not any(char.isalpha() for char in text):
        return None
    if len(text) > FIELD_VALUE_MAX_CHARS:
        text = text[:FIELD_VALUE_MAX_CHARS].rsplit(" ", 1)[0]
    return text, cut


def name_value(value: str) -> tuple[str, bool] | None:
    """A person's name as printed (2 to 6 words of letters, a credential allowed), and whether
    stray marks were cut from it; None for anything else."""
    name, cut = trimmed(re.split(r"\(|\bNP[IlL1|]\b", value, maxsplit=1)[0])
    name = re.sub(r"(?<=[a-z])\.(?=[A-Z][a-z])", " ", name)  # "Ravi.Kim": a space read as a dot
    name = _BEFORE_CREDENTIAL.sub(", ", name)
    # Specks OCR leaves on a word: quotes around it, a dot after a whole word ("Betty. Brown").
    words = [word.strip("'\"\u2018\u2019\u201c\u201d") for word in name.split()]
    whole = r"(?<=[a-z]{3})\.$|(?<=[A-Z][a-z]{2})\.$"
    words = [re.sub(whole, "", word) for word in words[:-1]] + words[-1:]
    while words and not words[-1][:1].isupper():  # a name ends with a capital word: "ret" is OCR's
        words, cut = words[:-1], True
    name = " ".join(word for word in words if word)
    words = name.split()
    if not 2 <= len(words) <= 6 or len(name) > 80:
        return None
    if not all(_NAME_WORD.fullmatch(word) for word in words):
        return None
    if not words[0][0].isupper() or sum(word[0].isupper() for word in words) < 2:
        return None
    if any(word.strip(",.").casefold() in _NOT_PERSON for word in words):
        return None
    before, _, suffix = name.rpartition(",")
    suffix = suffix.strip(" .") if len(before.split()) >= 2 else ""  # not "DOE, JANE"
    if (
        re.fullmatch(r"[A-Z][A-Za-z.-]{0,5}", suffix)
        and suffix.replace(".", "").upper() not in CREDENTIALS
    ):
        return None  # "Kevin Thompson, NR": a credential misread, so maybe the name too
    return name, cut


def date_value(value: str) -> tuple[str, float] | None:
    """The first date in ``value`` as ISO 8601, with how sure the reading is (1 for an
    unambiguous one; less for a two-digit year or a day and month that could swap)."""
    found = date_and_end(value)
    return (found[0], found[1]) if found else None


def date_and_end(value: str) -> tuple[str, float, int] | None:
    """As ``date_value``, with where in ``value`` the date ends."""
    found = [(m.start(), m) for m in (p.search(value) for p in _DATES) if m]
    for _, match in sorted(found, key=lambda item: item[0]):
        parsed = _date_of(match.groupdict())
        if parsed is not None:
            return (*parsed, match.end())
    return None


def leading_date(value: str) -> tuple[str, float] | None:
    """As ``date_value``, but only for a date that starts ``value`` (after any specks)."""
    text = value.lstrip(NOISE)
    for pattern in _DATES:
        match = pattern.match(text)
        parsed = _date_of(match.groupdict()) if match else None
        if parsed is not None:
            return parsed
    return None


def _date_of(parts: dict[str, str | None]) -> tuple[str, float] | None:
    sure = 1.0
    year_text = parts["year"] or ""
    year = int(year_text)
    if len(year_text) == 2:  # "60" is 1960, "24" is 2024: births and visits both fit
        year += 2000 if year <= 30 else 1900
        sure *= 0.8
    if parts.get("month"):
        month = MONTHS[(parts["month"] or "")[:3].lower()]
        day = int(parts["day"] or 0)
    elif "sep" in parts:  # a/b/year: month first, unless it cannot be or dots say day first
        a, b = int(parts["a"] or 0), int(parts["b"] or 0)
        day_first = parts["sep"] == "." or a > 12
        month, day = (b, a) if day_first else (a, b)
        if a <= 12 and b <= 12 and a != b:
            sure *= 0.9
    else:
        month, day = int(parts["a"] or 0), int(parts["b"] or 0)
    if not 1900 <= year <= 2100:
        return None
    try:
        return date(year, month, day).isoformat(), sure
    except ValueError:
        return None


def phone_value(value: str) -> str | None:
    """The first phone or fax number in ``value`` as its digits (10 to 15 of them: with its
    area code; a shorter run is more likely a number OCR broke)."""
    match = _NANP.search(value) or _INTERNATIONAL.search(value)
    if match is None:
        return None
    digits = "".join(char for char in match.group() if char.isdigit())
    return digits if 10 <= len(digits) <= 15 else None


def pages_value(value: str) -> str | None:
    match = _INTEGER.search(tidy(value))
    if match is None or not 1 <= int(match.group()) <= 999:
        return None
    return str(int(match.group()))


def identifier_value(value: str) -> str | None:
    """A record number (MRN, chart, account, member ID): letters and at least 3 digits. OCR
    splits one with a space ("MR-7 15423") and reads a C before digits as a euro sign."""
    text = re.sub(r"[^\w-]|_", " ", re.sub("\u20ac(?=[0-9])", "C", value))
    match = _IDENTIFIER.search(re.sub("(?<=[0-9]) (?=[0-9])", "", text))
    return match.group().rstrip("-") if match else None


def npi_value(value: str) -> str | None:
    """The first 10-digit number in ``value`` if its check digit is right; a misread NPI is
    not reported (a wrong provider hint is worse than none)."""
    match = _NPI.search(value)
    return match.group() if match and npi_valid(match.group()) else None
