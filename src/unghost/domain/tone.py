"""The tone check: warnings for a draft that breaks PRODUCT §4 rule 4, "relationship first".

A draft should carry no ultimatum, guilt or pressure before the closing plays, speak of the
prospect more than of the seller, ask for one thing at most, give one easy way to answer,
and stay short. `check_tone` returns human-readable warnings, each starting with its kind
("ultimatum: …", "guilt: …", "pressure: …", "self-focus: …", "asks: …",
"no easy answer: …", "length: …"); an empty list means the draft is clean.

The phrase lists below are data: English regular expressions, matched case-insensitively.
Quoted text (“…”, «…», "…") is the prospect's own words and is left out of every count
except the length.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MAX_WORDS = 150

_DAY = (
    r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|tomorrow|tonight|"
    r"noon|midnight|the end of (?:the )?(?:day|week|month)|end of (?:day|week|month)|"
    r"eod|eow|\d{1,2}(?::\d\d)?(?:st|nd|rd|th|am|pm)?)"
)

# 004: the message that ends in "…or I'll assume you're not interested" loses the prospect.
ULTIMATUMS: tuple[str, ...] = (
    r"\bif (?:i|we) (?:don'?t|do not|haven'?t|have not) hear(?:d)?\b",
    r"\bif you (?:don'?t|do not) (?:call|reply|respond|answer|write|get back)\b",
    r"\blast chance\b",
    r"\bassume (?:that )?you(?:'re| are) (?:not|no longer) interested\b",
    r"\bor else\b",
    rf"\bby {_DAY},? or\b",
    r"\b(?:i|we)(?:'ll| will| shall) (?:move on|close (?:your|the) file|withdraw|"
    r"stop (?:reaching out|writing|calling|emailing|contacting))\b",
    r"\b(?:i|we)(?:'ll| will) (?:assume|take it)\b",
    r"\b(?:be|is|gets?|being) withdrawn\b",
    r"\b(?:file|proposal|offer|quote|terms)\b[^.?!\n]{0,30}\b(?:withdrawn|closed|cancell?ed|"
    r"discarded|lapses?|expires?)\b",
    r"\bthe last (?:you(?:'ll| will) hear|(?:email|message|note) you(?:'ll| will) get)\b",
    r"\bdiscard (?:your|the) (?:file|proposal|quote)\b",
    r"\bfinal (?:notice|warning|reminder)\b",
    r"\bno longer (?:be )?(?:valid|available)\b",
)

# 001, 003: reproaching the prospect for the silence makes answering harder, not easier.
GUILT: tuple[str, ...] = (
    r"\b(?:i|we)(?:'ve| have) (?:tried|called|emailed|written|reached out|left)\b"
    r"[^.?!\n]{0,40}\b(?:several|many|multiple|numerous|countless|a few|\w+) times\b",
    r"\b(?:several|many|multiple|numerous|repeated) (?:attempts|tries|calls|emails|messages)\b",
    r"\b(?:i|we)(?:'ve| have) been trying to (?:reach|contact|get hold of) you\b",
    r"\byou (?:never|haven'?t|have not|didn'?t|did not) (?:yet )?(?:replied|reply|responded|"
    r"respond|answered|answer|returned|return|got back|gotten back|get back|called|call)\b",
    r"\bstill waiting\b",
    r"\bwaiting (?:to hear|for (?:your|a|an) (?:reply|response|answer))\b",
    r"\b(?:feel|feeling|becoming|being|like) (?:a|an) (?:pest|nuisance|nag|stalker|bother)\b",
    r"\b(?:pester|pestering|nagging|bugging you|chasing you)\b",
    r"\bignor(?:ed|ing) (?:me|us|my|our)\b",
    r"\byet another (?:email|message|note|reminder|call)\b",
    r"\bmy (?:last|previous|earlier) (?:\w+ )?(?:emails?|messages?|notes?|voicemails?|calls?)\b",
    r"\bas (?:i|we) (?:said|mentioned|wrote) (?:before|earlier|previously)\b",
    r"\b(?:checking|following) (?:in|up) (?:again|once more)\b",
    r"\bsorry to (?:bother|chase|pester|bug) you\b",
    r"\b(?:i'?m|i am|we'?re|we are) (?:so |very |a bit |a little )?disappointed\b",
)

PRESSURE: tuple[str, ...] = (
    r"\bact (?:now|fast|quickly|today)\b",
    r"\bdon'?t miss\b",
    r"\blimited[- ]time\b",
    r"\burgent(?:ly)?\b",
    r"\basap\b",
    r"\bas soon as possible\b",
    r"\bhurry\b",
    r"\bbefore it'?s too late\b",
    r"\b(?:time is running out|running out of time)\b",
    r"\bnow or never\b",
    r"\btoday only\b",
    r"\bdeadline\b",
    r"\b(?:only|just) \d+ (?:spots?|places?|seats?|days? left)\b",
    r"\bexpires? (?:soon|today|tomorrow|tonight)\b",
)

# Imperative requests; a sentence that ends in "?" is an ask whatever its words.
ASKS: tuple[str, ...] = (
    r"\blet (?:me|us) know\b",
    r"\bplease (?:call|ring|reply|respond|write|tell|send|let|get back|confirm|pick|choose|"
    r"book|schedule|advise|share|forward|sign)\b",
    r"\b(?:call|ring|phone|email|text) me\b",
    r"\bgive me a (?:call|ring|shout)\b",
    r"\bdrop me a (?:line|note)\b",
    r"\bget back to (?:me|us)\b",
    r"\breply with\b",
    r"\bhit reply\b",
    r"\b(?:pick|choose) (?:one|a time|a slot|a date|whichever)\b",
    r"\bbook (?:a|some) (?:time|slot|call)\b",
    r"\b(?:send|tell) (?:me|us)\b",
    r"\b(?:i|we)(?:'d| would) (?:love|like) to (?:hear|know)\b",
)

# Ways of inviting an answer that are not themselves a request.
INVITATIONS: tuple[str, ...] = (
    r"\b(?:one|single|two|three)[- ](?:line|word|sentence|letter)\b",
    r"\b(?:quick|short|brief) (?:reply|note|answer|word|line)\b",
    r"\ba word or two\b",
    r"\ba (?:line|word|note) back\b",
    r"\breply (?:is|would be|will be) (?:plenty|enough|welcome|perfect|fine)\b",
    r"\b(?:just|simply) (?:reply|answer|respond)\b",
    r"\b(?:reply|answer|write back) whenever\b",
    r"\bmy (?:door|inbox|line) (?:is|stays) open\b",
    r"\b(?:always|happy|glad) to hear from you\b",
)

_FIRST_PERSON = r"\b(?:i|me|my|mine|myself|we|us|our|ours|ourselves)\b"
_SECOND_PERSON = r"\b(?:you|your|yours|yourself|yourselves)\b"
_QUOTED = re.compile(r"“[^”\n]*”|«[^»\n]*»|\"[^\"\n]*\"")
_WORD = re.compile(r"[\w'’-]+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


def _compile(patterns: Iterable[str]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p, re.IGNORECASE) for p in patterns)


def _any(patterns: Iterable[str]) -> re.Pattern[str]:
    """One pattern matching where any of them does: a single scan for the common clean case."""
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


_ULTIMATUMS = _compile(ULTIMATUMS)
_GUILT = _compile(GUILT)
_PRESSURE = _compile(PRESSURE)
_ASKS = _compile(ASKS)
_INVITATIONS = _compile(INVITATIONS)
_ANY = {id(_ULTIMATUMS): _any(ULTIMATUMS), id(_GUILT): _any(GUILT), id(_PRESSURE): _any(PRESSURE)}
_ANY_ASK = _any(ASKS)
_ANY_INVITATION = _any(INVITATIONS)
_FIRST = re.compile(_FIRST_PERSON, re.IGNORECASE)
_SECOND = re.compile(_SECOND_PERSON, re.IGNORECASE)


def without_signature(body: str) -> str:
    """The body without its sign-off: what follows a "-- " line, else a short last paragraph."""
    lines = body.strip().splitlines()
    for i, line in enumerate(lines):
        if line.rstrip() == "--":
            return "\n".join(lines[:i]).strip()
    paragraphs = re.split(r"\n\s*\n", body.strip())
    if len(paragraphs) < 2:
        return body.strip()
    last = paragraphs[-1].splitlines()
    if len(last) <= 4 and all(len(line.split()) <= 8 and "?" not in line for line in last):
        return "\n\n".join(paragraphs[:-1]).strip()
    return body.strip()


def count_words(text: str) -> int:
    """The number of words in `text`, as the length rule counts them."""
    return len(_WORD.findall(text))


def count_asks(text: str) -> int:
    """How many sentences of `text` ask something: a question, or a request ("let me know")."""
    asks = 0
    for sentence in _SENTENCE_END.split(_QUOTED.sub("…", text)):
        sentence = sentence.strip()
        if sentence.endswith("?") or _ANY_ASK.search(sentence):
            asks += 1
    return asks


def _phrases(patterns: tuple[re.Pattern[str], ...], text: str) -> list[str]:
    """The distinct stretches of `text` that the patterns match, overlaps counted once."""
    quick = _ANY.get(id(patterns))
    if quick is not None and not quick.search(text):
        return []
    spans: list[tuple[int, int]] = []
    for pattern in patterns:
        for match in pattern.finditer(text):
            if not any(match.start() < end and start < match.end() for start, end in spans):
                spans.append(match.span())
    return [f'"{text[start:end]}"' for start, end in sorted(spans)]


def check_tone(subject: str, body: str, *, pressure_ok: bool = False) -> list[str]:
    """Warnings about a draft's tone, each led by its kind; empty when the draft is clean.

    `pressure_ok` (the closing plays: go-for-no, proposal-expiry, final-call) allows
    ultimatums, deadlines and consequences. Counts leave out the signature and quotes.
    """
    text = without_signature(body)
    own = _QUOTED.sub("…", text)
    both = f"{_QUOTED.sub('…', subject)}\n{own}"
    warnings: list[str] = []
    if not pressure_ok:
        for kind, patterns, effect in (
            ("ultimatum", _ULTIMATUMS, "sounds like an ultimatum"),
            ("guilt", _GUILT, "reproaches the prospect for the silence"),
            ("pressure", _PRESSURE, "pushes the prospect"),
        ):
            phrases = _phrases(patterns, both)
            if phrases:
                warnings.append(f"{kind}: {', '.join(phrases)} ({effect})")
    mine = len(_FIRST.findall(own))
    yours = len(_SECOND.findall(own))
    if mine > yours:
        warnings.append(
            f"self-focus: {mine} first-person words (I, we, my…) against {yours} "
            "second-person ones (you, your); speak of the prospect's success"
        )
    asks = count_asks(text)
    if asks > 1:
        warnings.append(f"asks: {asks} questions or requests; keep one")
    if asks == 0 and not _ANY_INVITATION.search(own):
        warnings.append(
            "no easy answer: add one simple question or an invitation like "
            '"a one-line reply is plenty"'
        )
    words = count_words(text)
    if words > MAX_WORDS:
        warnings.append(f"length: {words} words; keep it to {MAX_WORDS} at most")
    return warnings
