"""Accounts: users with argon2-hashed passwords, and API tokens stored as SHA-256 hashes.

A password is never stored, logged or put in an error; a token is returned once, by
`create_token`, and only its hash and public prefix are kept. Passwords are hashed with
argon2id (argon2-cffi) and rehashed on a successful verify when the parameters changed,
so raising the cost upgrades every account as its owner signs in.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import CHEAPEST
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from unghost.errors import BadInput, Conflict, NotFound
from unghost.services import checks
from unghost.services.checks import quote
from unghost.settings import Settings
from unghost.store import models as m

MIN_PASSWORD = 12
# argon2 takes any length; a cap keeps one request from hashing megabytes.
MAX_PASSWORD = 1024

TOKEN_PREFIX = "ug_"
# The public part shown in lists and given to `token revoke`: "ug_" and 8 characters.
PREFIX_LEN = len(TOKEN_PREFIX) + 8
# 32 random bytes in URL-safe base64, without padding.
_SECRET_LEN = 43

# argon2-cffi's defaults (RFC 9106, low memory profile): argon2id, 64 MiB, 3 passes.
_STRONG = PasswordHasher()
_FAST = PasswordHasher.from_parameters(CHEAPEST)


def password_hasher(settings: Settings | None = None) -> PasswordHasher:
    """The hasher to use: argon2-cffi's defaults, or the cheapest one with UNGHOST_FAST_HASH=1."""
    return _FAST if settings is not None and settings.fast_hash else _STRONG


# -- users ------------------------------------------------------------------------------


def add_user(
    session: Session,
    email: str,
    *,
    name: str | None = None,
    admin: bool = False,
    password: str,
    hasher: PasswordHasher | None = None,
    now: datetime | None = None,
) -> m.User:
    """Create a user with a password, or give one to a user imported without one.

    A user who already has a password is a `Conflict` (`unghost user passwd` changes it).
    """
    address = _address(email)
    name = checks.one_line(name, "--name")
    password_hash = _hash(password, hasher)
    user = find_user(session, address)
    if user is not None:
        if user.password_hash is not None:
            raise Conflict(
                f"user {quote(user.email)} already exists "
                f"(change the password with `unghost user passwd {user.email}`)"
            )
        user.password_hash = password_hash
        if name:
            user.name = name
        if admin:
            user.is_admin = True
        session.flush()
        return user
    user = m.User(
        email=address,
        name=name or "",
        timezone="UTC",
        working_days="mon,tue,wed,thu,fri",
        working_start="09:00",
        working_end="17:00",
        password_hash=password_hash,
        is_admin=admin,
        created_at=now or datetime.now(UTC),
    )
    session.add(user)
    session.flush()
    return user


def set_password(
    session: Session, email: str, password: str, *, hasher: PasswordHasher | None = None
) -> m.User:
    """Replace a user's password (or set the first one)."""
    user = get_user(session, email)
    user.password_hash = _hash(password, hasher)
    session.flush()
    return user


def list_users(session: Session) -> list[m.User]:
    """Every user, by email."""
    return list(session.scalars(select(m.User).order_by(func.lower(m.User.email), m.User.id)))


def find_user(session: Session, email: str) -> m.User | None:
    """The user with this email (case-insensitive), or None."""
    return session.scalar(select(m.User).where(func.lower(m.User.email) == email.lower()))


def get_user(session: Session, email: str) -> m.User:
    """The user with this email; `NotFound` if there is none."""
    address = _address(email)
    user = find_user(session, address)
    if user is None:
        raise NotFound(f"no user {quote(address)}")
    return user


def verify_password(user: m.User, password: str, *, hasher: PasswordHasher | None = None) -> bool:
    """Whether `password` is the user's; a match hashed with old parameters is rehashed.

    The new hash is set on `user`: the caller's transaction stores it.
    """
    if user.password_hash is None or not password or len(password) > MAX_PASSWORD:
        return False
    hasher = hasher or _STRONG
    try:
        hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    return True


def _address(email: str) -> str:
    address = checks.email(email, "email")
    if address is None:
        raise BadInput("email: required")
    return address


def _hash(password: str, hasher: PasswordHasher | None) -> str:
    if len(password) < MIN_PASSWORD:
        raise BadInput(f"the password is too short: it needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise BadInput(f"the password is too long: at most {MAX_PASSWORD} characters")
    if not password.strip():
        raise BadInput("the password is only spaces")
    return (hasher or _STRONG).hash(password)


# -- API tokens -------------------------------------------------------------------------


def create_token(
    session: Session, email: str, *, name: str | None = None, now: datetime | None = None
) -> str:
    """A new API token for the user: returned this once, stored only as its SHA-256."""
    user = get_user(session, email)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        m.ApiToken(
            user_id=user.id,
            prefix=token[:PREFIX_LEN],
            token_hash=_digest(token),
            name=checks.one_line(name, "--name"),
            created_at=now or datetime.now(UTC),
        )
    )
    session.flush()
    return token


def user_for_token(session: Session, token: str, *, now: datetime | None = None) -> m.User | None:
    """The user a live token belongs to (its last use recorded), else None."""
    row = live_token(session, token)
    if row is None:
        return None
    row.last_used_at = now or datetime.now(UTC)
    return session.get_one(m.User, row.user_id)


def live_token(session: Session, token: str) -> m.ApiToken | None:
    """The live (not revoked) token row of this secret, else None; nothing is written.

    The token is looked up by its hash, so the secret itself is never compared byte by byte.
    """
    if not _well_formed(token):
        return None
    digest = _digest(token)
    row = session.scalar(
        select(m.ApiToken).where(m.ApiToken.token_hash == digest, m.ApiToken.revoked_at.is_(None))
    )
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        return None
    return row


def list_tokens(session: Session, email: str | None = None) -> list[tuple[m.ApiToken, m.User]]:
    """Live tokens with their users (one user's if `email` is given), oldest first."""
    query = (
        select(m.ApiToken, m.User)
        .join(m.User, m.User.id == m.ApiToken.user_id)
        .where(m.ApiToken.revoked_at.is_(None))
        .order_by(m.ApiToken.created_at, m.ApiToken.id)
    )
    if email is not None:
        query = query.where(m.User.id == get_user(session, email).id)
    return [(t, u) for t, u in session.execute(query)]


def revoke_token(
    session: Session, prefix: str, *, now: datetime | None = None, user_id: int | None = None
) -> m.ApiToken:
    """Revoke the live token with this public prefix (or this whole token).

    With `user_id`, only that user's tokens are looked at: another's is `NotFound`.
    """
    prefix = prefix.strip()
    if _well_formed(prefix):
        query = select(m.ApiToken).where(m.ApiToken.token_hash == _digest(prefix))
    elif prefix.startswith(TOKEN_PREFIX) and len(prefix) == PREFIX_LEN:
        query = select(m.ApiToken).where(m.ApiToken.prefix == prefix)
    else:
        shown = prefix if len(prefix) <= PREFIX_LEN else prefix[:PREFIX_LEN] + "…"
        raise BadInput(
            f"not a token prefix: {quote(shown)} "
            f"({TOKEN_PREFIX!r} and 8 more characters, as `unghost token list` shows)"
        )
    if user_id is not None:
        query = query.where(m.ApiToken.user_id == user_id)
    rows = list(session.scalars(query.where(m.ApiToken.revoked_at.is_(None)).limit(2)))
    if not rows:
        raise NotFound(f"no live token {quote(prefix[:PREFIX_LEN])}")
    if len(rows) > 1:
        raise Conflict(f"several tokens start with {quote(prefix)}: revoke with the whole token")
    rows[0].revoked_at = now or datetime.now(UTC)
    session.flush()
    return rows[0]


def _well_formed(token: str) -> bool:
    return token.startswith(TOKEN_PREFIX) and len(token) == len(TOKEN_PREFIX) + _SECRET_LEN


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
