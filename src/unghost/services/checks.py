"""Strict field checks shared by every way data comes in (import, `log`, the web forms).

Each check takes the raw value and a `where` ("deals[3].contact") and returns
the normalised value or raises `BadInput` naming where and why.
"""

from __future__ import annotations

import json
import re
import zoneinfo
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from functools import cache, lru_cache
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from unghost.errors import BadInput

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?"
)
_HHMM = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
_KEY = re.compile(r"[^\s\"]{1,200}")
_CURRENCY = re.compile(r"[A-Z]{3}")
# The years a time may fall in: one in the year 1 or 9999 only overflows date arithmetic later.
YEARS = (1900, 2199)


@cache
def known_timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


@cache
def zone(name: str) -> zoneinfo.ZoneInfo:
    """A cached ZoneInfo for a name already checked."""
    return zoneinfo.ZoneInfo(name)


def text(value: Any, where: str, *, max_len: int = 10_000, required: bool = False) -> str | None:
    """A string (trimmed), or None when absent and not required."""
    if value is None or value == "":
        if required:
            raise BadInput(f"{where}: required")
        return None
    if not isinstance(value, str):
        raise BadInput(f"{where}: must be a string, not {_kind(value)}")
    value = value.strip()
    if required and not value:
        raise BadInput(f"{where}: required")
    if len(value) > max_len:
        raise BadInput(f"{where}: longer than {max_len} characters")
    return value or None


def one_line(value: Any, where: str, *, max_len: int = 200, required: bool = False) -> str | None:
    """A string with no line breaks (names, titles, header values)."""
    out = text(value, where, max_len=max_len, required=required)
    if out is not None and ("\n" in out or "\r" in out):
        raise BadInput(f"{where}: must be one line")
    return out


def key(value: Any, where: str) -> str:
    """A record id: 1-200 characters, no spaces or quotes."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not _KEY.fullmatch(value):
        raise BadInput(
            f"{where}: must be an id of 1-200 characters without spaces, not {quote(value)}"
        )
    return value


def flag(value: Any, where: str, *, default: bool = False) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise BadInput(f"{where}: must be true or false, not {_kind(value)}")
    return value


def choice(value: Any, where: str, options: tuple[str, ...], *, default: str | None) -> str | None:
    if value is None:
        return default
    if value not in options:
        raise BadInput(f"{where}: must be one of {', '.join(options)}, not {quote(value)}")
    return str(value)


def whole(value: Any, where: str, *, low: int, high: int, default: int) -> int:
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise BadInput(f"{where}: must be a whole number from {low} to {high}, not {quote(value)}")
    return value


def amount(value: Any, where: str) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise BadInput(f"{where}: must be a number, not {_kind(value)}")
    try:
        out = Decimal(str(value))
    except InvalidOperation:
        raise BadInput(f"{where}: not a number: {quote(value)}") from None
    if not out.is_finite() or out < 0 or out >= Decimal(10) ** 12:
        raise BadInput(f"{where}: must be a positive amount, not {quote(value)}")
    return out.quantize(Decimal("0.01"))


def currency(value: Any, where: str) -> str | None:
    out = one_line(value, where, max_len=3)
    if out is not None and not _CURRENCY.fullmatch(out):
        raise BadInput(f"{where}: must be a 3-letter currency code like USD, not {quote(out)}")
    return out


def email(value: Any, where: str) -> str | None:
    """A syntactically valid address, normalised (no DNS look-up)."""
    raw = one_line(value, where, max_len=320)
    if raw is None:
        return None
    return _email(raw, where)


@lru_cache(maxsize=65_536)
def _email_cached(raw: str) -> str | EmailNotValidError:
    try:
        return validate_email(raw, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        return exc


# Plain ASCII addresses (nearly all of them) are checked by this RFC 5321 dot-atom
# pattern; anything else goes through email-validator, which is exact but slow.
_PLAIN_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@((?!-)[A-Za-z0-9-]{1,63}(?<!-)\.)+[A-Za-z]{2,63}"
)


def _email(raw: str, where: str) -> str:
    if len(raw) <= 254 and _PLAIN_EMAIL.fullmatch(raw) and len(raw.split("@")[0]) <= 64:
        local, domain = raw.rsplit("@", 1)
        return f"{local}@{domain.lower()}"
    out = _email_cached(raw)
    if isinstance(out, EmailNotValidError):
        raise BadInput(f"{where}: not an email address: {quote(raw)} ({out})")
    return out


def phone(value: Any, where: str, *, region: str | None) -> str | None:
    """A phone number in E.164, read with the owner's country as the default region."""
    raw = one_line(value, where, max_len=40)
    if raw is None:
        return None
    out = _phone_cached(raw, region)
    if out is None:
        hint = "" if region or raw.startswith("+") else " (give it with +country code)"
        raise BadInput(f"{where}: not a phone number: {quote(raw)}{hint}")
    return out


@lru_cache(maxsize=65_536)
def _phone_cached(raw: str, region: str | None) -> str | None:
    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


def timezone(value: Any, where: str) -> str | None:
    raw = one_line(value, where, max_len=64)
    if raw is None:
        return None
    if raw not in known_timezones():
        raise BadInput(f"{where}: unknown time zone {quote(raw)} (use a tz database name)")
    return raw


def country(value: Any, where: str) -> str | None:
    raw = one_line(value, where, max_len=2)
    if raw is None:
        return None
    if raw.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise BadInput(f"{where}: unknown country code {quote(raw)} (use ISO 3166 like US, DE)")
    return raw.upper()


def day(value: Any, where: str) -> date | None:
    """A calendar date, strictly YYYY-MM-DD."""
    if value is None:
        return None
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise BadInput(f"{where}: must be a date YYYY-MM-DD, not {quote(value)}")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise BadInput(f"{where}: not a date: {quote(value)} ({exc})") from None


def moment(value: Any, where: str, *, tz: str, required: bool = False) -> datetime | None:
    """An ISO 8601 time; one without an offset is in `tz` (the owner's time zone)."""
    if value is None:
        if required:
            raise BadInput(f"{where}: required")
        return None
    if not isinstance(value, str) or not _DATETIME.fullmatch(value):
        raise BadInput(f"{where}: must be an ISO 8601 time like 2026-11-23T09:00:00-05:00")
    try:
        out = datetime.fromisoformat(value)
    except ValueError as exc:
        raise BadInput(f"{where}: not a time: {quote(value)} ({exc})") from None
    if not YEARS[0] <= out.year <= YEARS[1]:
        raise BadInput(f"{where}: must be between the years {YEARS[0]} and {YEARS[1]}")
    if out.tzinfo is None:
        out = out.replace(tzinfo=zone(tz))
    return out


def clock(value: Any, where: str) -> time:
    if not isinstance(value, str) or not _HHMM.fullmatch(value):
        raise BadInput(f"{where}: must be a time of day HH:MM, not {quote(value)}")
    return time.fromisoformat(value)


def url(value: Any, where: str) -> str | None:
    out = one_line(value, where, max_len=1000)
    if out is not None and not re.match(r"https?://\S+$", out):
        raise BadInput(f"{where}: must be an http(s) URL, not {quote(out)}")
    return out


def strings(value: Any, where: str, *, max_items: int = 50) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > max_items:
        raise BadInput(f"{where}: must be a list of at most {max_items} strings")
    out: list[str] = []
    for i, item in enumerate(value):
        s = one_line(item, f"{where}[{i}]", max_len=200, required=True)
        assert s is not None
        out.append(s)
    return out


def quote(value: Any) -> str:
    """A value as it would be written in JSON, for error messages: "gorge"."""
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except ValueError:
        return repr(value)


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false"}.get(
        type(value), type(value).__name__
    )
