"""Composing a step's draft: the template context, the variant, and "never the same twice".

Pure: the planner hands in the deal, its people, what was already sent to each
person and the proposed times; this module renders variants in the sandbox and
rejects any draft too close to something that person already received (001:
"not the same one over and over").
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from rapidfuzz import fuzz, process

from unghost.domain.calendar import BusinessCalendar
from unghost.domain.model import Contact, ContentItem, Deal, Owner
from unghost.domain.playbook import Draft, Play, Variant, render
from unghost.domain.slots import Slot, format_slot


@dataclass
class Sent:
    """What one person has already received from this owner, on any deal."""

    variants: set[str] = field(default_factory=set)
    content: set[str] = field(default_factory=set)
    bodies: list[str] = field(default_factory=list)


def greeting(c: Contact) -> str:
    """How to address a contact: their first name on file, else the first word of the name."""
    return c.first_name or first_name(c.name)


def first_name(name: str) -> str:
    return name.split()[0] if name.split() else name


def _person(c: Contact | None) -> dict[str, object] | None:
    if c is None:
        return None
    return {"name": c.name, "first_name": greeting(c), "company": c.company or ""}


def long_day(d: date) -> str:
    """ "Tuesday 1 December" """
    return f"{d:%A} {d.day} {d:%B}"


def month_part(d: date) -> str:
    """ "early March", "mid-March", "late March" """
    part = "early" if d.day <= 10 else "mid-" if d.day <= 20 else "late"
    return f"{part}{'' if part.endswith('-') else ' '}{d:%B}"


def proposal_expiry(deal: Deal, default_days: int) -> date | None:
    """The proposal's expiry; a proposal sent without one is given `default_days` (003 #6)."""
    p = deal.proposal
    if p is None:
        return None
    if p.expires_at is not None:
        return p.expires_at
    if p.sent_at is not None:
        return date.fromordinal(p.sent_at.date().toordinal() + default_days)
    return None


def context(
    *,
    owner: Owner,
    deal: Deal,
    contact: Contact,
    recipient: Contact,
    people: Mapping[str, Contact],
    cal: BusinessCalendar,
    content: ContentItem | None,
    times: Sequence[Slot],
    last_meeting: datetime | None,
    check_back: date,
    proposal_default_days: int,
) -> dict[str, object]:
    """The fixed set of template fields (playbook.FIELDS) for one draft."""
    referrer = people.get(deal.referrer or "") or people.get(deal.advocate or "")
    assistant = people.get(contact.assistant or "")
    proposal: dict[str, object] | None = None
    if deal.proposal is not None:
        expires = proposal_expiry(deal, proposal_default_days)
        amount = deal.proposal.amount
        proposal = {
            "sent_on": f"{deal.proposal.sent_at.astimezone(cal.zone):%-d %B}"
            if deal.proposal.sent_at
            else "",
            "expires_on": long_day(expires) if expires else "",
            "amount": f"{deal.proposal.currency or ''} {amount:,.0f}".strip() if amount else "",
        }
    return {
        "owner": {
            "name": owner.name,
            "first_name": first_name(owner.name),
            "email": owner.email,
            "phone": owner.phone or "",
            "signature": owner.signature or owner.name,
        },
        "contact": {
            "name": contact.name,
            "first_name": greeting(contact),
            "company": contact.company or "",
            "title": contact.title or "",
            "interest": contact.interests[0] if contact.interests else "",
            "interests": list(contact.interests),
        },
        "deal": {
            "title": deal.title,
            "problem": deal.problem or "",
            "benefits": deal.benefits or "",
            "cost_of_inaction": deal.cost_of_inaction or "",
            "urgency": deal.urgency,
            "permission_to_say_no": deal.permission_to_say_no,
        },
        "proposal": proposal,
        "referrer": _person(referrer),
        "assistant": _person(assistant),
        "content": {
            "title": content.title,
            "url": content.url or "",
            "summary": content.summary or "",
        }
        if content
        else None,
        "times": [format_slot(s) for s in times],
        "last_meeting": long_day(last_meeting.astimezone(cal.zone).date())
        if last_meeting
        else None,
        "check_back": month_part(check_back),
        "recipient": {"name": recipient.name, "first_name": greeting(recipient)},
    }


_WORD = re.compile(r"[a-z0-9]+")


def matching_content(
    deal: Deal, items: Sequence[ContentItem], already: set[str]
) -> ContentItem | None:
    """The content item that best matches the deal's tags and problem, never sent before."""
    tags = {t.lower() for t in deal.tags}
    words = set(_WORD.findall((deal.problem or "").lower()))
    best: tuple[int, int, ContentItem] | None = None
    for i, item in enumerate(items):
        if item.key in already:
            continue
        item_tags = {t.lower() for t in item.tags}
        score = 3 * len(tags & item_tags) + len(words & item_tags)
        if score and (best is None or score > best[0]):
            best = (score, -i, item)
    return best[2] if best else None


def similarity(draft: str, sent: Sequence[str]) -> float:
    """How close a draft is to the closest message already sent (0..1)."""
    if not sent:
        return 0.0
    hit = process.extractOne(_norm(draft), [_norm(s) for s in sent], scorer=fuzz.ratio)
    return hit[1] / 100 if hit else 0.0


def _norm(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


@dataclass(frozen=True)
class Choice:
    """The variant picked for a play and its draft, or why none could be."""

    variant: Variant | None
    draft: Draft | None
    note: str = ""


def fresh_variants(play: Play, deal_key: str, sent: Sent) -> list[Variant]:
    """The play's variants this person never received, in the order this deal tries them."""
    fresh = [v for v in play.variants if v.id not in sent.variants]
    if not fresh:
        return []
    start = zlib.crc32(deal_key.encode()) % len(fresh)
    return fresh[start:] + fresh[:start]


def all_sent(play: Play, recipient: Contact) -> str:
    """Why a play is passed over when every one of its variants went to the recipient."""
    return f"every variant of {play.id} already went to {recipient.name}"


def choose_variant(
    play: Play,
    deal_key: str,
    recipient: Contact,
    sent: Sent,
    ctx: Mapping[str, object],
    threshold: float,
) -> Choice:
    """The first fresh variant (rotated per deal) whose draft is not too close to anything sent."""
    fresh = fresh_variants(play, deal_key, sent)
    if not fresh:
        return Choice(None, None, all_sent(play, recipient))
    closest = 0.0
    for v in fresh:
        draft = render(v, ctx)
        score = similarity(draft.body, sent.bodies)
        if score < threshold:
            return Choice(v, draft)
        closest = max(closest, score)
    return Choice(
        None,
        None,
        f"every fresh variant of {play.id} reads too close ({closest:.0%}) to something "
        f"{recipient.name} already received",
    )
