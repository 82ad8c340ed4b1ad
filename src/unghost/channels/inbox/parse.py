"""One inbound message in, one ParsedReply out: `parse_reply(data, now=…)`.

The order matters: a bounce or a spam complaint is never an auto-reply, and an
auto-reply is never a reply, so neither gets an intent (CONTRACT `reply parse --json`).
Nothing here raises on any input except `BadInput` for an empty one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from unghost.channels.inbox import dates as dates_mod
from unghost.channels.inbox.autoreply import AutoReplyKind, detect_auto_reply
from unghost.channels.inbox.bounce import Bounce, Report, detect_bounce, detect_report
from unghost.channels.inbox.intent import Intent, classify
from unghost.channels.inbox.message import InboundMessage, read_message
from unghost.channels.inbox.newtext import extract_new_text
from unghost.errors import BadInput

_MAX_INPUT = 20_000_000  # bytes read of one message; the rest is attachments


@dataclass(frozen=True)
class ParsedReply:
    """What one inbound message says: CONTRACT's fields, plus the thread headers."""

    new_text: str
    auto_reply: AutoReplyKind | None
    return_date: date | None
    bounce: Bounce | None
    intent: Intent | None
    confidence: float | None
    dates: tuple[date, ...]
    unsubscribe: bool
    report: Report | None = None
    message_id: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    from_address: str | None = None
    from_name: str | None = None
    subject: str = ""
    date: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        """Exactly CONTRACT's `reply parse --json` object."""
        return {
            "new_text": self.new_text,
            "auto_reply": self.auto_reply,
            "return_date": self.return_date.isoformat() if self.return_date else None,
            "bounce": self.bounce.as_json() if self.bounce else None,
            "intent": self.intent,
            "confidence": self.confidence,
            "dates": [day.isoformat() for day in self.dates],
            "unsubscribe": self.unsubscribe,
        }


_UNSUBSCRIBE_SUBJECT = re.compile(r"(?i)(re:\s*)?unsubscribe")


def parse_reply(data: bytes | str, *, now: datetime) -> ParsedReply:
    """Parse a raw RFC 5322 message or a plain-text body.

    Dates are resolved against the message's Date header, else `now`.
    Raises BadInput only for an empty input.
    """
    raw = data.encode("utf-8", errors="surrogateescape") if isinstance(data, str) else data
    if not raw.strip():
        raise BadInput("the message is empty")
    message = read_message(raw[:_MAX_INPUT])
    reference = (message.date or now).date()
    try:
        return _parse(message, reference)
    except RecursionError:  # pathological nesting: keep the headers, give up on the rest
        return _empty(message, "")


def _parse(message: InboundMessage, reference: date) -> ParsedReply:
    report = detect_report(message)
    if report is not None:
        # A spam complaint means "never again"; a read receipt means nothing.
        return _empty(message, "", report=report, unsubscribe=report == "complaint")
    bounce = detect_bounce(message)
    if bounce is not None:
        return _empty(message, extract_new_text(message.text), bounce=bounce)
    new_text = extract_new_text(message.text)
    auto = detect_auto_reply(message, new_text, reference)
    if auto is not None:
        return _empty(message, new_text, auto=auto.kind, return_date=auto.return_date)
    result = classify(new_text)
    if _UNSUBSCRIBE_SUBJECT.fullmatch((message.subject or "").strip()):
        # What our List-Unsubscribe mailto link sends (RFC 2369): a request, whatever the body.
        result = classify("unsubscribe")
    found = tuple(dates_mod.dates_in(new_text, reference))
    return ParsedReply(
        new_text=new_text,
        auto_reply=None,
        return_date=None,
        bounce=None,
        intent=result.intent,
        confidence=result.confidence,
        dates=found,
        unsubscribe=result.unsubscribe,
        **_headers(message),
    )


def _empty(
    message: InboundMessage,
    new_text: str,
    *,
    bounce: Bounce | None = None,
    auto: AutoReplyKind | None = None,
    return_date: date | None = None,
    report: Report | None = None,
    unsubscribe: bool = False,
) -> ParsedReply:
    if report is not None:
        auto = "other"  # machine-made, never contact from the prospect
    return ParsedReply(
        new_text=new_text,
        auto_reply=auto,
        return_date=return_date,
        bounce=bounce,
        intent=None,
        confidence=None,
        dates=(),
        unsubscribe=unsubscribe,
        report=report,
        **_headers(message),
    )


def _headers(message: InboundMessage) -> dict[str, Any]:
    return {
        "message_id": message.message_id,
        "in_reply_to": message.in_reply_to,
        "references": message.references,
        "from_address": message.sender.address if message.sender else None,
        "from_name": (message.sender.name or None) if message.sender else None,
        "subject": message.subject,
        "date": message.date,
    }
