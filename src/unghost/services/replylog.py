"""The replies a seller reads back and corrects: every inbound message ingested, newest first.

`replies_page` lists them (filtered by kind, keyset-paginated, so page 500 costs what page 1
does), including those that matched no deal, which nothing else shows. `correct` records
the seller's reading of a reply's intent beside unghost's own (`corrected_intent`), the
label that learning from replies uses; it does not redo what ingesting the reply did.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal, get_args

from sqlalchemy import String, and_, cast, not_, or_, select
from sqlalchemy.orm import Session

from unghost.channels.inbox.intent import Intent
from unghost.errors import BadInput, NotFound
from unghost.services import checks
from unghost.store import models as m

INTENTS: tuple[str, ...] = get_args(Intent)
Kind = Literal["person", "auto_reply", "bounce", "unmatched"]
KINDS: tuple[str, ...] = get_args(Kind)
PAGE_SIZE = 30


def kind_of(reply: m.Reply) -> str:
    """What sent it: a person, an auto-reply (or another machine's notice), a bounce."""
    if reply.bounce is not None:
        return "bounce"
    if reply.auto_reply is not None:
        return "auto_reply"
    return "person"


def replies_page(
    session: Session,
    owners: Sequence[int],
    *,
    kind: str | None = None,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of these owners' replies, newest first, and the cursor of the next page.

    `kind`: person, auto_reply, bounce, or unmatched (no deal). Raises BadInput naming the
    field for an unknown kind or a cursor this list did not give.
    """
    query = (
        select(m.Reply, m.Deal.key, m.Deal.title, m.Contact.key, m.Contact.name, m.User.timezone)
        .outerjoin(m.Deal, m.Deal.id == m.Reply.deal_id)
        .outerjoin(m.Contact, m.Contact.id == m.Reply.contact_id)
        .join(m.User, m.User.id == m.Reply.owner_id)
        .where(m.Reply.owner_id.in_(owners))
        .order_by(m.Reply.received_at.desc(), m.Reply.id.desc())
        .limit(limit + 1)
    )
    if kind:
        kind = checks.choice(kind, "kind", KINDS, default=None)
    # A reply without a bounce holds JSON null there (not SQL NULL): compare its text.
    no_bounce = or_(m.Reply.bounce.is_(None), cast(m.Reply.bounce, String) == "null")
    if kind == "person":
        query = query.where(no_bounce, m.Reply.auto_reply.is_(None))
    elif kind == "auto_reply":
        query = query.where(no_bounce, m.Reply.auto_reply.is_not(None))
    elif kind == "bounce":
        query = query.where(not_(no_bounce))
    elif kind == "unmatched":
        query = query.where(m.Reply.deal_id.is_(None))
    if cursor:
        at, last_id = _read_cursor(cursor)
        query = query.where(
            or_(
                m.Reply.received_at < at,
                and_(m.Reply.received_at == at, m.Reply.id < last_id),
            )
        )
    rows = session.execute(query).all()
    more = len(rows) > limit
    rows = rows[:limit]
    out = [_row(*row) for row in rows]
    nxt = _cursor(rows[-1][0]) if more and rows else None
    return out, nxt


def correct(session: Session, owners: Sequence[int], reply_id: int, intent: str) -> dict[str, Any]:
    """Record the seller's reading of a reply's intent; returns the reply as listed.

    Raises BadInput "intent: …" for an intent outside PRODUCT §5's, NotFound for a reply
    that is not one of these owners'.
    """
    chosen = checks.choice(intent, "intent", INTENTS, default=None)
    if chosen is None:
        raise BadInput(f"intent: choose one of {', '.join(INTENTS)}")
    found = session.execute(
        select(m.Reply, m.Deal.key, m.Deal.title, m.Contact.key, m.Contact.name, m.User.timezone)
        .outerjoin(m.Deal, m.Deal.id == m.Reply.deal_id)
        .outerjoin(m.Contact, m.Contact.id == m.Reply.contact_id)
        .join(m.User, m.User.id == m.Reply.owner_id)
        .where(m.Reply.id == reply_id, m.Reply.owner_id.in_(owners))
    ).first()
    if found is None:
        raise NotFound(f"no reply {reply_id}")
    reply = found[0]
    reply.corrected_intent = chosen
    session.flush()
    return _row(*found)


def mark_handled(session: Session, owners: Sequence[int], reply_id: int, now: datetime) -> None:
    """The seller has dealt with the reply: it leaves the top of *Today* (idempotent).

    NotFound for a reply that is not one of these owners'.
    """
    reply = session.scalar(
        select(m.Reply).where(m.Reply.id == reply_id, m.Reply.owner_id.in_(owners))
    )
    if reply is None:
        raise NotFound(f"no reply {reply_id}")
    if reply.handled_at is None:
        reply.handled_at = now
        session.flush()


def _row(
    reply: m.Reply,
    deal: str | None,
    title: str | None,
    contact: str | None,
    name: str | None,
    tz_name: str,
) -> dict[str, Any]:
    bounce = reply.bounce
    return {
        "id": reply.id,
        "kind": kind_of(reply),
        "deal": deal,
        "deal_title": title,
        "contact": contact,
        "contact_name": name,
        "from": reply.from_address,
        "subject": reply.subject,
        "received_at": reply.received_at.astimezone(checks.zone(tz_name)).isoformat(),
        "new_text": reply.new_text,
        "intent": reply.intent,
        "corrected_intent": reply.corrected_intent,
        "confidence": reply.confidence,
        "auto_reply": reply.auto_reply,
        "return_date": reply.return_date.isoformat() if reply.return_date else None,
        "bounce": {
            "recipient": bounce.get("recipient"),
            "status": bounce.get("status"),
            "hard": bool(bounce.get("hard")),
        }
        if isinstance(bounce, dict)
        else None,
        "reaction": reply.reaction,
        "handled": reply.handled_at is not None,
    }


def _cursor(reply: m.Reply) -> str:
    at = reply.received_at.astimezone(UTC)
    micros = int(at.timestamp()) * 1_000_000 + at.microsecond
    return f"{micros}-{reply.id}"


def _read_cursor(cursor: str) -> tuple[datetime, int]:
    micros, _, last_id = cursor.partition("-")
    if not (micros.isdigit() and last_id.isdigit() and len(cursor) <= 40):
        raise BadInput("cursor: not a cursor of this list (use next_cursor as given)")
    seconds, fraction = divmod(int(micros), 1_000_000)
    try:
        at = datetime.fromtimestamp(seconds, UTC).replace(microsecond=fraction)
    except (OverflowError, OSError, ValueError):
        raise BadInput("cursor: not a cursor of this list (use next_cursor as given)") from None
    return at, min(int(last_id), 2**62)
