"""Reading the values CRM exports write into cells: dates, amounts, stages, ids.

Pure functions of one cell's text. A value that cannot be read raises
`CellError` with the part of the message after the column name
(`not a date: "31/02/2026"`); the CSV reader adds the file, line and column.
"""

from __future__ import annotations

import re
import unicodedata
import zoneinfo
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal, InvalidOperation
from functools import cache, lru_cache
from typing import Literal

from unghost.domain.model import Stage

# How a file writes the day and month: "us" reads 10/01/2026 as October 1st
# (HubSpot, Salesforce, Pipedrive exports of US accounts); "iso" accepts only
# YYYY-MM-DD, which is all a generic spreadsheet can be trusted with.
DateConvention = Literal["us", "iso"]


class CellError(ValueError):
    """One cell's text is not the kind of value its column holds."""


def fold(text: str) -> str:
    """A header name as compared: trimmed, "_" read as a space, spaces collapsed, case folded."""
    return " ".join(text.replace("_", " ").split()).casefold()


# Letters NFKD does not take apart, so that "Ødegaard" slugs to "odegaard".
_TRANSLIT = str.maketrans(
    {"ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ß": "ss", "ł": "l",
     "Ł": "L", "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "TH", "ı": "i"}
)  # fmt: skip


def slug(text: str, limit: int = 80) -> str:
    """A stable id part of lower-case letters, digits and dashes ("Acme, Inc." → "acme-inc").

    Accents are dropped; letters of other scripts are kept, so a name written
    only in them still gives an id. At most `limit` characters: ids have room
    for a contact's and a deal's part, and the importer takes 200.
    """
    decomposed = unicodedata.normalize("NFKD", text.translate(_TRANSLIT))
    kept = "".join(
        ch if ch.isalnum() else " " for ch in decomposed if not unicodedata.combining(ch)
    )
    return "-".join(kept.casefold().split())[:limit].rstrip("-")


# --- dates -------------------------------------------------------------------

_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,6})\d*)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?)?",
    re.IGNORECASE,
)
_SLASHED = re.compile(
    r"(\d{1,2})/(\d{1,2})/(\d{4})(?:,?\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AP]\.?M\.?)?)?",
    re.IGNORECASE,
)
_DOTTED = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})(?:,?\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?")


@lru_cache(maxsize=4096)
def parse_moment(text: str, convention: DateConvention) -> str:
    """A cell's date and time in ISO 8601 ("2026-10-01T14:03:00"), with its offset
    when the cell has one; a date alone is its midnight.

    A time without an offset stays without one: CONTRACT.md reads it in the
    owner's time zone, which the file does not know.
    """
    when = _parse(text.strip(), convention)
    if not isinstance(when, datetime):
        when = datetime.combine(when, time())
    return when.isoformat()


@lru_cache(maxsize=4096)
def parse_day(text: str, convention: DateConvention) -> str:
    """The calendar day a cell names, as YYYY-MM-DD (a time of day is dropped)."""
    when = _parse(text.strip(), convention)
    return (when.date() if isinstance(when, datetime) else when).isoformat()


def _parse(text: str, convention: DateConvention) -> date | datetime:
    iso = _ISO.fullmatch(text)
    if iso:
        return _build(text, iso.group(1), iso.group(2), iso.group(3), iso.groups()[3:])
    if convention == "iso":
        raise CellError(f'not an ISO date (YYYY-MM-DD): "{text}"')
    slashed = _SLASHED.fullmatch(text)
    if slashed:  # month first, as US accounts of these CRMs write it
        month, day, year = slashed.group(1, 2, 3)
        hms = (*slashed.group(4, 5, 6), None, None)
        when = _build(text, year, month, day, hms)
        return _meridiem(text, when, slashed.group(4), slashed.group(7))
    dotted = _DOTTED.fullmatch(text)
    if dotted:  # 01.10.2026 is day first wherever it is written
        day, month, year = dotted.group(1, 2, 3)
        return _build(text, year, month, day, (*dotted.group(4, 5, 6), None, None))
    raise CellError(f'not a date: "{text}"')


def _build(
    text: str, year: str, month: str, day: str, hms: tuple[str | None, ...]
) -> date | datetime:
    hour, minute, second, fraction, offset = hms
    try:
        if hour is None:
            return date(int(year), int(month), int(day))
        micro = int((fraction or "0").ljust(6, "0"))
        clock = time(int(hour), int(minute or 0), int(second or 0), micro)
        return datetime.combine(date(int(year), int(month), int(day)), clock, _offset(offset))
    except ValueError:
        raise CellError(f'not a date: "{text}"') from None


def _offset(text: str | None) -> timezone | None:
    if text is None:
        return None
    if text.upper() == "Z":
        return UTC
    digits = text[1:].replace(":", "")
    minutes = int(digits[:2]) * 60 + int(digits[2:] or 0)
    if minutes >= 24 * 60:
        raise ValueError("offset out of range")
    return timezone(timedelta(minutes=minutes if text[0] == "+" else -minutes))


def _meridiem(
    text: str, when: date | datetime, hour: str | None, ampm: str | None
) -> date | datetime:
    if ampm is None or not isinstance(when, datetime) or hour is None:
        return when
    if not 1 <= int(hour) <= 12:
        raise CellError(f'not a date: "{text}"')
    pm = ampm[0] in "pP"
    return when.replace(hour=when.hour % 12 + (12 if pm else 0))


# --- amounts -----------------------------------------------------------------

_SYMBOLS: tuple[tuple[str, str], ...] = (
    ("US$", "USD"), ("CA$", "CAD"), ("AU$", "AUD"), ("NZ$", "NZD"), ("HK$", "HKD"),
    ("C$", "CAD"), ("A$", "AUD"), ("S$", "SGD"), ("R$", "BRL"), ("zł", "PLN"),
    ("$", "USD"), ("€", "EUR"), ("£", "GBP"), ("¥", "JPY"), ("₹", "INR"), ("₩", "KRW"),
    ("₽", "RUB"), ("₺", "TRY"), ("₪", "ILS"), ("₫", "VND"), ("₱", "PHP"), ("฿", "THB"),
)  # fmt: skip
_BY_SYMBOL = dict(_SYMBOLS)
_CODE_FIRST = re.compile(r"([A-Za-z]{3})\s*(.*)")
_CODE_LAST = re.compile(r"(.*?)\s*([A-Za-z]{3})")
_NUMBER = re.compile(r"[0-9.,]*[0-9][0-9.,]*")
_GROUPED = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+|[0-9]{1,3}(?:\.[0-9]{3})+")
_SPACES = str.maketrans("", "", " \u00a0\u202f\u2009'’")


@lru_cache(maxsize=4096)
def parse_amount(text: str) -> tuple[Decimal, str | None]:
    """An amount and the currency its symbol or code names, if any.

    Reads "$24,000.00", "24.000,00 €", "USD 24,000", "1'500.50" and "24000": of
    "," and ".", the one written last is the decimal mark, unless it is followed
    by exactly three digits and is the only mark (then it groups thousands).
    """
    raw = text.strip()
    rest, currency = _strip_currency(raw)
    number = rest.translate(_SPACES)
    if not _NUMBER.fullmatch(number):
        raise CellError(f'not an amount: "{raw}"')
    try:
        return Decimal(_plain_number(number)), currency
    except (InvalidOperation, ValueError):
        raise CellError(f'not an amount: "{raw}"') from None


def _strip_currency(raw: str) -> tuple[str, str | None]:
    if raw[:1].isdigit() and raw[-1:].isdigit():
        return raw, None
    for size in (3, 2, 1):  # the longest symbol first: "US$" before "$"
        code = _BY_SYMBOL.get(raw[:size])
        if code:
            return raw[size:].strip(), code
        code = _BY_SYMBOL.get(raw[-size:])
        if code:
            return raw[:-size].strip(), code
    first = _CODE_FIRST.fullmatch(raw)
    if first:
        return first.group(2), first.group(1).upper()
    last = _CODE_LAST.fullmatch(raw)
    if last and last.group(1):
        return last.group(1), last.group(2).upper()
    return raw, None


def _plain_number(number: str) -> str:
    commas, dots = number.count(","), number.count(".")
    if commas and dots:
        decimal_mark = "," if number.rfind(",") > number.rfind(".") else "."
        grouping = "." if decimal_mark == "," else ","
        whole, _, fraction = number.rpartition(decimal_mark)
        if decimal_mark in whole or not _GROUPED.fullmatch(whole):
            raise ValueError(number)
        return whole.replace(grouping, "") + "." + fraction
    if commas + dots == 0:
        return number
    mark = "," if commas else "."
    if commas + dots > 1:  # "1,000,000": grouping only
        if not _GROUPED.fullmatch(number):
            raise ValueError(number)
        return number.replace(mark, "")
    whole, _, fraction = number.partition(mark)
    if len(fraction) == 3 and whole and whole != "0":
        return whole + fraction
    return (whole or "0") + "." + fraction


@lru_cache(maxsize=4096)
def currency_code(text: str) -> str:
    """A currency column's value as an ISO 4217 code where it is one ("eur", "€" → "EUR")."""
    value = text.strip()
    for symbol, code in _SYMBOLS:
        if value == symbol:
            return code
    return value.upper() if len(value) == 3 and value.isalpha() else value


def json_number(amount: Decimal) -> int | float:
    """An amount as a JSON number: an int when it is whole."""
    return int(amount) if amount == amount.to_integral_value() else float(amount)


# --- stages ------------------------------------------------------------------

_WON = frozenset({"won", "closedwon", "dealwon", "win"})
_LOST = frozenset({"lost", "closedlost", "deallost", "deleted", "dead", "disqualified"})
_PROPOSAL_WORDS = ("proposal", "quote")
_LETTERS = re.compile(r"[^a-z]")


@lru_cache(maxsize=4096)
def stage_of(text: str) -> Stage:
    """The workspace stage a CRM stage or status names: won, lost, else open.

    "Closed Won", "closedwon" and "won" are won; "Closed Lost", "lost" and
    Pipedrive's "deleted" are lost; a pipeline step ("Qualified To Buy") is open.
    """
    key = _LETTERS.sub("", text.casefold())
    if key in _WON:
        return "won"
    if key in _LOST:
        return "lost"
    return "open"


@lru_cache(maxsize=4096)
def names_a_proposal(text: str) -> bool:
    """Whether a pipeline stage says a proposal is out ("Proposal Made", "Proposal/Price Quote")."""
    folded = text.casefold()
    return any(word in folded for word in _PROPOSAL_WORDS)


# --- contact details ---------------------------------------------------------

_GMT_PREFIX = re.compile(r"\((?:GMT|UTC)\s*[+\-−]?\d{0,2}(?::?\d{2})?\)\s*", re.IGNORECASE)


@cache
def _zones_by_key() -> dict[str, str]:
    return {zone.casefold(): zone for zone in zoneinfo.available_timezones()}


@lru_cache(maxsize=4096)
def timezone_name(text: str) -> str:
    """An IANA zone name from the ways exports write it.

    "America/New York", "america_slash_new_york" and "(GMT-05:00) America/New_York"
    all give "America/New_York"; anything else is returned as written, for the
    importer to judge.
    """
    value = text.strip()
    candidate = _GMT_PREFIX.sub("", value).replace("_slash_", "/").strip().replace(" ", "_")
    return _zones_by_key().get(candidate.casefold(), value)


def linkedin_url(text: str) -> str | None:
    """A LinkedIn profile address, or None when the cell holds something else (a bio)."""
    value = text.strip()
    if "linkedin.com/" not in value.casefold() or " " in value:
        return None
    return value if value.casefold().startswith(("http://", "https://")) else "https://" + value


_ASSOCIATION = re.compile(r"(.*?)\s*\(([^()]*)\)")


def first_association(text: str) -> tuple[str, str | None]:
    """The first record a HubSpot association cell names, and what its brackets hold.

    "Jane Doe (jane@acme.com);Bob Roe (bob@acme.com)" → ("Jane Doe", "jane@acme.com");
    "Acme (1234567)" → ("Acme", "1234567").
    """
    first = text.split(";", 1)[0].strip()
    match = _ASSOCIATION.fullmatch(first)
    if match is None:
        return first, None
    return match.group(1).strip(), match.group(2).strip() or None


def first_of_list(text: str) -> str:
    """The first of several values a cell lists ("a@x.com, b@y.com" → "a@x.com")."""
    return re.split(r"[,;]", text, maxsplit=1)[0].strip()
