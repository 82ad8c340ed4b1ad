"""Silence detection (PRODUCT §3): a deal's state and every reason that holds, at `now`.

Pure: a function of the deal's history, the owner's business calendar, the
playbook's silence settings and `now`. "Contact from the prospect" is exactly
CONTRACT.md's definition (`Touch.from_prospect`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache

from unghost.domain.calendar import BusinessCalendar
from unghost.domain.model import Contact, Deal, Meeting, Promise, Reason, State, Touch
from unghost.domain.playbook import Settings, SilenceSettings

AUTO_REPLY_PAUSE_DAYS = 7  # PRODUCT §5: out of office with no return date named


@dataclass(frozen=True)
class Assessment:
    """What silence detection found, with the facts a `why` can quote."""

    state: State
    reasons: tuple[Reason, ...] = ()
    silent_since: datetime | None = None
    paused_until: datetime | None = None
    nurture_until: datetime | None = None
    last_inbound: datetime | None = None
    unanswered: int = 0
    missed: Meeting | None = None
    facts: tuple[str, ...] = ()


def episode_start(deal: Deal) -> datetime | None:
    """The time of the last contact from the prospect: the current silence began after it."""
    global _last_episode
    last = _last_episode
    if last[0] is deal:  # assessing a deal, then asking when that changes, asks twice
        return last[1]
    start = None
    for t in deal.touches:
        if t.from_prospect and (start is None or t.at > start):
            start = t.at
    _last_episode = (deal, start)
    return start


def unanswered_touches(deal: Deal, since: datetime | None) -> list[Touch]:
    """Outbound attempts to the prospect since `since` that got nothing back."""
    global _last_unanswered
    last = _last_unanswered
    if last[0] is deal and last[1] == since:
        return list(last[2])
    found = [
        t
        for t in deal.touches
        if t.direction == "out"
        and not t.from_prospect
        and t.outcome not in ("bounced",)
        and t.channel != "meeting"
        and (t.contact is None or t.contact == deal.contact)
        and (since is None or t.at > since)
    ]
    _last_unanswered = (deal, since, tuple(found))
    return found


# The last answers of the two functions above, for the deal they were for (deals are
# immutable, so the same object gives the same answer; one entry is all a plan needs).
_last_episode: tuple[Deal | None, datetime | None] = (None, None)
_last_unanswered: tuple[Deal | None, datetime | None, tuple[Touch, ...]] = (None, None, ())


def assess(
    deal: Deal,
    contact: Contact | None,
    cal: BusinessCalendar,
    playbook: Settings,
    now: datetime,
) -> Assessment:
    """The deal's state at `now` and, when silent, every reason of PRODUCT §3 that holds."""
    settings = playbook.silence
    if deal.stage == "won":
        return Assessment("won")
    if deal.stage == "lost":
        return Assessment("lost")
    if contact is not None and contact.do_not_contact:
        return Assessment("do_not_contact")
    last_in = episode_start(deal)
    nurture = nurture_until(deal, last_in, cal, playbook)
    if nurture is not None:
        return Assessment(
            "nurture",
            nurture_until=nurture,
            last_inbound=last_in,
            facts=(f"moved on after the final call; check back on {_day(nurture, cal)}",),
        )
    paused = _paused_until(deal, last_in, cal)
    if paused is not None and paused > now:
        return Assessment(
            "paused",
            paused_until=paused,
            last_inbound=last_in,
            facts=(f"paused until {paused.date().isoformat()}",),
        )

    start = last_in or deal.created_at or _first_touch(deal)
    reasons: list[tuple[Reason, datetime, str]] = []
    missed = _missed_meeting(deal, last_in, now)
    if missed is not None:
        end = missed.at + timedelta(minutes=missed.minutes)
        reasons.append(
            ("missed_meeting", end, f"the meeting of {_day(missed.at, cal)} did not happen")
        )
    promise = _passed_promise(deal, last_in, cal, settings, now)
    if promise is not None:
        p, since = promise
        reasons.append(("promise_passed", since, f"they promised an answer by {p.by.isoformat()}"))
    proposal = deal.proposal
    if proposal is not None and proposal.sent_at is not None:
        quiet_from = max(proposal.sent_at, last_in) if last_in else proposal.sent_at
        since = cal.add_business_days(quiet_from, settings.proposal_business_days)
        if now >= since:  # the same moment `next_change` names: no reason before its time
            reasons.append(
                (
                    "proposal_unanswered",
                    since,
                    f"the proposal of {_day(proposal.sent_at, cal)} has had no answer",
                )
            )
    unanswered = unanswered_touches(deal, last_in)
    if start is not None and len(unanswered) >= settings.unanswered_touches:
        waited = start + timedelta(days=settings.unanswered_days)
        if now >= waited:
            nth = unanswered[settings.unanswered_touches - 1].at
            reasons.append(
                (
                    "unanswered_touches",
                    max(waited, nth),
                    f"{len(unanswered)} touches unanswered since {_day(start, cal)}",
                )
            )
    if start is not None and now >= start + timedelta(days=settings.no_inbound_days):
        what = "nothing from them since" if last_in else "no answer since the start on"
        reasons.append(
            (
                "no_inbound",
                start + timedelta(days=settings.no_inbound_days),
                f"{what} {_day(start, cal)}",
            )
        )
    if not reasons:
        return Assessment("active", last_inbound=last_in, unanswered=len(unanswered))
    reasons.sort(key=lambda r: _REASON_RANK[r[0]])
    return Assessment(
        "silent",
        reasons=tuple(r for r, _, _ in reasons),
        silent_since=min(s for _, s, _ in reasons),
        last_inbound=last_in,
        unanswered=len(unanswered),
        missed=missed,
        facts=tuple(f for _, _, f in reasons),
    )


_REASON_ORDER: tuple[Reason, ...] = (
    "missed_meeting",
    "promise_passed",
    "proposal_unanswered",
    "unanswered_touches",
    "no_inbound",
)


_REASON_RANK = {r: i for i, r in enumerate(_REASON_ORDER)}


def _first_touch(deal: Deal) -> datetime | None:
    return min((t.at for t in deal.touches), default=None)


NURTURE_PLAYS = ("final-call", "check-back")


def nurture_until(
    deal: Deal, last_in: datetime | None, cal: BusinessCalendar, playbook: Settings
) -> datetime | None:
    """When to check back, if the seller moved on (001: a final call, then 3-4 months)."""
    moved_on = max(
        (
            t.at
            for t in deal.touches
            if t.play in NURTURE_PLAYS
            and t.direction == "out"
            and (last_in is None or t.at > last_in)
        ),
        default=None,
    )
    if moved_on is None:
        return None
    return cal.add_days_then_business(moved_on, playbook.check_back_days[0])


def _paused_until(deal: Deal, last_in: datetime | None, cal: BusinessCalendar) -> datetime | None:
    """An explicit pause, or an auto-reply since the last contact: 7 days, then a business day."""
    paused = deal.paused_until
    for t in deal.touches:
        if (
            t.outcome == "auto_reply"
            and t.direction == "in"
            and (last_in is None or t.at > last_in)
        ):
            until = cal.add_business_days(t.at + timedelta(days=AUTO_REPLY_PAUSE_DAYS), 1)
            if paused is None or until > paused:
                paused = until
    return paused


def _missed_meeting(deal: Deal, last_in: datetime | None, now: datetime) -> Meeting | None:
    """The latest confirmed meeting that ended, was not held, and got no word since it began."""
    found: Meeting | None = None
    for m in deal.meetings:
        if m.status in ("held", "cancelled"):
            continue
        if m.status == "scheduled" and not m.confirmed:
            continue
        end = m.at + timedelta(minutes=m.minutes)
        if end > now or (last_in is not None and last_in >= m.at):
            continue
        if found is None or m.at > found.at:
            found = m
    return found


def _passed_promise(
    deal: Deal,
    last_in: datetime | None,
    cal: BusinessCalendar,
    settings: SilenceSettings,
    now: datetime,
) -> tuple[Promise, datetime] | None:
    """The prospect's latest promise whose date passed by the grace, with nothing since."""
    found: tuple[Promise, datetime] | None = None
    for p in deal.promises:
        if p.who != "prospect":
            continue
        made = p.made_at
        if made is not None and last_in is not None and last_in > made:
            continue  # they spoke after promising: the promise was answered
        if made is None and last_in is not None and last_in.astimezone(cal.zone).date() >= p.by:
            continue
        since = _promise_passes(p, cal, settings)
        if now < since:
            continue
        if found is None or p.by > found[0].by:
            found = (p, since)
    return found


def _promise_passes(p: Promise, cal: BusinessCalendar, settings: SilenceSettings) -> datetime:
    """When a promise counts as passed: the start of the grace-th business day after its date
    (promised by Friday, one business day of grace: Monday morning)."""
    day_after = datetime.combine(date.fromordinal(p.by.toordinal() + 1), time(0), tzinfo=cal.zone)
    first = cal.next_business_time(day_after)
    return cal.add_business_days(first, max(settings.promise_grace_business_days - 1, 0))


def _day(at: datetime, cal: BusinessCalendar) -> str:
    return _fmt(at.astimezone(cal.zone).date())


@lru_cache(maxsize=4096)  # strftime is slow, and a book's dates repeat
def _fmt(d: date) -> str:
    return f"{d:%A} {d.day} {d:%B}"


def next_change(
    deal: Deal, cal: BusinessCalendar, playbook: Settings, now: datetime
) -> datetime | None:
    """The first moment after `now` at which time alone changes the assessment.

    Reasons only ever start with the passing of time (a new touch is what ends them), so
    a stored assessment is good until then, or until something is recorded on the deal.
    """
    settings = playbook.silence
    last_in = episode_start(deal)
    start = last_in or deal.created_at or _first_touch(deal)
    times: list[datetime] = []
    for m in deal.meetings:
        if m.status == "scheduled" and m.confirmed and (last_in is None or last_in < m.at):
            times.append(m.at + timedelta(minutes=m.minutes))
    for p in deal.promises:
        if p.who == "prospect":
            times.append(_promise_passes(p, cal, settings))
    proposal = deal.proposal
    if proposal is not None and proposal.sent_at is not None:
        quiet_from = max(proposal.sent_at, last_in) if last_in else proposal.sent_at
        times.append(cal.add_business_days(quiet_from, settings.proposal_business_days))
    if start is not None:
        if len(unanswered_touches(deal, last_in)) >= settings.unanswered_touches:
            times.append(start + timedelta(days=settings.unanswered_days))
        times.append(start + timedelta(days=settings.no_inbound_days))
    paused = _paused_until(deal, last_in, cal)
    if paused is not None:
        times.append(paused)
    nurture = nurture_until(deal, last_in, cal, playbook)
    if nurture is not None:
        times.append(nurture)
    return min((t for t in times if t > now), default=None)
