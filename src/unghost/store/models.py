"""SQLAlchemy models for every concept of PRODUCT §2.

Times are stored as naive UTC and come back aware (`UTCDateTime`), so SQLite
and PostgreSQL behave the same. Workspace ids (`key`) are unique per owner.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime, stored as naive UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {  # noqa: RUF012
        datetime: UTCDateTime(),
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class User(Base):
    """An owner (seller) or a teammate; every contact and deal belongs to one."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str | None] = mapped_column(String(32))
    signature: Mapped[str | None] = mapped_column(Text)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    country: Mapped[str | None] = mapped_column(String(2))
    working_days: Mapped[str] = mapped_column(String(40), default="mon,tue,wed,thu,fri")
    working_start: Mapped[str] = mapped_column(String(5), default="09:00")
    working_end: Mapped[str] = mapped_column(String(5), default="17:00")
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    # The footer of every email sent for this owner (anti-spam laws want one).
    postal_address: Mapped[str | None] = mapped_column(Text)
    # Added with the web app (migration 0005): the TOTP second factor's secret, sealed
    # under the secret key like mailbox passwords; null while the factor is off.
    totp_secret: Mapped[str | None] = mapped_column(Text)


class Contact(Base):
    """A person: prospect, referrer, advocate or assistant."""

    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("owner_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    # How to greet them, when it is not the first word of the name ("Nguyễn Thị Hoa": Hoa).
    first_name: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    phone: Mapped[str | None] = mapped_column(String(32))
    company: Mapped[str | None] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(String(200))
    timezone: Mapped[str | None] = mapped_column(String(64))
    linkedin: Mapped[str | None] = mapped_column(String(500))
    interests: Mapped[list[Any]] = mapped_column(default=list)
    humor_ok: Mapped[bool] = mapped_column(Boolean, default=False)
    nearby: Mapped[bool] = mapped_column(Boolean, default=False)
    assistant_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    do_not_contact: Mapped[bool] = mapped_column(Boolean, default=False)
    email_bad: Mapped[bool] = mapped_column(Boolean, default=False)


class Deal(Base):
    """One conversation with a prospect about one problem."""

    __tablename__ = "deals"
    __table_args__ = (
        UniqueConstraint("owner_id", "key"),
        Index("ix_deals_owner_id_stage", "owner_id", "stage"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    title: Mapped[str] = mapped_column(String(300), default="")
    stage: Mapped[str] = mapped_column(String(10), default="open")
    problem: Mapped[str | None] = mapped_column(Text)
    benefits: Mapped[str | None] = mapped_column(Text)
    cost_of_inaction: Mapped[str | None] = mapped_column(Text)
    referrer_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    advocate_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    urgency: Mapped[str] = mapped_column(String(10), default="normal")
    permission_to_say_no: Mapped[bool] = mapped_column(Boolean, default=False)
    tags: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime | None]
    proposal_sent_at: Mapped[datetime | None]
    proposal_expires_at: Mapped[date | None] = mapped_column(Date)
    proposal_amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    proposal_currency: Mapped[str | None] = mapped_column(String(3))
    # Kept up to date by the planner; the source of truth is the history.
    state: Mapped[str | None] = mapped_column(String(16))
    paused_until: Mapped[datetime | None]
    # The stored plan: the assessment it was made on, a digest of everything it was made
    # from, and until when it stays right if nothing is recorded (services/plan.py).
    assessment: Mapped[dict[str, Any] | None]
    plan_digest: Mapped[str | None] = mapped_column(String(32))
    planned_at: Mapped[datetime | None]
    replan_at: Mapped[datetime | None]


class Touch(Base):
    """One contact attempt or response on any channel."""

    __tablename__ = "touches"
    __table_args__ = (Index("ix_touches_deal_id_at", "deal_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    at: Mapped[datetime]
    channel: Mapped[str] = mapped_column(String(10))
    direction: Mapped[str] = mapped_column(String(3))
    outcome: Mapped[str | None] = mapped_column(String(16))
    subject: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)
    play: Mapped[str | None] = mapped_column(String(64))
    variant: Mapped[str | None] = mapped_column(String(96))
    content_key: Mapped[str | None] = mapped_column(String(200))
    # A digest of the touch's fields: importing the same touch twice adds nothing.
    fingerprint: Mapped[str] = mapped_column(String(32))


class Meeting(Base):
    """A scheduled call or meeting."""

    __tablename__ = "meetings"
    __table_args__ = (
        Index("ix_meetings_deal_id_at", "deal_id", "at"),
        # Today's questions: the scheduled meetings that have just passed (migration 0006).
        Index("ix_meetings_status_at", "status", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    minutes: Mapped[int] = mapped_column(Integer, default=30)
    confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(10), default="scheduled")


class Promise(Base):
    """A date someone committed to."""

    __tablename__ = "promises"
    __table_args__ = (Index("ix_promises_deal_id_by", "deal_id", "by"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"))
    by: Mapped[date] = mapped_column(Date)
    who: Mapped[str] = mapped_column(String(10), default="prospect")
    note: Mapped[str | None] = mapped_column(Text)
    made_at: Mapped[datetime | None]


class ContentItem(Base):
    """An article, report or checklist for value drips."""

    __tablename__ = "content"
    __table_args__ = (UniqueConstraint("owner_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(300))
    url: Mapped[str | None] = mapped_column(String(1000))
    tags: Mapped[list[Any]] = mapped_column(default=list)
    summary: Mapped[str | None] = mapped_column(Text)


class Step(Base):
    """A planned play for one deal, with its rendered draft and why."""

    __tablename__ = "steps"
    __table_args__ = (
        # Today: open steps by due time, counted without reading the rows (migration 0006).
        Index("ix_steps_status_due_deal_id", "status", "due", "deal_id"),
        # Today: the missed-meeting steps, which come right after replies.
        Index("ix_steps_play_status_due", "play", "status", "due"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"), index=True)
    play: Mapped[str] = mapped_column(String(64))
    variant: Mapped[str | None] = mapped_column(String(96))
    channel: Mapped[str] = mapped_column(String(10))
    to: Mapped[list[Any]] = mapped_column(default=list)
    cc: Mapped[list[Any]] = mapped_column(default=list)
    due: Mapped[datetime]
    subject: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)
    script: Mapped[str | None] = mapped_column(Text)
    why: Mapped[str] = mapped_column(Text, default="")
    warnings: Mapped[list[Any]] = mapped_column(default=list)
    content_key: Mapped[str | None] = mapped_column(String(200))
    times: Mapped[list[Any]] = mapped_column(default=list)
    dial: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(10), default="planned")
    planned_at: Mapped[datetime]
    done_at: Mapped[datetime | None]
    touch_id: Mapped[int | None] = mapped_column(ForeignKey("touches.id", ondelete="SET NULL"))


class Reply(Base):
    """An inbound message, parsed."""

    __tablename__ = "replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id", ondelete="SET NULL"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    touch_id: Mapped[int | None] = mapped_column(ForeignKey("touches.id", ondelete="SET NULL"))
    message_id: Mapped[str | None] = mapped_column(String(998), index=True)
    received_at: Mapped[datetime]
    from_address: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(Text)
    new_text: Mapped[str | None] = mapped_column(Text)
    auto_reply: Mapped[str | None] = mapped_column(String(16))
    return_date: Mapped[date | None] = mapped_column(Date)
    bounce: Mapped[dict[str, Any] | None]
    intent: Mapped[str | None] = mapped_column(String(16))
    confidence: Mapped[float | None]
    dates: Mapped[list[Any]] = mapped_column(default=list)
    corrected_intent: Mapped[str | None] = mapped_column(String(16))
    # Set when the seller has dealt with the reply; until then it tops *Today*.
    handled_at: Mapped[datetime | None]
    # Added with reading replies (migration 0003): what ingesting it did, in words,
    # and the person a referral named (a contact of the owner, linked through the reply).
    reaction: Mapped[str | None] = mapped_column(Text)
    referred_contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL")
    )


# One message is ingested once per owner (a message without a Message-ID gets a digest).
Index("ix_replies_owner_id_message_id", Reply.owner_id, Reply.message_id, unique=True)


class OutboxMessage(Base):
    """One email to send for one step; the Message-ID is fixed before the first try."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("steps.id", ondelete="CASCADE"), unique=True)
    message_id: Mapped[str] = mapped_column(String(998), unique=True)
    state: Mapped[str] = mapped_column(String(10), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    # Added with the sending half of email (migration 0002).
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"), index=True)
    # None: no mailbox, the message is written as an .eml file to the outbox folder.
    mailbox_id: Mapped[int | None] = mapped_column(
        ForeignKey("mailboxes.id", ondelete="SET NULL"), index=True
    )
    from_address: Mapped[str | None] = mapped_column(String(320))
    to_addresses: Mapped[list[Any]] = mapped_column(default=list)
    # The exact bytes handed to the server, fixed at the first attempt.
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)
    last_attempt_at: Mapped[datetime | None]
    # The worker that marked the row `sending` (see store/liveness.py).
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    # When the message was put in the Sent folder by unghost (mailboxes that need it).
    copied_at: Mapped[datetime | None]


Index("ix_outbox_state_next_attempt_at", OutboxMessage.state, OutboxMessage.next_attempt_at)


class Mailbox(Base):
    """An owner's SMTP and IMAP accounts; passwords are sealed with the secret key."""

    __tablename__ = "mailboxes"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    email: Mapped[str] = mapped_column(String(320))
    from_name: Mapped[str | None] = mapped_column(String(200))
    smtp_host: Mapped[str] = mapped_column(String(253))
    smtp_port: Mapped[int] = mapped_column(Integer)
    smtp_tls: Mapped[str] = mapped_column(String(8))
    smtp_user: Mapped[str | None] = mapped_column(String(320))
    smtp_password: Mapped[str | None] = mapped_column(Text)
    imap_host: Mapped[str | None] = mapped_column(String(253))
    imap_port: Mapped[int | None] = mapped_column(Integer)
    imap_tls: Mapped[str | None] = mapped_column(String(8))
    imap_user: Mapped[str | None] = mapped_column(String(320))
    imap_password: Mapped[str | None] = mapped_column(Text)
    sent_folder: Mapped[str] = mapped_column(String(200), default="Sent")
    # True: unghost puts each sent message in the Sent folder (plain SMTP servers);
    # False: the provider does it itself (Gmail, Outlook/Office 365).
    copy_to_sent: Mapped[bool] = mapped_column(Boolean, default=True)
    per_day: Mapped[int] = mapped_column(Integer, default=200)
    per_minute: Mapped[int] = mapped_column(Integer, default=10)
    paused_until: Mapped[datetime | None]
    pause_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class SendAttempt(Base):
    """One try at handing one outbox message to its server, with the server's reply."""

    __tablename__ = "send_attempts"
    __table_args__ = (Index("ix_send_attempts_mailbox_id_at", "mailbox_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id", ondelete="CASCADE"), index=True)
    mailbox_id: Mapped[int | None] = mapped_column(ForeignKey("mailboxes.id", ondelete="SET NULL"))
    at: Mapped[datetime]
    # sent, temporary, quota, mailbox, permanent, unknown, resolved
    outcome: Mapped[str] = mapped_column(String(16))
    code: Mapped[int | None] = mapped_column(Integer)
    reply: Mapped[str | None] = mapped_column(Text)


class ImapCursor(Base):
    """How far one folder of a mailbox has been read: its UIDVALIDITY and last UID ingested.

    A message is ingested and the cursor moved in one transaction, so a restart reads
    neither twice nor too little; a new UIDVALIDITY means the UIDs changed and the folder
    is read again, deduplicated by Message-ID.
    """

    __tablename__ = "imap_cursors"
    __table_args__ = (UniqueConstraint("mailbox_id", "folder"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id", ondelete="CASCADE"))
    folder: Mapped[str] = mapped_column(String(200))
    # Both are unsigned 32-bit numbers in IMAP: too big for a signed INTEGER.
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    read_at: Mapped[datetime | None]
    # A message whose ingest keeps failing (not the database): tried a few passes, then
    # stored without a deal so the folder moves on.
    failed_uid: Mapped[int | None] = mapped_column(BigInteger)
    failures: Mapped[int] = mapped_column(Integer, default=0)


class ApiToken(Base):
    """A user's API token: only its SHA-256 is kept; `prefix` names it in lists and revokes."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # The token's first characters (`ug_` and 8 more): public, shown to tell tokens apart.
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    # Hex SHA-256 of the whole token: a 256-bit random secret needs no salt or slow hash.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class WebSession(Base):
    """A signed-in browser: only the SHA-256 of the cookie's secret is kept."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The form token every unsafe request of this session must carry.
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    # Set between a correct password and a correct second-factor code.
    pending_totp: Mapped[bool] = mapped_column(Boolean, default=False)


class LoginAttempt(Base):
    """A failed sign-in, counted for throttling by address and by client."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), index=True)
    client: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(index=True)
