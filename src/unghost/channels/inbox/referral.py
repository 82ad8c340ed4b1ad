"""Who a referral points to: a name and an address read from the reply's new text.

Deliberately modest (English wording, the forms people really write): "Jane Doe
<jane@x.com>", "Jane Doe (jane@x.com)", "talk to my colleague Jane Doe",
"jane.doe@x.com handles this". When the text names nobody we can read, the result is
None and the seller completes the referral by hand; a wrong guess would be worse than
none, so capitalised words count as a name only after a cue or next to an address.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_ADDRESS = r"[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
_EMAIL = re.compile(rf"(?<![\w.+-]){_ADDRESS}")
# One to four capitalised words, with the particles of many surnames between them.
_WORD = r"(?:[A-ZÀ-ÖØ-Þ]\.|[A-ZÀ-ÖØ-Þ][\w'’-]*)"  # "Jane", "O'Neil", or an initial "J."
_NAME = rf"{_WORD}(?:[ \t]+(?:(?:van|von|de|der|den|da|du|del|la|le|di|ter)[ \t]+)*{_WORD}){{0,3}}"
_BEFORE_ADDRESS = re.compile(
    rf"(?P<name>{_NAME})[ \t]*(?:<|\(|\[|,|:|-|–|—|(?i:at|on|via))?[ \t]*"
    rf"(?:mailto:)?(?P<email>{_ADDRESS})"
)
_ROLE = (
    r"(?:(?:my|our|the)[ \t]+)?(?:(?:new[ \t]+)?(?:colleague|boss|manager|cfo|cto|ceo|coo|vp|"
    r"head[ \t]+of[ \t]+\w+|director|partner|assistant|successor|replacement|controller|"
    r"team[ \t]+lead|lead)[ \t]*,?[ \t]+)?"
)
_CUE = re.compile(
    r"(?i:talk(?:ing)?|speak(?:ing)?|chat)[ \t]+(?i:to|with)[ \t]+"
    rf"{_ROLE}(?P<a>{_NAME})|"
    r"(?i:contact(?:ing)?|reach(?:ing)?[ \t]+out[ \t]+to|get[ \t]+in[ \t]+touch[ \t]+with|ask|"
    r"e-?mail|write[ \t]+to|loop(?:ed|ing)?[ \t]+in|connect[ \t]+with|cc'?e?d|copied|"
    r"forward(?:ed|ing)?[ \t]+(?:this|it|your[ \t]+\w+)[ \t]+to|"
    r"pass(?:ed|ing)?[ \t]+(?:this|it|you)[ \t]+(?:along|on)[ \t]+to)[ \t]+"
    rf"{_ROLE}(?P<b>{_NAME})|"
    rf"(?P<c>{_NAME})[ \t]+(?i:handles|manages|is[ \t]+in[ \t]+charge[ \t]+of|"
    r"is[ \t]+responsible[ \t]+for|owns|looks[ \t]+after|took[ \t]+over|is[ \t]+the[ \t]+right)"
)
# Capitalised words that begin sentences or name no one.
_NOT_NAMES = frozenset(
    str.split(
        "i me my we us our you your he him his she her they them their it this that there "
        "the a an someone somebody anyone everyone nobody he's she's who whom please thanks "
        "thank hi hello dear monday tuesday wednesday thursday friday saturday sunday "
        "january february march april may june july august september october november december "
        "team sales finance procurement legal support it hr try contact email ask reach write "
        "cc talk speak"
    )
)


@dataclass(frozen=True)
class Referral:
    """The person a reply points to; `email` is None when only a name was given."""

    name: str
    email: str | None


def find_referral(text: str, *, exclude: Iterable[str] = ()) -> Referral | None:
    """The person the text refers the seller to, if it names one we can read.

    Addresses in `exclude` (the sender's, the owner's) are never the referral.
    """
    excluded = {address.lower() for address in exclude}
    addresses = [
        found.rstrip(".")
        for found in _EMAIL.findall(text)
        if found.rstrip(".").lower() not in excluded
    ]
    if addresses:
        email = addresses[0]
        return Referral(
            _name_next_to(text, email) or _name_after_cue(text) or _from_local(email), email
        )
    name = _name_after_cue(text)
    return Referral(name, None) if name else None


def _name_next_to(text: str, email: str) -> str | None:
    for match in _BEFORE_ADDRESS.finditer(text):
        if match["email"].rstrip(".").lower() == email.lower():
            return _clean(match["name"])
    return None


def _name_after_cue(text: str) -> str | None:
    for match in _CUE.finditer(text):
        name = _clean(match["a"] or match["b"] or match["c"] or "")
        if name:
            return name
    return None


def _clean(name: str) -> str | None:
    words = name.split()
    while words and words[0].lower().rstrip(".") in _NOT_NAMES:
        words.pop(0)
    while words and words[-1].lower().rstrip(".") in _NOT_NAMES:
        words.pop()
    if not words or (len(words) == 1 and len(words[0]) < 2):
        return None
    return " ".join(words).rstrip(".,")


def _from_local(email: str) -> str:
    """ "jane.doe@x" → "Jane Doe"; a local part without separators stays the address."""
    local = email.partition("@")[0]
    parts = [p for p in re.split(r"[._-]+", local) if p.isalpha()]
    if len(parts) >= 2:
        return " ".join(p.capitalize() for p in parts)
    return email
