"""Reading one inbound message: a raw RFC 5322 message, or a plain-text body.

The data that reaches us mixes both, so the input is sniffed: a leading block of
header lines with at least one well-known header name is a message; anything else
is a body. Reading never fails on bad MIME, bad charsets or broken headers: what
cannot be decoded is replaced, what cannot be parsed is left out.
"""

from __future__ import annotations

import codecs
import email
import email.policy
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.utils import getaddresses, parseaddr, parsedate_to_datetime

from unghost.channels.inbox.html import html_to_text

# Header names that only a message (never a reply body) starts with.
_STRONG_HEADERS = frozenset(
    {
        "received",
        "return-path",
        "mime-version",
        "content-type",
        "message-id",
        "delivered-to",
        "envelope-to",
        "delivery-date",
        "dkim-signature",
        "authentication-results",
        "x-envelope-from",
        "x-original-to",
        "in-reply-to",
        "references",
    }
)
_KNOWN_HEADERS = _STRONG_HEADERS | {"from", "to", "cc", "subject", "date", "reply-to", "sender"}
_HEADER_LINE = re.compile(r"^([!-9;-~]+):[ \t]?")
_SNIFF_LIMIT = 64  # header lines looked at before deciding
_MAX_TEXT = 200_000  # characters of body text kept: no reply is longer


def looks_like_message(head: str) -> bool:
    """Whether text starts with an RFC 5322 header block rather than a reply body."""
    names: list[str] = []
    for line in head.split("\n", _SNIFF_LIMIT)[:_SNIFF_LIMIT]:
        line = line.rstrip("\r")
        if not line.strip():
            break
        if line[0] in " \t" and names:
            continue  # a folded header line
        if line.startswith("From ") and not names:
            continue  # an mbox separator line
        match = _HEADER_LINE.match(line)
        if match is None:
            return False
        names.append(match.group(1).lower())
    known = [name for name in names if name in _KNOWN_HEADERS or name.startswith("x-")]
    if not known:
        return False
    strong = any(name in _STRONG_HEADERS or name.startswith("x-") for name in known)
    return strong or len(set(known)) >= 2


@dataclass(frozen=True)
class Address:
    """One mailbox: the address, and the display name when there is one."""

    address: str
    name: str = ""


@dataclass(frozen=True)
class InboundMessage:
    """What the rest of the parser needs from one message."""

    text: str
    headers: Mapping[str, str] = field(default_factory=dict)
    message_id: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    sender: Address | None = None
    to: tuple[Address, ...] = ()
    subject: str = ""
    date: datetime | None = None
    content_type: str = "text/plain"
    from_html: bool = False
    raw: Message | None = None

    def header(self, name: str) -> str:
        """The value of a header (first occurrence), or an empty string."""
        return self.headers.get(name.lower(), "")


def decode_bytes(data: bytes, charset: str | None = None) -> str:
    """Decode bytes in their declared charset, else UTF-8, never failing."""
    for candidate in (charset, "utf-8"):
        if not candidate:
            continue
        try:
            return data.decode(candidate)
        except (LookupError, UnicodeDecodeError):
            continue
    fallback = charset if charset and _known_charset(charset) else "utf-8"
    return data.decode(fallback, errors="replace")


def _known_charset(charset: str | None) -> bool:
    if not charset:
        return False
    try:
        codecs.lookup(charset)
    except LookupError:
        return False
    return True


def part_text(part: Message) -> str:
    """The decoded text of one leaf part, whatever its transfer encoding or charset."""
    try:
        payload = part.get_payload(decode=True)
    except Exception:  # broken base64/quoted-printable: keep the raw payload
        payload = None
    if isinstance(payload, bytes):
        charset = _param(part, "charset")
        return decode_bytes(payload, charset)
    raw = part.get_payload()
    return raw if isinstance(raw, str) else ""


def _param(part: Message, name: str) -> str | None:
    try:
        value = part.get_param(name)
    except Exception:
        return None
    if isinstance(value, tuple):  # RFC 2231 (charset, language, value)
        value = value[2]
    return str(value).strip().strip('"') or None if value else None


def walk(message: Message) -> Iterator[Message]:
    """Every part of a message, attached messages included, never raising."""
    try:
        yield from message.walk()
    except Exception:
        return


def _decoded(value: str) -> str:
    """An RFC 2047 header value decoded to text; bad encodings are replaced, never raised."""
    value = " ".join(value.split())
    if "=?" not in value:
        return value
    try:
        return " ".join(str(make_header(decode_header(value))).split())
    except Exception:
        return value


def _headers(message: Message) -> dict[str, str]:
    """Header values as raw text, decoded only where it is cheap to need them.

    `raw_items` skips the policy's full header parsing, which costs more than the rest
    of reading a reply; values are decoded (RFC 2047) as they are read here.
    """
    found: dict[str, str] = {}
    try:
        items = list(message.raw_items())
    except Exception:
        return found
    for key, value in items:
        lower = key.lower()
        if lower not in found:
            found[lower] = _decoded(str(value)) if isinstance(value, str) else ""
    return found


def _addresses(value: str) -> tuple[Address, ...]:
    try:
        pairs = getaddresses([value])
    except Exception:
        return ()
    return tuple(Address(addr.strip(), name.strip()) for name, addr in pairs if "@" in addr)


def _msg_ids(value: str) -> tuple[str, ...]:
    found = re.findall(r"<[^<>\s]+>", value)
    if found:
        return tuple(found)
    return tuple(token for token in value.split() if token)


def _date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # RFC 5322 "-0000": UTC, origin unknown
    return parsed


def body_text(message: Message) -> tuple[str, str, bool]:
    """The message's readable text: text/plain first, else HTML turned into text.

    Returns (text, content type used, whether it came from HTML). Attached messages
    (message/rfc822) are not entered: their text is not this message's.
    """
    plain: Message | None = None
    html: Message | None = None
    for part in _leaves(message):
        ctype = part.get_content_type()
        if _is_attachment(part):
            continue
        if ctype == "text/plain" and plain is None:
            plain = part
        elif ctype == "text/html" and html is None:
            html = part
    if plain is not None:
        text = part_text(plain)
        if text.strip() or html is None:
            return text, "text/plain", False
    if html is not None:
        return html_to_text(part_text(html)), "text/html", True
    return "", message.get_content_type(), False


def _leaves(message: Message) -> Iterator[Message]:
    stack = [message]
    while stack:
        part = stack.pop(0)
        ctype = part.get_content_type()
        if part.is_multipart():
            payload = part.get_payload()
            if ctype == "message/rfc822" or not isinstance(payload, list):
                continue
            stack[0:0] = [p for p in payload if isinstance(p, Message)]
        elif ctype.startswith("text/") or ctype == "message/delivery-status":
            yield part


def _is_attachment(part: Message) -> bool:
    try:
        disposition = part.get_content_disposition()
    except Exception:
        return False
    return disposition == "attachment"


def read_message(data: bytes | str) -> InboundMessage:
    """Read raw message bytes or text, or a plain-text body, into an InboundMessage."""
    raw = data.encode("utf-8", errors="surrogateescape") if isinstance(data, str) else data
    raw = raw.lstrip(b"\r\n\t ")
    head = decode_bytes(raw[:8192])
    if not looks_like_message(head):
        return InboundMessage(text=_plain(decode_bytes(raw)))
    try:
        # compat32 keeps header values as raw strings; policy.default parses every header
        # through its registry on each access, which cost more than all of our rules
        # (README.md in this folder). The few headers we use are decoded in _headers.
        message = email.message_from_bytes(raw, policy=email.policy.compat32)
    except Exception:  # the stdlib parser is lenient; this is belt and braces
        return InboundMessage(text=_plain(decode_bytes(raw)))
    return from_email(message)


def from_email(message: Message) -> InboundMessage:
    """An InboundMessage from an already parsed stdlib message."""
    headers = _headers(message)
    senders = _addresses(headers.get("from", ""))
    if not senders and headers.get("from"):
        name, addr = parseaddr(headers["from"])
        senders = (Address(addr, name),) if addr else ()
    try:
        text, ctype, from_html = body_text(message)
    except Exception:
        text, ctype, from_html = "", "text/plain", False
    return InboundMessage(
        text=_plain(text, sniff_html=False),
        headers=headers,
        message_id=(_msg_ids(headers.get("message-id", "")) or (None,))[0],
        in_reply_to=(_msg_ids(headers.get("in-reply-to", "")) or (None,))[0],
        references=_msg_ids(headers.get("references", "")),
        sender=senders[0] if senders else None,
        to=_addresses(headers.get("to", "")),
        subject=headers.get("subject", ""),
        date=_date(headers.get("date", "")),
        content_type=ctype,
        from_html=from_html,
        raw=message if isinstance(message, EmailMessage | Message) else None,
    )


def _plain(text: str, *, sniff_html: bool = True) -> str:
    text = text[:_MAX_TEXT].replace("\r\n", "\n").replace("\r", "\n")
    if sniff_html and _HTML_START.match(text):
        return html_to_text(text)  # an HTML body handed over without headers
    return text


_HTML_START = re.compile(
    r"\s*(?:<!doctype html|<\?xml|<html|<head|<body|<meta|<div|<p[\s>]|<table|<span|<br|<blockquote"
    r"|<font|<b>|<!--)|[^<]{0,300}<(?:div|p|br|blockquote|span)[\s>/]",
    re.IGNORECASE,
)
