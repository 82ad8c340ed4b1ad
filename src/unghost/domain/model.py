"""The plain types of PRODUCT §2, as the pure core sees them.

The store loads rows into these; silence, cadence, the playbook and compose
work on them alone, with `now` passed in. All datetimes are timezone-aware.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Literal, get_args

Channel = Literal[
    "email", "call", "voicemail", "meeting", "linkedin", "sms", "visit", "letter", "other"
]
Direction = Literal["out", "in"]
Outcome = Literal[
    "sent",
    "connected",
    "no_answer",
    "left_voicemail",
    "held",
    "missed",
    "replied",
    "bounced",
    "auto_reply",
]
Stage = Literal["open", "won", "lost"]
Urgency = Literal["normal", "high"]
MeetingStatus = Literal["scheduled", "held", "missed", "cancelled"]
PromiseBy = Literal["prospect", "seller"]
State = Literal["active", "silent", "paused", "nurture", "won", "lost", "do_not_contact"]
Reason = Literal[
    "missed_meeting", "promise_passed", "proposal_unanswered", "unanswered_touches", "no_inbound"
]
StepStatus = Literal["planned", "approved", "sent", "done", "skipped", "cancelled", "failed"]

# The allowed values, read off the Literal types above so there is one list of each.
CHANNELS: tuple[Channel, ...] = get_args(Channel)
DIRECTIONS: tuple[Direction, ...] = get_args(Direction)
OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)
STAGES: tuple[Stage, ...] = get_args(Stage)
URGENCIES: tuple[Urgency, ...] = get_args(Urgency)
MEETING_STATUSES: tuple[MeetingStatus, ...] = get_args(MeetingStatus)
PROMISE_BY: tuple[PromiseBy, ...] = get_args(PromiseBy)
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
REASONS: tuple[Reason, ...] = get_args(Reason)
STATES: tuple[State, ...] = get_args(State)


@dataclass(frozen=True)
class Owner:
    """The seller, with the calendar that business time is measured in."""

    email: str
    name: str = ""
    phone: str | None = None
    signature: str | None = None
    timezone: str = "UTC"
    country: str | None = None
    working_days: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri")
    working_hours: tuple[time, time] = (time(9, 0), time(17, 0))


@dataclass(frozen=True)
class Contact:
    """A person the seller talks to; `key` is the workspace id."""

    key: str
    name: str
    first_name: str | None = None
    email: str | None = None
    phone: str | None = None
    company: str | None = None
    title: str | None = None
    timezone: str | None = None
    linkedin: str | None = None
    interests: tuple[str, ...] = ()
    humor_ok: bool = False
    nearby: bool = False
    assistant: str | None = None
    do_not_contact: bool = False
    email_bad: bool = False


@dataclass(frozen=True)
class Proposal:
    """A proposal sent to the prospect; without an expiry it is given 30 days (003 #6)."""

    sent_at: datetime | None = None
    expires_at: date | None = None
    amount: Decimal | None = None
    currency: str | None = None


@dataclass(frozen=True)
class Touch:
    """One contact attempt or response, on any channel."""

    at: datetime
    channel: Channel
    direction: Direction
    outcome: Outcome | None = None
    contact: str | None = None
    subject: str | None = None
    body: str | None = None
    play: str | None = None
    variant: str | None = None
    content: str | None = None

    @property
    def from_prospect(self) -> bool:
        """CONTRACT.md's "contact from the prospect": what ends silence."""
        if self.outcome in ("connected", "held"):
            return True
        return self.direction == "in" and self.outcome not in ("bounced", "auto_reply")


@dataclass(frozen=True)
class Meeting:
    """A scheduled call or meeting."""

    at: datetime
    minutes: int = 30
    confirmed: bool = False
    status: MeetingStatus = "scheduled"


@dataclass(frozen=True)
class Promise:
    """A date someone committed to, like a prospect's word to decide by Friday (003)."""

    by: date
    who: PromiseBy = "prospect"
    note: str | None = None
    made_at: datetime | None = None


@dataclass(frozen=True)
class ContentItem:
    """Something worth sharing in a value drip."""

    key: str
    title: str
    url: str | None = None
    tags: tuple[str, ...] = ()
    summary: str | None = None


@dataclass(frozen=True)
class Deal:
    """One conversation with a prospect about one problem, with its history."""

    key: str
    contact: str
    title: str = ""
    stage: Stage = "open"
    problem: str | None = None
    benefits: str | None = None
    cost_of_inaction: str | None = None
    referrer: str | None = None
    advocate: str | None = None
    urgency: Urgency = "normal"
    permission_to_say_no: bool = False
    created_at: datetime | None = None
    proposal: Proposal | None = None
    tags: tuple[str, ...] = ()
    touches: tuple[Touch, ...] = ()
    meetings: tuple[Meeting, ...] = ()
    promises: tuple[Promise, ...] = ()
    paused_until: datetime | None = None
    extra: dict[str, str] = field(default_factory=dict, compare=False)
