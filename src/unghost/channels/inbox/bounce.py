"""Bounces: RFC 3464 delivery-status reports and the non-standard ones servers send.

A bounce names the failed recipient, a status code ("5.1.1") and whether it is
**hard** — the address itself does not work: no such user or mailbox, no such
domain, the person moved, the account is disabled, the domain accepts no mail —
whether or not the server said 5xx. Everything else is **soft**: mailbox full,
refused as spam or by policy, our sender blocked or rate-limited, timeouts,
greylisting, too large, or only delayed (PRODUCT §5).

Spam complaints (ARF feedback reports) and read receipts are recognised here too,
so that the caller never takes them for bounces or for replies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message
from typing import Literal

from unghost.channels.inbox.message import InboundMessage, part_text, walk

Report = Literal["complaint", "read_receipt"]


@dataclass(frozen=True)
class Bounce:
    """A failed (or delayed) delivery: who, which status, and whether the address is bad."""

    recipient: str | None
    status: str | None
    hard: bool
    diagnostic: str = ""
    delayed: bool = False

    def as_json(self) -> dict[str, object]:
        """CONTRACT's shape: `{"recipient", "status", "hard"}`."""
        return {"recipient": self.recipient, "status": self.status, "hard": self.hard}


# What the address-is-bad wording looks like, in the servers' own words (checked first).
_HARD = re.compile(
    r"no such (?:user|mailbox|recipient|address|account)|user(?:name)? unknown|"
    r"unknown (?:user|recipient|mailbox|address|local[- ]part|or illegal alias)|"
    r"(?:recipient|addressee|address|mailbox|user|account) (?:is )?(?:unknown|not found)|"
    r"recipient not found|recipnotfound|user not found|mailbox not found|address not found|"
    r"(?:account|mailbox|user|address|recipient|domain)[\w ,.'\"@<>-]{0,40}"
    r"(?:does not|doesn't|did not|not) exist|does not exist|doesn't exist|"
    r"no mailbox|mailbox unavailable|mailbox (?:is )?(?:disabled|inactive)|"
    r"account (?:is |has been )?(?:disabled|deactivated|inactive|suspended|closed|"
    r"discontinued|expired|locked)|inactive and has been disabled|is inactive|disableduser|"
    r"(?:invalid|bad|unroutable|unrouteable) (?:destination )?(?:recipient|mailbox|address|user)"
    r"|unrouteable address|not a valid (?:mailbox|recipient|user|address)|"
    r"invalid user|not our customer|user has moved|has moved|no longer (?:with|at|employed|"
    r"valid|active|in use|works)|no longer available|address rejected\.?$|"
    r"host or domain name not found|domain (?:name )?not found|unknown domain|"
    r"domain [\w.-]+ does not accept mail|does not accept mail|nullmx|null mx|no mx record|"
    r"nxdomain|infodomainnonexistent|name service error|no such domain|"
    r"recipient address rejected: (?:access denied|user|unknown|undeliverable)|"
    r"recipient rejected|non-?existent|isn't a valid|is not a valid|unknown address|"
    r"doesn't have a [\w.]+ account|not listed in|no valid recipients|"
    r"the email account that you tried to reach|wasn't found at|was not found at|"
    r"mailbox \S+ unavailable|dosn'?t exist|casilla ha expirado|no existe|não existe|"
    r"existiert nicht|unbekannt|n'existe pas|inconnu|bestaat niet|onbekend",
    re.IGNORECASE,
)
# Wording of a delivery that failed for a reason other than the address.
_SOFT = re.compile(
    r"mailbox (?:is )?full|over (?:its )?quota|quota exceeded|exceeded (?:the|its|their)?"
    r"\s*(?:storage|quota)|insufficient (?:storage|space)|storage (?:space )?(?:limit|full)|"
    r"blocks limit|inode limit|out of storage|too many messages|"
    r"spam|junk|bulk|blacklist|blocklist|block-send|blocked|denied|reputation|"
    r"policy|not allowed|not authori[sz]ed|permission|rejected for policy|"
    r"rate limit|rate that|too (?:many|quickly|fast)|slow down|try again later|"
    r"temporar|deferred|greylist|graylist|timed? ?out|timeout|connection refused|"
    r"no route to host|lost connection|network is unreachable|"
    r"too (?:large|big)|size limit|message size|exceeds|hops|loop|"
    r"dmarc|spf|dkim|authenticat|unauthenticated|virus|content|server busy|local error",
    re.IGNORECASE,
)
# "The account or domain may not exist, they may be blacklisted…": a guess, not a fact.
_HEDGED = re.compile(r"\bmay (?:not exist|be misspelled)[^.]*", re.IGNORECASE)
# Status codes that name a bad address, when the words alone say nothing.
_HARD_STATUS = re.compile(r"^[45]\.1\.(?:1|2|3|6|10)$|^5\.1\.0$|^5\.4\.4$|^5\.4\.310$")

_ENHANCED = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.]*\d)")
_BASIC = re.compile(r"(?<![\d.#:])([245]\d\d)(?=[\s:-])")
_ADDRESS = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")

_SENDER = re.compile(
    r"mailer-daemon|postmaster|mail delivery|mail administrator|mdaemon|"
    r"delivery subsystem|mail system",
    re.IGNORECASE,
)
_SUBJECT = re.compile(
    r"undeliver|undelivered|delivery (?:status notification|failure|has failed|failed|"
    r"notification)|mail delivery failed|failure notice|returned mail|returned to sender|"
    r"delivery problem|message not delivered|could not be delivered|non[- ]?deliver|"
    r"nicht zustellbar|unzustellbar|non remis|non distribuable|no se puede entregar|"
    r"onbestelbaar|não entregue|delayed mail|message delayed|delivery delayed|"
    r"warning: message .* delayed",
    re.IGNORECASE,
)
# Phrases that only a bounce says: enough on their own.
_STRONG_PHRASES = (
    "this is the mail system at host", "could not be delivered to one or more recipients",
    "delivery has failed to these recipients", "created automatically by mail delivery software",
    "this is the qmail-send program", "** delivery incomplete **", "** address not found **",
    "there was a temporary problem delivering your message",
    "the following addresses had permanent fatal errors", "delivery status notification",
    "rejected your message to the following email address", "non-delivery report",
    "uw bericht kan niet worden bezorgd", "n'a pas pu être remis", "no se pudo entregar",
    "não foi possível entregar", "non è stato possibile recapitare",
)  # fmt: skip
_STRONG_BODY = re.compile(
    r"your message to \S+@\S+ couldn't be delivered|remote server returned '[45]\d\d|"
    r"konnte nicht (?:an \S+ )?zugestellt werden"
)
# Phrases that a bounce's body says (for bodies handed over without headers); literal
# phrases are tested as substrings of the lower-cased text, the rest by _BODY.
_BODY_PHRASES = (
    *_STRONG_PHRASES, "i'm afraid i wasn't able to deliver", "message could not be delivered",
    "permanent fatal errors", "su mensaje no pudo ser entregado",
    "the original message was received at", "this message was undeliverable",
    "undeliverable to the following", "has not yet been delivered", "address not found",
    "recipient address rejected",
)  # fmt: skip
_BODY = re.compile(
    r"your message (?:wasn't|was not|could not be|couldn't be) delivered|"
    r"delivery to the following recipients? (?:failed|(?:was|has been) delayed)|"
    r"the following (?:address(?:es)?|recipients?) failed|unable to deliver (?:your )?message|"
    r"the following message to .{1,80} was undeliverable|"
    r"message (?:you sent )?(?:was|has been) (?:blocked|rejected|returned)|"
    r"the mail system\s*$|^\s*<[^<>\s]+@[^<>\s]+>:\s",
    re.MULTILINE,
)


def _strong_body(lower: str) -> bool:
    return any(phrase in lower for phrase in _STRONG_PHRASES) or bool(_STRONG_BODY.search(lower))


def _bounce_body(lower: str) -> bool:
    return any(phrase in lower for phrase in _BODY_PHRASES) or bool(_BODY.search(lower))


_DELAYED = re.compile(
    r"has not yet been delivered|delivery (?:has been |is )?delayed|will (?:continue to )?retry|"
    r"delayed mail|still being retried|delivery attempts will continue|warning: message|"
    r"temporary problem delivering|delivery incomplete|will retry for",
    re.IGNORECASE,
)
_RECIPIENT_PATTERNS = (
    re.compile(r"^\s*<([^<>\s]+@[^<>\s]+)>\s*(?:\(expanded from[^)]*\))?\s*:", re.MULTILINE),
    re.compile(r"(?:final|original)-recipient:\s*(?:rfc822;)?\s*<?([^\s<>;]+@[^\s<>;]+)", re.I),
)
# A phrase that the failed address follows closely (Exim, Exchange, Gmail, Sendmail…).
_RECIPIENT_LEAD = re.compile(
    r"following (?:address(?:es)?|recipients?|email address(?:es)?)|failed permanently|"
    r"could not be delivered to|couldn't be delivered to|undeliverable to|delivery to|"
    r"to these recipients or groups|your message to|delivering your message to|"
    r"message to|rcpt to|recipient address|addressed to",
    re.IGNORECASE,
)
_LEAD_WINDOW = 240


def detect_bounce(message: InboundMessage) -> Bounce | None:
    """The bounce this message reports, or None when it is no bounce."""
    if message.raw is not None:
        structured = _from_delivery_status(message)
        if structured is not None:
            return structured
    sender = message.sender.address if message.sender else ""
    sender_text = f"{message.header('from')} {sender}"
    head = message.text[:6000]
    if not _might_bounce(head, sender_text, message.subject):
        return None
    lower = head.lower()
    if _strong_body(lower) and not message.header("in-reply-to"):
        return _from_text(_report_text(message), exclude=sender)
    by_body = _bounce_body(lower)
    by_headers = _SENDER.search(sender_text) is not None and (
        _SUBJECT.search(message.subject) is not None or by_body
    )
    subject_only = _SUBJECT.search(message.subject) is not None and by_body
    if not (by_headers or (by_body and _looks_failed(head)) or subject_only):
        return None
    return _from_text(_report_text(message), exclude=sender)


# Words without one of which no text, sender or subject is a bounce: a substring test
# spares ordinary replies the full set of bounce patterns.
_GATE = (
    "deliver", "mail system", "recipient", "failed", "failure", "undeliver", "bezorgd",
    "zugestellt", "zustellbar", "remis", "entregar", "entregue", "recapitare", "returned",
    "rejected", "mailer-daemon", "mailer daemon", "postmaster", "qmail", "bestelbaar",
    "address not found", "delayed", "status notification",
)  # fmt: skip


def _might_bounce(head: str, sender: str, subject: str) -> bool:
    lower = f"{sender}\n{subject}\n{head}".lower()
    return (
        any(word in lower for word in _GATE) or re.search(r"^\s*<[^<>\s]+@", head, re.M) is not None
    )


def _looks_failed(text: str) -> bool:
    lower = text.lower()
    if any(word in lower for word in ("could not be delivered", "failed", "undeliverable")):
        return True
    return bool(_ENHANCED.search(text) or _BASIC.search(text) or _HARD.search(text))


def _report_text(message: InboundMessage) -> str:
    """The human-readable part of the report, without the returned message."""
    text = message.text
    if message.raw is not None:
        parts = [
            part_text(part)
            for part in _own_parts(message.raw)
            if part.get_content_type() in ("text/plain", "message/delivery-status")
        ]
        joined = "\n".join(parts)
        if len(joined.strip()) > len(text.strip()):
            text = joined
    cut = re.search(
        r"^-{2,}\s*(?:original message|below this line is a copy|this is a copy of the message|"
        r"the header of the original message|original message headers)|^original message headers:",
        text,
        re.IGNORECASE | re.MULTILINE,
    )
    return text[: cut.start()] if cut else text


def _own_parts(message: Message) -> list[Message]:
    """Leaf parts of the report itself, not of the returned message."""
    found: list[Message] = []
    stack = [message]
    while stack:
        part = stack.pop(0)
        if part.get_content_type() == "message/rfc822" and part is not message:
            continue
        payload = part.get_payload()
        if part.is_multipart() and isinstance(payload, list):
            stack[0:0] = [p for p in payload if isinstance(p, Message)]
        else:
            found.append(part)
    return found


def _from_delivery_status(message: InboundMessage) -> Bounce | None:
    """Read the RFC 3464 per-recipient fields of a message/delivery-status part."""
    assert message.raw is not None
    for part in walk(message.raw):
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks = _status_blocks(part)
        failed = [b for b in blocks if b.get("action", "").lower().startswith(("failed", "delay"))]
        if not failed and any(b.get("action") for b in blocks):
            return None  # a success notice (delivered, relayed, expanded)
        chosen = failed[0] if failed else (blocks[0] if blocks else {})
        recipient = _address(
            chosen.get("final-recipient", "") or chosen.get("original-recipient", "")
        )
        diagnostic = chosen.get("diagnostic-code", "")
        context = _report_text(message)
        if not recipient:
            return _from_text(context, exclude=message.sender.address if message.sender else "")
        status = _status(chosen.get("status", "")) or _status(diagnostic)
        delayed = chosen.get("action", "").lower().startswith("delay")
        words = diagnostic or _diagnostic_near(context, recipient)
        hard = _is_hard(words, status, delayed, context)
        return Bounce(recipient, status, hard, words, delayed)
    return None


def _status_blocks(part: Message) -> list[dict[str, str]]:
    """Per-recipient field blocks of a delivery-status part, parsed leniently as text."""
    payload = part.get_payload()
    texts: list[str] = []
    if isinstance(payload, list):
        for block in payload:
            if isinstance(block, Message):
                texts.append("\n".join(f"{k}: {v}" for k, v in block.items()))
    else:
        texts.append(part_text(part))
    blocks: list[dict[str, str]] = []
    for text in texts:
        for chunk in re.split(r"\n\s*\n", text):
            fields: dict[str, str] = {}
            name = ""
            for line in chunk.splitlines():
                if line[:1] in (" ", "\t") and name:
                    fields[name] += " " + line.strip()
                    continue
                key, sep, value = line.partition(":")
                if sep:
                    name = key.strip().lower()
                    fields[name] = value.strip()
            if fields:
                blocks.append(fields)
    with_recipient = [b for b in blocks if "final-recipient" in b or "original-recipient" in b]
    return with_recipient or blocks


def _from_text(text: str, *, exclude: str) -> Bounce:
    recipient = _recipient(text, exclude)
    diagnostic = _diagnostic_near(text, recipient)
    status = _status(diagnostic) or _status(text)
    delayed = _DELAYED.search(text) is not None and not _HARD.search(diagnostic)
    hard = _is_hard(diagnostic, status, delayed, text)
    return Bounce(recipient, status, hard, diagnostic, delayed)


def _recipient(text: str, exclude: str) -> str | None:
    def usable(candidate: str | None) -> bool:
        return (
            bool(candidate) and candidate != exclude.lower() and not _SENDER.search(candidate or "")
        )

    exclude = exclude.lower()
    for pattern in _RECIPIENT_PATTERNS:
        for match in pattern.finditer(text):
            candidate = _address(match.group(1))
            if candidate and usable(candidate.lower()):
                return candidate
    for lead in _RECIPIENT_LEAD.finditer(text):
        for found in _ADDRESS.finditer(text, lead.end(), lead.end() + _LEAD_WINDOW):
            if usable(found.group(0).lower()):
                return found.group(0).strip(".")
    for found in _ADDRESS.finditer(text):
        if usable(found.group(0).lower()):
            return found.group(0).strip(".")
    return None


def _diagnostic_near(text: str, recipient: str | None) -> str:
    """The paragraph that explains the failure: the one naming the recipient, else the rest."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    if recipient:
        for index, paragraph in enumerate(paragraphs):
            if recipient.lower() in paragraph.lower() and (
                _ENHANCED.search(paragraph) or _BASIC.search(paragraph) or len(paragraph) > 40
            ):
                return " ".join(paragraph.split())
            if recipient.lower() in paragraph.lower() and index + 1 < len(paragraphs):
                return " ".join(f"{paragraph} {paragraphs[index + 1]}".split())
    coded = [p for p in paragraphs if _ENHANCED.search(p) or _BASIC.search(p) or _HARD.search(p)]
    return " ".join((coded[0] if coded else text[:2000]).split())


def _status(text: str) -> str | None:
    enhanced = _ENHANCED.search(text)
    if enhanced:
        return ".".join(enhanced.groups())
    basic = _BASIC.search(text)
    if basic:
        return f"{basic.group(1)[0]}.0.0"
    return None


def _is_hard(words: str, status: str | None, delayed: bool, context: str) -> bool:
    """Hard when the words say the address is bad; the whole report decides if they are mute."""
    if delayed and not (status or "").startswith("5"):
        return False
    words = _HEDGED.sub(" ", words)
    if _HARD.search(words):
        return True
    if _SOFT.search(words):
        return False
    context = _HEDGED.sub(" ", context)
    if _HARD.search(context):
        return True
    return bool(status and _HARD_STATUS.match(status))


def _address(value: str) -> str | None:
    match = _ADDRESS.search(value)
    return match.group(0).strip(".") if match else None


def detect_report(message: InboundMessage) -> Report | None:
    """A spam complaint (ARF feedback report) or a read receipt (MDN), else None."""
    raw = message.raw
    if raw is not None:
        report_type = ""
        try:
            report_type = str(raw.get_param("report-type") or "").lower()
        except Exception:
            report_type = ""
        if report_type == "feedback-report":
            return "complaint"
        if report_type == "disposition-notification":
            return "read_receipt"
        for part in walk(raw):
            ctype = part.get_content_type()
            if ctype == "message/feedback-report":
                return "complaint"
            if ctype == "message/disposition-notification":
                return "read_receipt"
    subject = message.subject.lower()
    if re.match(r"^(?:read|gelesen|lu|leído|gelezen|lida)\s*:", subject):
        return "read_receipt"
    if re.search(r"complaint about message|abuse report|feedback report", subject):
        return "complaint"
    return None
