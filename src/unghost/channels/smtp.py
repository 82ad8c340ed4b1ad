"""Email out through the owner's SMTP server: one network exit, outcomes that say what to do.

`send` never raises for what a server or a network does; it returns an `Outcome` whose
`kind` tells the outbox what happened:

    sent       the server took responsibility for the message (250 after the body)
    temporary  try again later: a 4xx, a refused or lost connection before the body ended
    quota      the provider's sending limit or rate: pause the *mailbox*, not the prospect
    mailbox    the account itself is wrong (login refused, no TLS where asked): pause it
    permanent  a 5xx about this message or recipient: do not try again
    unknown    the body went out but no answer came back: the server may have taken it

The last kind is the one a blind retry turns into a duplicate; the outbox resolves it by
looking for the Message-ID in the Sent folder instead.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import re
import smtplib
import socket
import ssl
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

TlsMode = Literal["ssl", "starttls", "none"]
Kind = Literal["sent", "temporary", "quota", "mailbox", "permanent", "unknown"]
TLS_MODES: tuple[TlsMode, ...] = ("ssl", "starttls", "none")
DEFAULT_PORTS: dict[str, int] = {"ssl": 465, "starttls": 587, "none": 25}

RATE_PAUSE = timedelta(minutes=15)
DAILY_PAUSE = timedelta(hours=24)
ACCOUNT_PAUSE = timedelta(hours=1)

_ENHANCED = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_QUOTA_WORDS = (
    "quota",
    "rate limit",
    "rate-limit",
    "ratelimit",
    "too many",
    "sending limit",
    "limit exceeded",
    "exceeded the",
    "unusual rate",
    "throttl",
)
# The sender's own allowance, whatever status code the provider dresses it in
# (Exchange Online says 5.2.0, the code of a recipient's full mailbox).
_SENDER_QUOTA_WORDS = (
    "submissionquotaexceeded",
    "sending quota",
    "sending limit",
    "message rate limit",
    "recipient rate limit",
)
_DAILY_WORDS = ("daily", "per day", "24 hour", "24-hour")
# Gmail's "daily user sending quota exceeded" and its kin.
_DAILY_CODES = ("5.4.5", "4.4.5")
_AUTH_CODES = (530, 534, 535, 538)


@dataclass(frozen=True)
class Server:
    """Where and how to reach an SMTP server; the password never shows in a repr."""

    host: str
    port: int
    tls: TlsMode
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0


@dataclass(frozen=True)
class Outcome:
    """What became of one attempt: its kind, and the server's own words."""

    kind: Kind
    code: int | None = None
    reply: str = ""
    stage: str = ""
    recipient: str | None = None

    @property
    def words(self) -> str:
        """The server's answer as a person should see it: `550 5.1.1 no such user`."""
        return f"{self.code or ''} {self.reply}".strip()

    @property
    def hard_bounce(self) -> bool:
        """A recipient refused as not existing (5.1.1, 5.1.2, 5.1.10): the address is bad."""
        enhanced = _ENHANCED.search(self.reply)
        return (
            self.kind == "permanent"
            and self.stage == "rcpt"
            and enhanced is not None
            and enhanced[0] in ("5.1.1", "5.1.2", "5.1.10")
        )

    @property
    def pause(self) -> timedelta:
        """How long a `quota` or `mailbox` outcome pauses the mailbox."""
        if self.kind == "mailbox":
            return ACCOUNT_PAUSE
        low = self.reply.lower()
        enhanced = _ENHANCED.search(self.reply)
        if (
            (self.code or 0) >= 500
            or any(w in low for w in _DAILY_WORDS)
            or (enhanced is not None and enhanced[0] in _DAILY_CODES)
        ):
            return DAILY_PAUSE
        return RATE_PAUSE


def classify(code: int, reply: str, stage: str) -> Kind:
    """The kind of a server's refusal, from its code, enhanced status and words."""
    low = reply.lower()
    enhanced = _ENHANCED.search(reply)
    if code in _AUTH_CODES or (stage == "auth" and code >= 500):
        return "mailbox"
    # X.1.x is about an address and X.2.x about the recipient's mailbox ("over quota"):
    # those are the prospect's side and never pause the seller's mailbox.
    about_recipient = enhanced is not None and enhanced[2] in ("1", "2")
    if any(w in low for w in _SENDER_QUOTA_WORDS):
        return "quota"
    # Gmail's rate limiting: "421 4.7.0 Try again later, closing connection".
    if code == 421 and "try again later" in low and not about_recipient:
        return "quota"
    if not about_recipient:
        if enhanced is not None and enhanced[0] in _DAILY_CODES:
            return "quota"
        if code in (421, 450, 451, 452, 454) and any(w in low for w in _QUOTA_WORDS):
            return "quota"
        if code >= 500 and any(w in low for w in _DAILY_WORDS) and "limit" in low:
            return "quota"
    if 400 <= code < 500:
        return "temporary"
    if code >= 500:
        return "permanent"
    return "temporary"


def send(
    server: Server,
    sender: str,
    recipients: list[str],
    message: bytes,
    *,
    local_hostname: str | None = None,
) -> Outcome:
    """Hand one message to the server for these recipients; never raises for the network."""
    try:
        smtp = _open(server, local_hostname)
    except _Refused as refused:
        return refused.outcome
    try:
        return _transaction(smtp, sender, recipients, message)
    except (smtplib.SMTPException, OSError) as exc:
        # Before the body was sent: nothing can have been accepted.
        return Outcome("temporary", None, f"connection lost: {_said(exc)}", "envelope")
    finally:
        _quit(smtp)


def check(server: Server, *, local_hostname: str | None = None) -> Outcome:
    """Connect, secure and log in, then leave: `sent` here means "all of that worked"."""
    try:
        smtp = _open(server, local_hostname)
    except _Refused as refused:
        return refused.outcome
    _quit(smtp)
    extra = f", logged in as {server.user}" if server.user else ""
    return Outcome("sent", 250, f"connected ({server.tls}){extra}", "check")


def _transaction(smtp: smtplib.SMTP, sender: str, recipients: list[str], message: bytes) -> Outcome:
    code, resp = smtp.mail(sender)
    if code != 250:
        return _refusal(smtp, code, resp, "mail")
    for rcpt in recipients:
        code, resp = smtp.rcpt(rcpt)
        if code not in (250, 251):
            return _refusal(smtp, code, resp, "rcpt", rcpt)
    code, resp = smtp.docmd("DATA")
    if code != 354:
        return _refusal(smtp, code, resp, "data")
    body = re.sub(rb"(?m)^\.", b"..", message)
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    try:
        smtp.send(body + b".\r\n")
    except (smtplib.SMTPException, OSError) as exc:
        # The final dot never left: the server cannot have accepted a message.
        return Outcome("temporary", None, f"connection lost in the body: {_said(exc)}", "body")
    try:
        code, resp = smtp.getreply()
    except (smtplib.SMTPException, OSError) as exc:
        return Outcome(
            "unknown", None, f"no answer after the message went out: {_said(exc)}", "body"
        )
    text = _text(resp)
    if code == 250:
        return Outcome("sent", code, text, "body")
    return Outcome(classify(code, text, "body"), code, text, "body")


def _refusal(
    smtp: smtplib.SMTP, code: int, resp: bytes, stage: str, rcpt: str | None = None
) -> Outcome:
    text = _text(resp)
    if code != 421:
        with contextlib.suppress(smtplib.SMTPException, OSError):
            smtp.rset()
    return Outcome(classify(code, text, stage), code, text, stage, rcpt)


class _Refused(Exception):
    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.words)
        self.outcome = outcome


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The system's trusted certificates, loaded once (loading takes tens of milliseconds)."""
    return ssl.create_default_context()


def _open(server: Server, local_hostname: str | None) -> smtplib.SMTP:
    """The one place that talks to the network: connect, EHLO, TLS, login."""
    context = tls_context()
    try:
        if server.tls == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                server.host, server.port, local_hostname, timeout=server.timeout, context=context
            )
        else:
            smtp = smtplib.SMTP(server.host, server.port, local_hostname, timeout=server.timeout)
    except smtplib.SMTPConnectError as exc:
        text = _text(exc.smtp_error)
        raise _Refused(
            Outcome(classify(exc.smtp_code, text, "connect"), exc.smtp_code, text, "connect")
        ) from None
    except ssl.SSLError as exc:
        raise _Refused(Outcome("mailbox", None, f"TLS failed: {_said(exc)}", "connect")) from None
    except (smtplib.SMTPException, OSError) as exc:
        where = f"{server.host}:{server.port}"
        raise _Refused(
            Outcome("temporary", None, f"cannot connect to {where}: {_said(exc)}", "connect")
        ) from None
    try:
        _greet(smtp, server, context)
    except ssl.SSLError as exc:
        smtp.close()
        raise _Refused(Outcome("mailbox", None, f"TLS failed: {_said(exc)}", "tls")) from None
    except (smtplib.SMTPException, OSError) as exc:
        smtp.close()
        raise _Refused(
            Outcome("temporary", None, f"connection lost: {_said(exc)}", "ehlo")
        ) from None
    except BaseException:
        smtp.close()
        raise
    return smtp


def _greet(smtp: smtplib.SMTP, server: Server, context: ssl.SSLContext) -> None:
    code, resp = smtp.ehlo()
    if code != 250:
        code, resp = smtp.helo()
        if code != 250:
            raise _Refused(Outcome(classify(code, _text(resp), "ehlo"), code, _text(resp), "ehlo"))
    if server.tls == "starttls":
        if not smtp.has_extn("starttls"):
            raise _Refused(Outcome("mailbox", None, "the server does not offer STARTTLS", "tls"))
        code, resp = smtp.starttls(context=context)
        if code != 220:
            raise _Refused(Outcome("mailbox", code, _text(resp), "tls"))
        smtp.ehlo()
    if server.user:
        if not smtp.has_extn("auth"):
            raise _Refused(Outcome("mailbox", None, "the server offers no login (AUTH)", "auth"))
        try:
            _login(smtp, server.user, server.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            text = _text(exc.smtp_error)
            raise _Refused(
                Outcome(classify(exc.smtp_code, text, "auth"), exc.smtp_code, text, "auth")
            ) from None
        except smtplib.SMTPException as exc:
            raise _Refused(
                Outcome("mailbox", None, f"login failed: {_said(exc)}", "auth")
            ) from None


def _login(smtp: smtplib.SMTP, user: str, password: str) -> None:
    """Log in; smtplib encodes credentials as ASCII, so others go as RFC 4616 PLAIN in UTF-8."""
    if (user + password).isascii():
        smtp.login(user, password)
        return
    if "plain" not in smtp.esmtp_features.get("auth", "").lower().split():
        raise smtplib.SMTPAuthenticationError(
            504, b"the server offers no AUTH PLAIN, which a non-ASCII password needs"
        )
    token = base64.b64encode(f"\0{user}\0{password}".encode()).decode("ascii")
    code, resp = smtp.docmd("AUTH", f"PLAIN {token}")
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, resp)


def _quit(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        pass
    finally:
        smtp.close()


def _text(resp: bytes | str) -> str:
    raw = resp.decode("utf-8", "replace") if isinstance(resp, bytes) else resp
    return " ".join(raw.split())


def _said(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out"
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
