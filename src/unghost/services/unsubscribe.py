"""Signed unsubscribe tokens for the `List-Unsubscribe` link (RFC 8058's one-click POST).

A token names a contact and its owner and carries an HMAC-SHA256 under a key derived
from the secret key, so nobody can unsubscribe someone else by guessing numbers:
`<contact id>.<owner id>.<signature>`, URL-safe. The web endpoint `/u/{token}` reads it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from unghost.domain.playbook import Playbook
from unghost.errors import BadInput
from unghost.services import plan as planning
from unghost.services.reactions import contacts_with, deals_involving
from unghost.services.secretkey import SecretKey
from unghost.store import models as m

_TOKEN = re.compile(r"([1-9][0-9]{0,18})\.([1-9][0-9]{0,18})\.([A-Za-z0-9_-]{22})")


def make_token(contact_id: int, owner_id: int, key: SecretKey) -> str:
    """The token that unsubscribes this contact from this owner's mail."""
    return f"{contact_id}.{owner_id}.{_signature(contact_id, owner_id, key)}"


def read_token(token: str, key: SecretKey) -> tuple[int, int]:
    """The (contact id, owner id) a genuine token names; anything else is `BadInput`."""
    match = _TOKEN.fullmatch(token.strip())
    if match is None:
        raise BadInput("not an unsubscribe link of this unghost")
    contact_id, owner_id = int(match[1]), int(match[2])
    if not hmac.compare_digest(match[3], _signature(contact_id, owner_id, key)):
        raise BadInput("not an unsubscribe link of this unghost")
    return contact_id, owner_id


def unsubscribe_url(public_url: str, contact_id: int, owner_id: int, key: SecretKey) -> str:
    """The https link of the `List-Unsubscribe` header, served by the web app."""
    return f"{public_url.rstrip('/')}/u/{make_token(contact_id, owner_id, key)}"


def unsubscribe_contact(
    session: Session, contact_id: int, owner_id: int, now: datetime, *, playbook: Playbook
) -> bool:
    """Do-not-contact, at once and for ever, for the contact a token names and every contact
    of the owner with the same address; their open deals are replanned (so their steps are
    cancelled). Returns False when the contact no longer exists. Repeating it changes nothing.
    """
    contact = session.get(m.Contact, contact_id)
    if contact is None or contact.owner_id != owner_id:
        return False
    people = contacts_with(session, contact.email, [owner_id]) or [contact]
    deals: set[int] = set()
    for person in people:
        person.do_not_contact = True
        deals.update(deals_involving(session, owner_id, person.id))
        _record(session, person, now)
    session.flush()
    if deals:
        planning.plan(session, [owner_id], now, playbook=playbook, deal_ids=sorted(deals))
    return True


def _record(session: Session, person: m.Contact, now: datetime) -> None:
    """Keep the request as a reply read as "unsubscribe" (once), so it shows on the Replies
    page and the do-not-contact flag cannot be cleared by hand later."""
    marker = f"<unsubscribe-link.{person.id}@unghost.invalid>"
    found = session.scalar(
        select(m.Reply.id).where(m.Reply.owner_id == person.owner_id, m.Reply.message_id == marker)
    )
    if found is not None:
        return
    session.add(
        m.Reply(
            owner_id=person.owner_id,
            contact_id=person.id,
            message_id=marker,
            received_at=now,
            from_address=person.email,
            subject="Unsubscribe (the one-click link)",
            intent="unsubscribe",
            confidence=1.0,
            dates=[],
            handled_at=now,
            reaction=f"{person.name}: do not contact, for ever (asked through the link)",
        )
    )


def _signature(contact_id: int, owner_id: int, key: SecretKey) -> str:
    digest = hmac.new(
        key.signing_key("unsubscribe"), f"{contact_id}.{owner_id}".encode(), hashlib.sha256
    ).digest()
    # 128 bits are plenty for a link; 22 characters keep it short.
    return base64.urlsafe_b64encode(digest[:16]).decode("ascii").rstrip("=")
