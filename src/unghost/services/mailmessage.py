"""The RFC 5322 message for one email step: headers a careful person would set, and the text.

`From` carries the owner's name, `To`/`Cc` the contacts' names; a follow-up in the same
conversation carries `In-Reply-To`/`References` so it lands in the prospect's thread;
`List-Unsubscribe` offers a mailto (and, with a public URL, RFC 8058's one-click https
link); the owner's postal address closes the text when one is set. Every header value
loses its line breaks first, so nothing a contact's record holds can add a header.
"""

from __future__ import annotations

import email.policy
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from urllib.parse import quote as url_quote

# 7-bit on the wire (any non-ASCII text is transfer-encoded), CRLF line ends, and header
# lines left long rather than folded into encoded words, which would break the URLs of
# List-Unsubscribe.
POLICY = email.policy.SMTP.clone(cte_type="7bit", max_line_length=998)
REFERENCES_KEPT = 10


@dataclass(frozen=True)
class Person:
    """A name and an address, as a header shows them."""

    name: str
    email: str


@dataclass(frozen=True)
class Letter:
    """Everything the message says, gathered by the outbox from the stored rows."""

    sender: Person
    to: Sequence[Person]
    cc: Sequence[Person]
    subject: str
    body: str
    message_id: str
    date: datetime
    thread: Sequence[str] = ()
    unsubscribe_mailto: str | None = None
    unsubscribe_url: str | None = None
    postal_address: str | None = None


def build(letter: Letter) -> bytes:
    """The message as bytes for SMTP and the Sent folder."""
    msg = EmailMessage(policy=POLICY)
    msg["From"] = _address(letter.sender)
    msg["To"] = [_address(p) for p in letter.to]
    if letter.cc:
        msg["Cc"] = [_address(p) for p in letter.cc]
    msg["Subject"] = one_line(letter.subject)
    msg["Date"] = format_datetime(letter.date)
    msg["Message-ID"] = one_line(letter.message_id)
    if letter.thread:
        thread = [one_line(t) for t in letter.thread[-REFERENCES_KEPT:]]
        msg["In-Reply-To"] = thread[-1]
        msg["References"] = " ".join(thread)
    links = []
    if letter.unsubscribe_mailto:
        links.append(
            f"<mailto:{url_quote(one_line(letter.unsubscribe_mailto), safe='@')}"
            "?subject=unsubscribe>"
        )
    if letter.unsubscribe_url:
        links.append(f"<{one_line(letter.unsubscribe_url)}>")
    if links:
        msg["List-Unsubscribe"] = ", ".join(links)
    if letter.unsubscribe_url and letter.unsubscribe_url.startswith("https://"):
        # RFC 8058: one-click needs an https URI that takes a POST.
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(text(letter.body, letter.postal_address))
    return msg.as_bytes()


def text(body: str, postal_address: str | None) -> str:
    """The message's text: the draft, then the owner's postal address when set."""
    out = body.replace("\r\n", "\n").rstrip() + "\n"
    if postal_address and postal_address.strip():
        lines = [" ".join(line.split()) for line in postal_address.strip().splitlines()]
        out += "\n--\n" + "\n".join(line for line in lines if line) + "\n"
    return out


def one_line(value: str) -> str:
    """A header value with no line breaks (a CR or LF could start a new header)."""
    return " ".join(value.replace("\r", " ").replace("\n", " ").split())


def _address(person: Person) -> Address:
    return Address(display_name=one_line(person.name), addr_spec=one_line(person.email))
