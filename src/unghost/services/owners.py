"""Who the data belongs to: finding, creating and describing owners."""

from __future__ import annotations

from datetime import UTC, datetime, time

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from unghost.domain.model import Owner
from unghost.errors import BadInput, NotFound
from unghost.services import checks
from unghost.services.checks import quote
from unghost.store import models as m

LOCAL_OWNER = "local@unghost.invalid"


def resolve_owner(session: Session, email: str | None, *, create: bool) -> m.User:
    """The named user; else the only user; else the local default user (created if asked)."""
    if email:
        address = checks.email(email, "owner")
        assert address is not None
        user = session.scalar(select(m.User).where(func.lower(m.User.email) == address.lower()))
        if user is not None:
            return user
        if not create:
            raise NotFound(f"no user {quote(address)}")
        return _create(session, address)
    users = list(session.scalars(select(m.User).order_by(m.User.id).limit(2)))
    if len(users) == 1:
        return users[0]
    if len(users) > 1:
        raise BadInput("several users in this database: name one with --owner EMAIL")
    if not create:
        raise NotFound("the database is empty: import a workspace first (unghost import FILE)")
    return _create(session, LOCAL_OWNER)


def _create(session: Session, email: str) -> m.User:
    user = m.User(
        email=email,
        name="",
        timezone="UTC",
        working_days="mon,tue,wed,thu,fri",
        working_start="09:00",
        working_end="17:00",
        is_admin=False,
        created_at=datetime.now(UTC),
    )
    session.add(user)
    session.flush()
    return user


def owner_of(user: m.User) -> Owner:
    """The pure-core view of a user."""
    return Owner(
        email=user.email,
        name=user.name,
        phone=user.phone,
        signature=user.signature,
        timezone=user.timezone,
        country=user.country,
        working_days=tuple(user.working_days.split(",")),
        working_hours=(
            time.fromisoformat(user.working_start),
            time.fromisoformat(user.working_end),
        ),
    )
