"""Signing in to the web app: sessions, throttling and the optional TOTP second factor.

A browser holds a random session secret in an HttpOnly, SameSite=Lax cookie; the store
keeps only its SHA-256, with the session's CSRF token, so signing out (or an admin
removing a user) ends the session at once. Failed sign-ins are counted per address and
per client: past `MAX_FAILURES_PER_EMAIL` for one address, or `MAX_FAILURES_PER_CLIENT`
from one client, within `THROTTLE_WINDOW`, sign-in answers "too many attempts" until the
window has passed, whatever the password. A wrong address and a wrong password get the
same answer, after the same argon2 work.

The TOTP secret (RFC 6238, pyotp) is sealed under the secret key like mailbox passwords.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from argon2 import PasswordHasher
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from unghost.errors import BadInput, UnghostError
from unghost.services.secretkey import SecretKey
from unghost.services.users import find_user, verify_password
from unghost.store import models as m

SESSION_LIFETIME = timedelta(days=14)
# A session unused this long is over, whatever its lifetime says.
IDLE_LIMIT = timedelta(days=3)
# Last-seen is written at most this often, so reads stay reads.
TOUCH_EVERY = timedelta(minutes=5)
# Between a right password and a right code: the half-open session lasts this long.
TOTP_GRACE = timedelta(minutes=10)
THROTTLE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_EMAIL = 5
MAX_FAILURES_PER_CLIENT = 20
TOTP_ISSUER = "unghost"

WRONG = "wrong email or password"


class TooManyAttempts(UnghostError):
    """Sign-in is throttled for this address or client."""

    http_status = 429


@dataclass(frozen=True)
class SignedIn:
    """A session just opened: the cookie value (shown once) and whether a code is due."""

    cookie: str
    csrf: str
    needs_code: bool


@dataclass(frozen=True)
class Current:
    """The user behind a live, fully signed-in session."""

    user: m.User
    session_id: int
    csrf: str
    # The session's last-seen time is old enough to write again (see `seen`).
    seen_due: bool = False


def sign_in(
    session: Session,
    email: str,
    password: str,
    *,
    client: str,
    now: datetime,
    hasher: PasswordHasher | None = None,
) -> SignedIn | None:
    """Check the password and open a session (half-open if the user has a second factor).

    A wrong address or password gives None, with the failure recorded: the caller commits
    it like any other write, so the throttle counts it.
    """
    address = " ".join(email.split()).lower()[:320]
    client = client[:64]
    _throttle(session, address, client, now)
    user = find_user(session, address) if address else None
    if user is None:
        verify_password(_dummy(hasher), password, hasher=hasher)  # the work of a real check
        _fail(session, address, client, now)
        return None
    if not verify_password(user, password, hasher=hasher):
        _fail(session, address, client, now)
        return None
    return _open(session, user, now, pending=user.totp_secret is not None)


def confirm_code(
    session: Session, cookie: str, code: str, *, key: SecretKey, client: str, now: datetime
) -> SignedIn | None:
    """The second step of signing in: a right code turns the half-open session into a new,
    full one (a new cookie, so a cookie seen before the code is worth nothing after).

    A wrong code gives None, with the failure recorded for the throttle.
    """
    row = _row(session, cookie, now)
    if row is None or not row.pending_totp or now - row.created_at > TOTP_GRACE:
        raise BadInput("the sign-in has expired: enter your email and password again")
    user = session.get_one(m.User, row.user_id)
    _throttle(session, user.email.lower(), client, now)
    if user.totp_secret is None or not verify_code(user, code, key=key, now=now):
        _fail(session, user.email.lower(), client, now)
        return None
    session.delete(row)
    return _open(session, user, now, pending=False)


def current(session: Session, cookie: str | None, now: datetime) -> Current | None:
    """The signed-in user of this cookie, or None (unknown, expired, idle or half-open)."""
    if not cookie:
        return None
    row = _row(session, cookie, now)
    if row is None or row.pending_totp:
        return None
    due = now - row.last_seen_at > TOUCH_EVERY
    return Current(session.get_one(m.User, row.user_id), row.id, row.csrf, due)


def seen(session: Session, session_id: int, now: datetime) -> None:
    """Record that the session was used now (it keeps it from going idle)."""
    row = session.get(m.WebSession, session_id)
    if row is not None:
        row.last_seen_at = now


def csrf_for(session: Session, cookie: str | None, now: datetime) -> str | None:
    """The CSRF token of a live session, half-open ones included (the code form needs it)."""
    row = _row(session, cookie, now) if cookie else None
    return row.csrf if row else None


def recheck_password(
    session: Session,
    user: m.User,
    password: str,
    *,
    client: str,
    now: datetime,
    hasher: PasswordHasher | None = None,
) -> bool:
    """Whether a signed-in user re-entered their password right (before turning a second
    factor off, say). Failures count towards the sign-in throttle, so a stolen session
    cannot be used to guess the password: past the limit it raises `TooManyAttempts`."""
    address, client = user.email.lower(), client[:64]
    _throttle(session, address, client, now)
    if verify_password(user, password, hasher=hasher):
        return True
    _fail(session, address, client, now)
    return False


def sign_out(session: Session, cookie: str | None) -> None:
    """End the session of this cookie (nothing happens for an unknown one)."""
    if cookie:
        session.execute(delete(m.WebSession).where(m.WebSession.token_hash == _digest(cookie)))


def sign_out_everywhere(session: Session, user_id: int) -> None:
    """End every session of this user (after a password change, say)."""
    session.execute(delete(m.WebSession).where(m.WebSession.user_id == user_id))


def same_token(expected: str, given: str | None) -> bool:
    """A constant-time comparison of CSRF tokens."""
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())


# -- TOTP ---------------------------------------------------------------------------------


def new_totp_secret() -> str:
    """A fresh base32 secret to show as a QR code or text before the user confirms it."""
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str) -> str:
    """The otpauth:// URI an authenticator app reads."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=TOTP_ISSUER)


def enable_totp(
    session: Session, user: m.User, secret: str, code: str, *, key: SecretKey, now: datetime
) -> None:
    """Turn the second factor on, once the user has shown a right code for the new secret."""
    if not pyotp.TOTP(secret).verify(code.strip(), for_time=now, valid_window=1):
        raise BadInput("code: that code does not match the new secret; try the next one")
    user.totp_secret = key.seal(secret)
    session.flush()


def disable_totp(session: Session, user: m.User) -> None:
    """Turn the second factor off."""
    user.totp_secret = None
    session.flush()


def verify_code(user: m.User, code: str, *, key: SecretKey, now: datetime) -> bool:
    """Whether `code` is the user's current TOTP code (one step of clock drift allowed)."""
    if user.totp_secret is None:
        return False
    code = "".join(code.split())
    if not code.isdigit() or len(code) != 6:
        return False
    return pyotp.TOTP(key.unseal(user.totp_secret)).verify(code, for_time=now, valid_window=1)


# -- helpers ------------------------------------------------------------------------------


def _open(session: Session, user: m.User, now: datetime, *, pending: bool) -> SignedIn:
    cookie = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    session.add(
        m.WebSession(
            user_id=user.id,
            token_hash=_digest(cookie),
            csrf=csrf,
            created_at=now,
            last_seen_at=now,
            expires_at=now + (TOTP_GRACE if pending else SESSION_LIFETIME),
            pending_totp=pending,
        )
    )
    session.execute(delete(m.WebSession).where(m.WebSession.expires_at < now))
    session.flush()
    return SignedIn(cookie, csrf, pending)


def _row(session: Session, cookie: str, now: datetime) -> m.WebSession | None:
    if len(cookie) > 100:
        return None
    row = session.scalar(select(m.WebSession).where(m.WebSession.token_hash == _digest(cookie)))
    if row is None:
        return None
    if now >= row.expires_at or now - row.last_seen_at > IDLE_LIMIT:
        return None
    return row


def _throttle(session: Session, email: str, client: str, now: datetime) -> None:
    since = now - THROTTLE_WINDOW
    by_email = session.scalar(
        select(func.count())
        .select_from(m.LoginAttempt)
        .where(m.LoginAttempt.email == email, m.LoginAttempt.at > since)
    )
    by_client = session.scalar(
        select(func.count())
        .select_from(m.LoginAttempt)
        .where(m.LoginAttempt.client == client, m.LoginAttempt.at > since)
    )
    if (by_email or 0) >= MAX_FAILURES_PER_EMAIL or (by_client or 0) >= MAX_FAILURES_PER_CLIENT:
        minutes = int(THROTTLE_WINDOW.total_seconds() // 60)
        raise TooManyAttempts(f"too many failed sign-ins: try again in {minutes} minutes")


def _fail(session: Session, email: str, client: str, now: datetime) -> None:
    session.add(m.LoginAttempt(email=email[:320], client=client, at=now))
    session.execute(delete(m.LoginAttempt).where(m.LoginAttempt.at < now - THROTTLE_WINDOW))
    session.flush()


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


_DUMMIES: dict[int, m.User] = {}


def _dummy(hasher: PasswordHasher | None) -> m.User:
    """A user with a real hash of a random password, so a wrong address costs what a wrong
    password costs."""
    found = _DUMMIES.get(id(hasher))
    if found is None:
        digest = (hasher or PasswordHasher()).hash(secrets.token_hex(16))
        found = _DUMMIES[id(hasher)] = m.User(email="nobody@invalid", password_hash=digest)
    return found
