"""Recording touches by hand (`unghost log`, the web's "log outcome")."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from unghost.domain.model import CHANNELS, DIRECTIONS, OUTCOMES
from unghost.domain.playbook import Playbook
from unghost.errors import BadInput, NotFound
from unghost.services import checks
from unghost.services.browse import find_deal
from unghost.services.checks import quote
from unghost.services.plan import plan
from unghost.services.touchrows import touch_fingerprint
from unghost.store import models as m


def record_touch(
    session: Session,
    owners: list[int],
    *,
    deal: str,
    channel: str,
    direction: str,
    at: datetime,
    outcome: str | None = None,
    contact: str | None = None,
    subject: str | None = None,
    body: str | None = None,
    play: str | None = None,
) -> m.Touch:
    """Store one touch on a deal; the deal's contact unless another is named."""
    row = find_deal(session, owners, deal)
    checks.choice(channel, "--channel", CHANNELS, default=None)
    checks.choice(direction, "--direction", DIRECTIONS, default=None)
    if outcome is not None:
        checks.choice(outcome, "--outcome", OUTCOMES, default=None)
    if at.tzinfo is None:
        raise BadInput("--at: needs a time zone")
    contact_id = row.contact_id
    if contact is not None:
        found = session.scalar(
            select(m.Contact.id).where(m.Contact.owner_id == row.owner_id, m.Contact.key == contact)
        )
        if found is None:
            raise NotFound(f"--contact: no contact {quote(contact)}")
        contact_id = found
    values = {
        "at": at,
        "channel": channel,
        "direction": direction,
        "outcome": outcome,
        "subject": checks.text(subject, "--subject", max_len=1000),
        "body": checks.text(body, "--body", max_len=100_000),
        "play": checks.key(play, "--play") if play else None,
    }  # in the order touch_fingerprint reads
    touch = m.Touch(
        deal_id=row.id,
        contact_id=contact_id,
        fingerprint=touch_fingerprint(row.id, contact_id, tuple(values.values())),
        **values,
    )
    session.add(touch)
    session.flush()
    return touch


def log_touch(
    session: Session,
    owners: list[int],
    *,
    deal: str,
    at: str | None,
    now: datetime,
    playbook: Playbook,
    **fields: str | None,
) -> dict[str, str | None]:
    """Record a touch given by a person (`--at` read in the owner's zone) and replan the deal:
    contact from the prospect cancels its open step at once."""
    row = find_deal(session, owners, deal)
    tz = session.get_one(m.User, row.owner_id).timezone
    when = checks.moment(at, "--at", tz=tz) if at else now
    assert when is not None
    touch = record_touch(session, owners, deal=deal, at=when, **fields)  # type: ignore[arg-type]
    plan(session, owners, max(when, now), playbook=playbook, deal_ids=[row.id])
    return {
        "deal": deal,
        "at": touch.at.astimezone(checks.zone(tz)).isoformat(),
        "channel": touch.channel,
        "direction": touch.direction,
        "outcome": touch.outcome,
    }
