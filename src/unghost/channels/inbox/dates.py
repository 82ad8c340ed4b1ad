"""The dates a text names, resolved against a reference date (the message's Date).

Hand rules, not `dateparser`: it took 2.4 ms a text here and read "we" as Wednesday and
"may" as May, while it knows no "Q2" or "after the holidays" (README.md in this folder).

Resolution rules (documented in README.md):

- a date without a year is the next such date on or after the reference date;
- a weekday ("Thursday", "next Thursday") is the next one after the reference date;
- "next week" → its Monday; "next month" → its first day; "end of the month" → its
  last day; "in two weeks" → reference + 14 days; "on the 15th" → the next 15th;
- "early/mid/late <month>" → the 1st / 15th / 20th of the next such month;
  "end of <month>" → its last day; "in <month>" → its 1st;
- "in Q2", "Q2" → the first day of that quarter, next occurrence; "next quarter" →
  the first day of the next quarter;
- "after the holidays", "in the new year" → the first business day of January (said in
  November or December); "next year" → 1 January; "after Easter" → the Tuesday after it;
- numbers: ISO `2027-01-15`; `12/03` is US (month/day, unless the first number is over
  12); `03.12.` and `3-12-2026` are day first.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta

MONTHS: dict[str, int] = {}
for _number, _names in enumerate(
    (
        "january jan januar jänner janvier enero januari janeiro",
        "february feb februar février fevrier febrero februari fevereiro",
        "march mar märz maerz mars marzo maart março marco",
        "april apr avril abril",
        "may mai mayo mei maio",
        "june jun juni juin junio junho",
        "july jul juli juillet julio julho",
        "august aug août aout agosto augustus",
        "september sep sept septembre septiembre setiembre setembro",
        "october oct oktober octobre octubre outubro okt",
        "november nov novembre noviembre novembro",
        "december dec dezember décembre decembre diciembre dezembro dez déc",
    ),
    start=1,
):
    for _name in _names.split():
        MONTHS[_name] = _number

WEEKDAYS: dict[str, int] = {}
for _number, _names in enumerate(
    (
        "monday mon montag lundi lunes maandag segunda segunda-feira",
        "tuesday tue tues dienstag mardi martes dinsdag terça terca terça-feira",
        "wednesday wed mittwoch mercredi miércoles miercoles woensdag quarta quarta-feira",
        "thursday thu thurs donnerstag jeudi jueves donderdag quinta quinta-feira",
        "friday fri freitag vendredi viernes vrijdag sexta sexta-feira",
        "saturday sat samstag samedi sábado sabado zaterdag",
        "sunday sun sonntag dimanche domingo zondag",
    )
):
    for _name in _names.split():
        WEEKDAYS[_name] = _number

_NUMBERS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "a couple of": 2,
    "a couple": 2,
    "couple of": 2,
    "a few": 3,
    "few": 3,
}
# "May", "mar", "sun"… are words too: these month and weekday names count only with a day
# number next to them, or capitalised.
_AMBIGUOUS = frozenset({"may", "mar", "sun", "sat", "wed", "mai", "mon", "dez", "okt"})

_MONTH_RE = "|".join(sorted((re.escape(m) for m in MONTHS), key=len, reverse=True))
_WEEKDAY_RE = "|".join(sorted((re.escape(w) for w in WEEKDAYS), key=len, reverse=True))
_NUMBER_RE = "|".join(sorted((re.escape(n) for n in _NUMBERS), key=len, reverse=True))
_ORD = r"(?:st|nd|rd|th|er|e|º|°|\.)?"


@dataclass(frozen=True)
class FoundDate:
    """A date the text names, where it was found, and whether it named a calendar day."""

    day: date
    start: int
    end: int
    exact: bool


Handler = Callable[[re.Match[str], date], date | None]


def _next_on_or_after(month: int, day: int, ref: date) -> date | None:
    for year in (ref.year, ref.year + 1, ref.year + 2):
        try:
            candidate = date(year, month, day)
        except ValueError:
            continue
        if candidate >= ref:
            return candidate
    return None


def _dated(year: str | None, month: int, day: int, ref: date) -> date | None:
    if not 1 <= month <= 12 or not 1 <= day <= 31:
        return None
    if year:
        number = int(year)
        number += 2000 if number < 100 else 0
        try:
            return date(number, month, day)
        except ValueError:
            return None
    return _next_on_or_after(month, day, ref)


def _weekday_after(weekday: int, ref: date) -> date:
    return ref + timedelta(days=(weekday - ref.weekday() - 1) % 7 + 1)


def _first_business_day(year: int, month: int) -> date:
    day = date(year, month, 2 if month == 1 else 1)  # 1 January is a holiday everywhere
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def _month_start_after(month: int, ref: date) -> date:
    year = ref.year if month > ref.month else ref.year + 1
    return date(year, month, 1)


def _last_day(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def easter(year: int) -> date:
    """Western Easter Sunday (the anonymous Gregorian computus)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month, day = divmod(h + ell - 7 * m + 114, 31)
    return date(year, month, day + 1)


# --- handlers ---------------------------------------------------------------------------


def _iso(m: re.Match[str], ref: date) -> date | None:
    return _dated(m["y"], int(m["m"]), int(m["d"]), ref)


def _slashed(m: re.Match[str], ref: date) -> date | None:
    first, second = int(m["a"]), int(m["b"])
    month, day = (second, first) if first > 12 else (first, second)  # US unless impossible
    return _dated(m["y"], month, day, ref)


def _dotted(m: re.Match[str], ref: date) -> date | None:
    return _dated(m["y"], int(m["b"]), int(m["a"]), ref)  # day first


def _day_month(m: re.Match[str], ref: date) -> date | None:
    return _dated(m["y"], MONTHS[m["mon"].lower().rstrip(".")], int(m["d"]), ref)


def _weekday(m: re.Match[str], ref: date) -> date | None:
    name = m["wd"].lower()
    if name in _AMBIGUOUS and not m["wd"][0].isupper():
        return None
    return _weekday_after(WEEKDAYS[name], ref)


def _relative(m: re.Match[str], ref: date) -> date | None:
    phrase = " ".join(m.group(0).lower().split())
    if re.search(r"tomorrow|morgen\b|demain|mañana|amanhã", phrase):
        return ref + timedelta(days=1)
    if re.search(
        r"next week|nächste woche|naechste woche|semaine prochaine|próxima semana|"
        r"proxima semana|volgende week|la semana que viene",
        phrase,
    ):
        return ref + timedelta(days=7 - ref.weekday())
    if re.search(r"end of (?:the |this )?week", phrase):
        return ref + timedelta(days=(4 - ref.weekday()) % 7)
    if re.search(
        r"next month|nächsten monat|mois prochain|próximo mes|proximo mes|"
        r"próximo mês|volgende maand",
        phrase,
    ):
        return date(ref.year + ref.month // 12, ref.month % 12 + 1, 1)
    if re.search(r"end of (?:the |this )?month|month[- ]end", phrase):
        return _last_day(ref.year, ref.month)
    if re.search(r"next quarter", phrase):
        quarter = (ref.month - 1) // 3 + 1
        return date(ref.year + quarter // 4, quarter % 4 * 3 + 1, 1)
    if re.search(r"end of (?:the |this )?year|year[- ]end", phrase):
        return date(ref.year, 12, 31)
    if re.search(r"next year|nächstes jahr|l'année prochaine|próximo año|volgend jaar", phrase):
        return date(ref.year + 1, 1, 1)
    if re.search(r"holidays|new year|festive|christmas|xmas", phrase):
        if ref.month in (11, 12):
            return _first_business_day(ref.year + 1, 1)
        if ref.month == 1 and ref.day < 7:
            return max(ref + timedelta(days=1), _first_business_day(ref.year, 1))
        return None
    if "easter" in phrase:
        sunday = easter(ref.year)
        if sunday + timedelta(days=2) <= ref:
            sunday = easter(ref.year + 1)
        return sunday + timedelta(days=2)
    if "summer" in phrase:
        return _month_start_after(9, ref) if ref.month != 9 else ref + timedelta(days=1)
    return None


def _quarter(m: re.Match[str], ref: date) -> date | None:
    quarter = (
        int(m["q"])
        if m["q"]
        else {"first": 1, "second": 2, "third": 3, "fourth": 4}[m["qw"].lower()]
    )
    month = (quarter - 1) * 3 + 1
    if m["y"]:
        return date(int(m["y"]) + (2000 if len(m["y"]) == 2 else 0), month, 1)
    start = date(ref.year, month, 1)
    return start if start > ref else date(ref.year + 1, month, 1)


def _in_count(m: re.Match[str], ref: date) -> date | None:
    raw = m["n"].lower()
    count = int(raw) if raw.isdigit() else _NUMBERS[" ".join(raw.split())]
    unit = m["unit"].lower()
    if count > 60:
        return None
    if unit.startswith("day"):
        return ref + timedelta(days=count)
    if unit.startswith("week"):
        return ref + timedelta(weeks=count)
    month = ref.month - 1 + count
    year, month = ref.year + month // 12, month % 12 + 1
    return date(year, month, min(ref.day, calendar.monthrange(year, month)[1]))


def _part_of_month(m: re.Match[str], ref: date) -> date | None:
    name = m["mon"].lower()
    if name in _AMBIGUOUS and not m["mon"][0].isupper():
        return None
    month = MONTHS[name]
    part = m["part"].lower()
    start = _month_start_after(month, ref) if month != ref.month else date(ref.year, month, 1)
    if part.startswith("end"):
        return _last_day(start.year, month) if _last_day(start.year, month) >= ref else None
    day = {"early": 1, "beginning": 1, "start": 1, "mid": 15, "middle": 15, "late": 20}.get(
        part.split()[0].rstrip("-"), 1
    )
    candidate = date(start.year, month, day)
    if candidate < ref:
        candidate = date(start.year + 1, month, day)
    return candidate


def _in_month(m: re.Match[str], ref: date) -> date | None:
    name = m["mon"].lower()
    if name in _AMBIGUOUS and not m["mon"][0].isupper():
        return None
    month = MONTHS[name]
    if m["after"]:
        month = month % 12 + 1
    if m["y"]:
        return date(int(m["y"]), month, 1)
    return _month_start_after(month, ref)


def _ordinal_day(m: re.Match[str], ref: date) -> date | None:
    day = int(m["d"])
    for offset in range(3):
        month = (ref.month - 1 + offset) % 12 + 1
        year = ref.year + (ref.month - 1 + offset) // 12
        if day <= calendar.monthrange(year, month)[1]:
            candidate = date(year, month, day)
            if candidate >= ref:
                return candidate
    return None


# Each rule: (pattern, handler, exact, gate). The gate is what the text must hold for
# the rule to be tried: "digit", "month", "weekday", or words (any of them, as substrings).
# "month-start", "weekday-start" and "start:<words>" rules begin with such a word: they are
# tried only where one begins, which spares scanning the text with a long alternation.
_RULES: tuple[tuple[re.Pattern[str], Handler, bool, str], ...] = (
    (
        re.compile(r"\b(?P<y>20\d\d)-(?P<m>\d{1,2})-(?P<d>\d{1,2})\b"),
        _iso,
        True,
        "digit",
    ),
    (
        re.compile(
            rf"\b(?P<d>\d{{1,2}}){_ORD}\s*(?:de\s+|of\s+|-)?(?P<mon>{_MONTH_RE})\.?"
            r"(?:,?\s*(?:de\s+)?(?P<y>20\d\d))?(?![\w])",
            re.IGNORECASE,
        ),
        _day_month,
        True,
        "month",
    ),
    (
        re.compile(
            rf"\b(?P<mon>{_MONTH_RE})\.?\s+(?:the\s+)?(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\b"
            r"(?![:.]\d)(?:,?\s*(?P<y>20\d\d))?",
            re.IGNORECASE,
        ),
        _day_month,
        True,
        "month-start",
    ),
    (
        re.compile(r"(?<![\d/.])(?P<a>\d{1,2})/(?P<b>\d{1,2})(?:/(?P<y>(?:20)?\d\d))?(?![\d/])"),
        _slashed,
        True,
        "digit",
    ),
    (
        re.compile(
            r"(?<![\d.])(?P<a>\d{1,2})\.(?P<b>\d{1,2})\.(?:(?P<y>(?:20)?\d\d)\b)?(?!\d)|"
            r"(?<![\d-])(?P<a2>\d{1,2})-(?P<b2>\d{1,2})-(?P<y2>20\d\d)\b"
        ),
        lambda m, ref: _dated(
            m["y"] or m["y2"], int(m["b"] or m["b2"]), int(m["a"] or m["a2"]), ref
        ),
        True,
        "digit",
    ),
    (
        re.compile(
            r"\b(?:(?P<part>early|beginning of|start of|mid-?|middle of|late|end of)\s*)"
            rf"(?P<mon>{_MONTH_RE})\b",
            re.IGNORECASE,
        ),
        _part_of_month,
        False,
        "start:early beginning start mid middle late end",
    ),
    (
        re.compile(
            rf"\b(?:in|until|till|after(?P<after>)|by|from|around|during)\s+(?P<mon>{_MONTH_RE})"
            r"\b(?!\s*\d)(?:\s+(?P<y>20\d\d))?",
            re.IGNORECASE,
        ),
        _in_month,
        False,
        "start:in until till after by from around during",
    ),
    (
        re.compile(
            r"\b(?:in\s+)?(?:q(?P<q>[1-4])|(?P<qw>first|second|third|fourth)\s+quarter)"
            r"(?:\s*(?:of\s+)?(?P<y>20\d\d|'\d\d))?\b",
            re.IGNORECASE,
        ),
        lambda m, ref: _quarter(m, ref) if not (m["y"] or "").startswith("'") else None,
        False,
        "start:in q first second third fourth",
    ),
    (
        re.compile(
            rf"\bin\s+(?P<n>\d{{1,2}}|{_NUMBER_RE})\s+(?P<unit>days?|weeks?|months?)\b",
            re.IGNORECASE,
        ),
        _in_count,
        False,
        "start:in",
    ),
    (
        re.compile(r"\bon\s+the\s+(?P<d>\d{1,2})(?:st|nd|rd|th)\b", re.IGNORECASE),
        _ordinal_day,
        True,
        "start:on",
    ),
    (
        re.compile(
            r"\b(?:tomorrow|next week|end of (?:the |this )?week|next month|"
            r"end of (?:the |this )?month|month[- ]end|next quarter|end of (?:the |this )?year|"
            r"year[- ]end|next year|after (?:the )?(?:holidays|new year|christmas|xmas|"
            r"festive season|summer|easter)|in the new year|"
            r"nächste woche|naechste woche|nächsten monat|nächstes jahr|"
            r"la semaine prochaine|le mois prochain|l'année prochaine|"
            r"la próxima semana|la semana que viene|el próximo mes|el próximo año|"
            r"volgende week|volgende maand|volgend jaar|"
            r"(?:na |a )?próxima semana|o próximo mês)\b",
            re.IGNORECASE,
        ),
        _relative,
        False,
        "start:tomorrow next end month year after in nächste naechste nächsten nächstes la le l "
        "el volgende volgend na a o",
    ),
    (
        re.compile(rf"\b(?P<wd>{_WEEKDAY_RE})\b\.?", re.IGNORECASE),
        _weekday,
        False,
        "weekday-start",
    ),
)
_WORD = re.compile(r"[^\W\d_]+")
_DIGIT = re.compile(r"\d")
_MAX_CHARS = 4000  # dates that matter come early in a reply


_ANCHORS: dict[str, frozenset[str] | dict[str, int]] = {
    "month-start": MONTHS,
    "weekday-start": WEEKDAYS,
    **{gate: frozenset(gate[6:].split()) for *_, gate in _RULES if gate.startswith("start:")},
}


def _gate_open(gate: str, lower: str, words: set[str], has_digit: bool) -> bool:
    if gate == "digit":
        return has_digit
    if gate == "month":
        return not words.isdisjoint(MONTHS)
    if gate == "weekday":
        return not words.isdisjoint(WEEKDAYS)
    return any(word in lower for word in gate.split(" ") if word) or (
        gate == "in " and "in " in lower
    )


def find(text: str, ref: date) -> list[FoundDate]:
    """Every date the text names, in reading order, without overlaps."""
    text = text[:_MAX_CHARS]
    lower = text.lower()
    spans = [(m.group(0).lower(), m.start()) for m in _WORD.finditer(text)]
    words = {word for word, _ in spans}
    has_digit = _DIGIT.search(text) is not None
    found: list[FoundDate] = []
    taken: list[tuple[int, int]] = []
    for pattern, handler, exact, gate in _RULES:
        if gate in _ANCHORS:
            names = _ANCHORS[gate]
            starts = [start for word, start in spans if word in names]
            matches = [m for m in (pattern.match(text, start) for start in starts) if m]
        elif _gate_open(gate, lower, words, has_digit):
            matches = list(pattern.finditer(text))
        else:
            continue
        for match in matches:
            start, end = match.span()
            if any(start < e and s < end for s, e in taken):
                continue
            try:
                day = handler(match, ref)
            except (ValueError, OverflowError, KeyError):
                day = None
            if day is None:
                continue
            taken.append((start, end))
            found.append(FoundDate(day, start, end, exact))
    found.sort(key=lambda f: f.start)
    return found


def dates_in(text: str, ref: date) -> list[date]:
    """The distinct dates a text names, in reading order."""
    seen: list[date] = []
    for item in find(text, ref):
        if item.day not in seen:
            seen.append(item.day)
    return seen


def iter_days(found: list[FoundDate]) -> Iterator[date]:
    """The days of found dates, in order."""
    for item in found:
        yield item.day
