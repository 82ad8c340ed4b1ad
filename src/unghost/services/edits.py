"""Editing a deal's and a contact's fields by hand: the Deal page's forms and
`PATCH /api/deals/{deal}`, `PATCH /api/contacts/{contact}`.

Only the fields given change. Every value is checked as an import checks it (services/checks):
addresses validated, phone numbers read in the owner's country and stored in E.164, time
zones from the tz database, dates strictly YYYY-MM-DD, lengths bounded. A bad value raises
`FieldErrors` naming every bad field, and nothing is written; a good edit is saved and the
deals it touches are replanned at once, so *Today* and the deal's cadence follow it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from unghost.domain.calendar import zone
from unghost.domain.model import STAGES, URGENCIES
from unghost.domain.playbook import Playbook
from unghost.errors import BadInput, Conflict, NotFound
from unghost.services import checks
from unghost.services import plan as planning
from unghost.services.browse import find_deal
from unghost.services.checks import quote
from unghost.services.reactions import deals_involving
from unghost.store import models as m

# Control characters have no place in a name or a note (and PostgreSQL refuses NUL).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
EARLIEST, LATEST = date(2000, 1, 1), date(2099, 12, 31)


class FieldErrors(BadInput):
    """Some fields are wrong; `fields` maps each to what is wrong with it."""

    def __init__(self, fields: Mapping[str, str]) -> None:
        self.fields = dict(fields)
        super().__init__("; ".join(f"{name}: {message}" for name, message in self.fields.items()))


Check = Callable[[Any, str], Any]


def _clean(check: Check) -> Check:
    """`check`, after refusing control characters and text that cannot be stored."""

    def run(value: Any, where: str) -> Any:
        if isinstance(value, str):
            if _CONTROL.search(value):
                raise BadInput(f"{where}: contains control characters")
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise BadInput(f"{where}: is not valid text") from None
        return check(value, where)

    return run


def _line(max_len: int, *, required: bool = False) -> Check:
    return _clean(lambda v, where: checks.one_line(v, where, max_len=max_len, required=required))


def _text(max_len: int) -> Check:
    return _clean(lambda v, where: checks.text(v, where, max_len=max_len))


def _one_of(options: tuple[str, ...]) -> Check:
    def run(value: Any, where: str) -> str:
        if value is None or value == "":
            raise BadInput(f"{where}: required")
        out = checks.choice(value, where, options, default=None)
        assert out is not None
        return out

    return run


def _flag(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise BadInput(f"{where}: must be true or false")
    return value


def _day(value: Any, where: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        value = value.isoformat()
    out = checks.day(value.strip() if isinstance(value, str) else value, where)
    if out is not None and not EARLIEST <= out <= LATEST:
        raise BadInput(f"{where}: must be a date between {EARLIEST} and {LATEST}")
    return out


def _url(value: Any, where: str) -> str | None:
    # The column holds 500 characters: say so rather than fail to store it.
    return checks.url(_line(500)(value, where), where)


DEAL_FIELDS: dict[str, Check] = {
    "title": _line(300, required=True),
    "urgency": _one_of(URGENCIES),
    "problem": _text(10_000),
    "benefits": _text(10_000),
    "cost_of_inaction": _text(10_000),
    "stage": _one_of(STAGES),
    "proposal_expires_at": _day,
}

CONTACT_FIELDS: dict[str, Check] = {
    "name": _line(200, required=True),
    "first_name": _line(100),
    "email": _clean(checks.email),
    "phone": _line(40),  # read in the owner's country by update_contact
    "company": _line(200),
    "title": _line(200),
    "timezone": _clean(checks.timezone),
    "linkedin": _url,
    "humor_ok": _flag,
    "nearby": _flag,
    "do_not_contact": _flag,
}


def _checked(fields: Mapping[str, Any], known: Mapping[str, Check], what: str) -> dict[str, Any]:
    """The given fields, each checked and normalised; FieldErrors naming every bad one."""
    out: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, value in fields.items():
        check = known.get(name)
        if check is None:
            errors[str(name)[:60]] = f"not a field of a {what}"
            continue
        try:
            out[name] = check(value, name)
        except BadInput as exc:
            errors[name] = exc.message.removeprefix(f"{name}: ")
    if errors:
        raise FieldErrors(errors)
    return out


def update_deal(
    session: Session,
    owners: list[int],
    key: str,
    fields: Mapping[str, Any],
    now: datetime,
    playbook: Playbook,
) -> dict[str, Any]:
    """Change the given fields of one of these owners' deals and replan it; returns the deal
    as `deal_json` shows it. NotFound for another owner's deal, FieldErrors for bad values."""
    row = find_deal(session, owners, key)
    values = _checked(fields, DEAL_FIELDS, "deal")
    for name, value in values.items():
        setattr(row, name, value)
    session.flush()
    planned = planning.plan(session, [row.owner_id], now, playbook=playbook, deal_ids=[row.id])
    return deal_json(row, planned[0] if planned else None)


def find_contact(session: Session, owners: list[int], key: str) -> m.Contact:
    """The contact with this id among these owners' contacts, else NotFound."""
    found = list(
        session.scalars(
            select(m.Contact).where(m.Contact.key == key, m.Contact.owner_id.in_(owners)).limit(2)
        )
    )
    if not found:
        raise NotFound(f"no contact {quote(key)}")
    if len(found) > 1:
        raise Conflict(f"several users have a contact {quote(key)}: edit it from one of its deals")
    return found[0]


def update_contact(
    session: Session,
    owners: list[int],
    key: str,
    fields: Mapping[str, Any],
    now: datetime,
    playbook: Playbook,
) -> dict[str, Any]:
    """Change the given fields of one of these owners' contacts and replan the open deals
    they take part in; returns the contact as `contact_json` shows it."""
    row = find_contact(session, owners, key)
    owner = session.get_one(m.User, row.owner_id)
    region = owner.country
    known = {
        **CONTACT_FIELDS,
        "phone": _clean(lambda v, where: checks.phone(v, where, region=region)),
    }
    values = _checked(fields, known, "contact")
    if values.get("do_not_contact") is False and row.do_not_contact:
        asked = _unsubscribed(session, row)
        if asked is not None:
            message = f"they asked to hear no more on {asked:%d %B %Y}; that stands for ever"
            raise FieldErrors({"do_not_contact": message})
    if "email" in values and (values["email"] or "").lower() != (row.email or "").lower():
        row.email_bad = False  # a new address has not bounced yet
    for name, value in values.items():
        setattr(row, name, value)
    session.flush()
    deals = deals_involving(session, row.owner_id, row.id)
    if deals:
        planning.plan(session, [row.owner_id], now, playbook=playbook, deal_ids=deals)
    return contact_json(row)


def _unsubscribed(session: Session, contact: m.Contact) -> datetime | None:
    """When a reply from this contact asked to unsubscribe, if one did."""
    intent = func.coalesce(m.Reply.corrected_intent, m.Reply.intent)
    return session.scalar(
        select(m.Reply.received_at)
        .where(m.Reply.owner_id == contact.owner_id, m.Reply.contact_id == contact.id)
        .where(intent == "unsubscribe")
        .order_by(m.Reply.received_at)
        .limit(1)
    )


def deal_json(row: m.Deal, planned: planning.Planned | None) -> dict[str, Any]:
    """A deal's editable fields, with its state and next step after the last plan."""
    nxt = planned.plan.next if planned is not None else None
    tz = zone(planned.owner.timezone) if planned is not None else zone("UTC")
    return {
        "deal": row.key,
        "title": row.title,
        "urgency": row.urgency,
        "problem": row.problem,
        "benefits": row.benefits,
        "cost_of_inaction": row.cost_of_inaction,
        "stage": row.stage,
        "proposal_expires_at": row.proposal_expires_at.isoformat()
        if row.proposal_expires_at
        else None,
        "state": planned.plan.assessment.state if planned is not None else row.state,
        "reasons": list(planned.plan.assessment.reasons) if planned is not None else [],
        "next": {
            "play": nxt.play,
            "channel": nxt.channel,
            "due": nxt.due.astimezone(tz).isoformat(),
        }
        if nxt is not None
        else None,
    }


def contact_json(row: m.Contact) -> dict[str, Any]:
    """A contact's editable fields, and whether their address has bounced."""
    return {
        "contact": row.key,
        "name": row.name,
        "first_name": row.first_name,
        "email": row.email,
        "email_bad": row.email_bad,
        "phone": row.phone,
        "company": row.company,
        "title": row.title,
        "timezone": row.timezone,
        "linkedin": row.linkedin,
        "humor_ok": row.humor_ok,
        "nearby": row.nearby,
        "do_not_contact": row.do_not_contact,
    }
