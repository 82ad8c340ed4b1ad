"""The planner (PRODUCT §4): for one deal, the next right step and the whole cadence ahead.

Pure: everything about the deal comes in a `World`, time comes in as `now`.
The playbook's order, preconditions and spacing decide; code does not
special-case a play by name where a field of the play can say it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from unghost.domain.calendar import BusinessCalendar
from unghost.domain.compose import (
    Choice,
    Sent,
    all_sent,
    choose_variant,
    context,
    fresh_variants,
    matching_content,
    proposal_expiry,
)
from unghost.domain.model import Channel, Contact, ContentItem, Deal, Owner, Touch
from unghost.domain.playbook import Draft, Play, Playbook
from unghost.domain.silence import Assessment, assess, next_change, unanswered_touches
from unghost.domain.slots import Slot, format_slot, free_slots
from unghost.domain.tone import check_tone

# 003 #3: the code that hides the caller's number, by the owner's country.
WITHHOLD_PREFIX = {"US": "*67", "CA": "*67", "GB": "141", "IE": "141", "AU": "1831", "NZ": "0197"}
DEFAULT_WITHHOLD_PREFIX = "#31#"
EXPIRY_WINDOW_DAYS = 7
# Rule 1: "then voicemail-then-email or transparent-check-in": one play of these phases will do.
ONE_OF_PHASES = frozenset({"opener"})
CADENCE_LIMIT = 40
# How long a step may wait for the recipient's working hours; past that (hours that never
# meet, or only after a clock change) it goes in the owner's hours, nearest their morning.
RECIPIENT_WAIT = timedelta(days=4)


@dataclass(frozen=True)
class World:
    """Everything the planner may know about one deal."""

    owner: Owner
    cal: BusinessCalendar
    playbook: Playbook
    deal: Deal
    people: Mapping[str, Contact]
    content: Sequence[ContentItem] = ()
    sent: Mapping[str, Sent] = field(default_factory=dict)
    skipped: frozenset[str] = frozenset()
    busy: Sequence[tuple[datetime, datetime]] = ()
    skipped_ever: frozenset[str] = frozenset()

    @property
    def contact(self) -> Contact:
        return self.people[self.deal.contact]

    def history(self, key: str) -> Sent:
        return self.sent.get(key) or Sent()


@dataclass(frozen=True)
class Step:
    """A planned play for a deal: what, to whom, when, the draft, and why."""

    play: str
    variant: str | None
    channel: Channel
    to: tuple[str, ...]
    cc: tuple[str, ...]
    due: datetime
    subject: str
    body: str
    why: str
    script: str | None = None
    warnings: tuple[str, ...] = ()
    content: str | None = None
    dial: str | None = None
    times: tuple[str, ...] = ()
    # False for a step decided without its words (no subject, body, script or tone
    # warnings yet): its variant is the first fresh one, not yet checked against what
    # the recipient received, so drafting it may still switch variant or play.
    drafted: bool = True


@dataclass(frozen=True)
class Plan:
    """A deal's state and its next step (None when nothing is to be done)."""

    deal: str
    contact: str
    assessment: Assessment
    next: Step | None


def plan_deal(world: World, now: datetime, *, draft: bool = True) -> Plan:
    """Assess the deal at `now` and choose its next step (`draft`: with its words)."""
    a = assess(world.deal, world.contact, world.cal, world.playbook.settings, now)
    return Plan(world.deal.key, world.deal.contact, a, next_step(world, a, now, draft=draft))


def replan_at(world: World, plan: Plan, now: datetime) -> datetime | None:
    """Until when a plan made at `now` stays right if nothing is recorded on the deal."""
    times: list[datetime] = []
    change = next_change(world.deal, world.cal, world.playbook.settings, now)
    if change is not None:
        times.append(change)
    expires = proposal_expiry(world.deal, world.playbook.settings.proposal_default_days)
    if expires is not None:  # the day the proposal-expiry play starts to apply
        window = date.fromordinal(expires.toordinal() - EXPIRY_WINDOW_DAYS)
        times.append(datetime.combine(window, datetime.min.time(), tzinfo=world.cal.zone))
    # The first task's due time follows the next scheduled meeting.
    times.extend(m.at for m in world.deal.meetings if m.status == "scheduled")
    step = plan.next
    if step is not None and step.times:
        # Offered times go stale when the first of them has passed.
        times.append(max(step.due, now) + timedelta(hours=2))
    return min((t for t in times if t > now), default=None)


def next_step(world: World, a: Assessment, now: datetime, *, draft: bool = True) -> Step | None:
    """The next step for an assessed deal, following cadence rules 1-9.

    Without `draft`, the step is decided but not written (`Step.drafted` is False): the
    first fresh variant stands in for the one drafting picks, which is the same unless
    its words read too close to something the recipient already received.
    """
    if a.state == "nurture":
        return _check_back(world, a, now, draft)
    if a.state == "active":
        return _setup(world, a, now, draft)
    if a.state != "silent":
        return None
    deal = world.deal
    since = a.last_inbound
    done = {
        t.play
        for t in deal.touches
        if t.play and t.direction == "out" and (since is None or t.at > since)
    } | set(world.skipped)
    notes: list[str] = []
    candidates = _candidates(world.playbook)
    final: Play | None = None
    phases_done = {p.phase for p in candidates if p.id in done and p.phase in ONE_OF_PHASES}
    for play in candidates:
        if play.id in done or play.phase in phases_done:
            continue
        if play.phase == "final":
            final = final or play
            continue
        step = _try(world, a, play, done, now, notes, draft)
        if step is not None:
            return step
    if final is not None:
        return _try(world, a, final, done, now, notes, draft)
    return None


def _candidates(playbook: Playbook) -> list[Play]:
    """The plays a silent deal may get, in the order they are tried."""
    cached = _ORDER.get(id(playbook))
    if cached is not None and cached[0] is playbook:
        return cached[1]
    candidates = [p for p in playbook.plays if p.enabled and p.phase not in ("check_back", "setup")]
    # Rule 1, with time in mind: a proposal about to expire will not wait for the whole
    # rotation, so the expiry plays are tried before it (after the openers).
    expiry = [p for p in candidates if p.phase == "expiry"]
    rest = [p for p in candidates if p.phase != "expiry"]
    first_rotation = next((i for i, p in enumerate(rest) if p.phase == "rotation"), len(rest))
    candidates = rest[:first_rotation] + expiry + rest[first_rotation:]
    if len(_ORDER) > 16:  # playbooks edited in a long-lived process: forget the old ones
        _ORDER.clear()
    _ORDER[id(playbook)] = (playbook, candidates)
    return candidates


# playbook id → (the playbook, its candidates): the order is worked out once per playbook.
_ORDER: dict[int, tuple[Playbook, list[Play]]] = {}


def _setup(world: World, a: Assessment, now: datetime, draft: bool) -> Step | None:
    """Rule 7: a new deal's first task (agree at the first meeting that a no is welcome)."""
    for play in world.playbook.plays:
        if play.enabled and play.phase == "setup" and play.id not in world.skipped_ever:
            step = _try(world, a, play, set(), now, [], draft)
            if step is not None:
                return step
    return None


def _check_back(world: World, a: Assessment, now: datetime, draft: bool) -> Step | None:
    for play in world.playbook.plays:
        if play.enabled and play.phase == "check_back":
            return _try(world, a, play, set(), now, [], draft)
    return None


def _try(
    world: World,
    a: Assessment,
    play: Play,
    done: set[str],
    now: datetime,
    notes: list[str],
    draft: bool = True,
) -> Step | None:
    for requirement in play.requires:
        if not _holds(requirement, world, a, done, now):
            return None
    recipient = _recipient(world, play)
    if recipient is None:
        notes.append(f"{play.id}: nobody to send it to")
        return None
    if recipient.do_not_contact:
        notes.append(f"{play.id}: {recipient.name} is not to be contacted")
        return None
    channel = _channel(play, recipient)
    if channel is None:
        notes.append(f"{play.id}: no way to reach {recipient.name} on {', '.join(play.channels)}")
        return None
    due, rule = _due(world, a, play, channel, recipient, now)
    history = world.history(recipient.key)
    content = None
    if "has_content" in play.requires:
        content = matching_content(world.deal, world.content, history.content)
    times: tuple[Slot, ...] = ()
    if play.offers_times:
        times = tuple(
            free_slots(
                world.cal, world.busy, now=max(due, now), count=3, recipient_tz=recipient.timezone
            )
        )
    settings = world.playbook.settings
    words: Draft | None = None
    warnings: list[str] = []
    if draft:
        choice = _compose(world, a, play, recipient, history, content, times, due)
        if choice.variant is None or choice.draft is None:
            notes.append(choice.note)
            return None
        variant, words = choice.variant.id, choice.draft
        warnings = list(check_tone(words.subject, words.body, pressure_ok=play.pressure_ok))
        if (
            world.deal.proposal is not None
            and world.deal.proposal.expires_at is None
            and "proposal_expiring" in play.requires
        ):
            warnings.append(
                "proposal: sent without an expiry date; unghost gives it "
                f"{settings.proposal_default_days} days (003 #6) — set one on the deal"
            )
    else:
        fresh = fresh_variants(play, world.deal.key, history)
        if not fresh:
            notes.append(all_sent(play, recipient))
            return None
        variant = fresh[0].id
    cc: tuple[str, ...] = ()
    cc_referrer = settings.cc_referrer if play.cc_referrer is None else play.cc_referrer
    referrer = world.deal.referrer or world.deal.advocate or ""
    # Rule 5: copy the referrer when the playbook says so, never on ask-referrer itself.
    if (
        cc_referrer
        and play.to != "referrer"
        and referrer in world.people
        and not world.people[referrer].do_not_contact
    ):
        cc = (referrer,)
    dial = None
    withhold = (
        settings.withhold_caller_id if play.withhold_caller_id is None else play.withhold_caller_id
    )
    if channel in ("call", "voicemail") and recipient.phone:
        prefix = WITHHOLD_PREFIX.get(world.owner.country or "", DEFAULT_WITHHOLD_PREFIX)
        dial = f"{prefix} {recipient.phone}" if withhold else recipient.phone
    why = _why(world, a, play, recipient, channel, rule, notes, content)
    return Step(
        play=play.id,
        variant=variant,
        channel=channel,
        to=(recipient.key,),
        cc=cc,
        due=due,
        subject=words.subject if words else "",
        body=words.body if words else "",
        script=words.script if words else None,
        why=why,
        warnings=tuple(warnings),
        content=content.key if content else None,
        dial=dial,
        times=tuple(format_slot(t) for t in times),
        drafted=words is not None,
    )


def _compose(
    world: World,
    a: Assessment,
    play: Play,
    recipient: Contact,
    history: Sent,
    content: ContentItem | None,
    times: tuple[Slot, ...],
    due: datetime,
) -> Choice:
    """The variant and its words: the first fresh one not too close to what was sent (001)."""
    settings = world.playbook.settings
    moment = a.nurture_until if play.phase == "check_back" and a.nurture_until else due
    check_back = world.cal.add_days_then_business(moment, settings.check_back_days[0]).date()
    ctx = context(
        owner=world.owner,
        deal=world.deal,
        contact=world.contact,
        recipient=recipient,
        people=world.people,
        cal=world.cal,
        content=content,
        times=times,
        last_meeting=a.missed.at if a.missed else _last_meeting(world.deal),
        check_back=check_back,
        proposal_default_days=settings.proposal_default_days,
    )
    return choose_variant(
        play, world.deal.key, recipient, history, ctx, settings.similarity_threshold
    )


def _holds(name: str, world: World, a: Assessment, done: set[str], now: datetime) -> bool:
    """One precondition of the playbook's fixed vocabulary."""
    deal, contact = world.deal, world.contact
    if name == "missed_meeting":
        return "missed_meeting" in a.reasons
    if name == "after_missed_meeting":
        return any(t.play == "missed-meeting" for t in deal.touches if t.direction == "out") and (
            a.last_inbound is None or _last_play_at(deal, "missed-meeting") > a.last_inbound
        )
    if name == "has_referrer":
        return bool(deal.referrer or deal.advocate)
    if name == "has_phone":
        return bool(contact.phone)
    if name == "has_email":
        return bool(contact.email) and not contact.email_bad
    if name == "has_content":
        return matching_content(deal, world.content, world.history(contact.key).content) is not None
    if name == "has_interest":
        return bool(contact.interests)
    if name == "has_benefits_and_cost":
        return bool(deal.benefits and deal.cost_of_inaction)
    if name == "has_assistant":
        return bool(contact.assistant and contact.assistant in world.people)
    if name == "nearby":
        return contact.nearby
    if name == "humor_ok":
        return contact.humor_ok
    if name in ("unanswered_3", "unanswered_4"):
        return len(unanswered_touches(deal, a.last_inbound)) >= int(name[-1])
    if name == "proposal_expiring":
        expires = proposal_expiry(deal, world.playbook.settings.proposal_default_days)
        if expires is None:
            return False
        today = now.astimezone(world.cal.zone).date()
        return (expires - today).days <= EXPIRY_WINDOW_DAYS
    if name == "new_deal":
        held = any(m.status == "held" for m in deal.meetings) or any(
            t.channel == "meeting" and t.outcome == "held" for t in deal.touches
        )
        return not deal.permission_to_say_no and not held
    if name == "nurture_due":
        return a.state == "nurture" and a.nurture_until is not None
    raise ValueError(f"unknown precondition {name!r}")


def _last_play_at(deal: Deal, play: str) -> datetime:
    return max(t.at for t in deal.touches if t.play == play)


def _recipient(world: World, play: Play) -> Contact | None:
    deal = world.deal
    key: str | None = deal.contact
    if play.to == "referrer":
        key = deal.referrer or deal.advocate
    elif play.to == "assistant":
        key = world.contact.assistant
    return world.people.get(key) if key else None


def _channel(play: Play, person: Contact) -> Channel | None:
    """The play's first channel that reaches this person."""
    for channel in play.channels:
        if channel == "meeting":
            return channel
        if channel == "email" and person.email and not person.email_bad:
            return channel
        if channel in ("call", "voicemail", "sms") and person.phone:
            return channel
        if channel == "linkedin" and person.linkedin:
            return channel
        if channel == "visit" and person.nearby:
            return channel
        if channel == "letter":
            return channel
    return None


def _due(
    world: World, a: Assessment, play: Play, channel: Channel, recipient: Contact, now: datetime
) -> tuple[datetime, str]:
    """When the step is due, and the rule that says so (rule 2: spacing and business hours)."""
    cal, deal, settings = world.cal, world.deal, world.playbook.settings
    since = a.last_inbound
    outs = [t.at for t in deal.touches if t.direction == "out" and not t.from_prospect]
    last_out = max((t for t in outs if since is None or t > since), default=None)
    if play.phase == "setup":
        scheduled = sorted(m.at for m in deal.meetings if m.status == "scheduled")
        upcoming = [t for t in scheduled if t >= now] or scheduled[-1:]
        if upcoming:
            return cal.next_business_time(upcoming[0]), "at the first meeting (003 #1)"
        start = a.last_inbound or deal.created_at or now
        return cal.next_business_time(start), "before the first meeting (003 #1)"
    if play.phase == "check_back" and a.nurture_until is not None:
        base, rule = (
            a.nurture_until,
            f"check back {settings.check_back_days[0]} days after moving on",
        )
    elif play.delay_days == 0 and a.missed is not None:
        end = a.missed.at + timedelta(minutes=a.missed.minutes)
        base, rule = end, "the same business day as the missed meeting (004)"
    elif play.delay_days is not None and last_out is not None:
        base = last_out + timedelta(days=play.delay_days)
        rule = f"{play.delay_days} days after the last touch (004)"
    elif last_out is not None and deal.urgency == "high":
        n = settings.high_urgency_spacing_business_days
        base = cal.add_business_days(last_out, n)
        rule = f"urgent deal: {n} business days after the last touch"
    elif last_out is not None:
        base = last_out + timedelta(days=settings.spacing_days)
        rule = f"one touch a week (001): {settings.spacing_days} days after the last touch"
    else:
        base, rule = a.silent_since or now, "first step since the silence began"
    # The due time does not move with `now`: a step not done by then is overdue, and the
    # plan stays the same from one run to the next until something happens.
    due = cal.next_business_time(base)
    if channel not in ("meeting", "letter"):  # reach people in their own working hours
        theirs = cal.in_recipient_hours(due, recipient.timezone)
        if theirs - due <= RECIPIENT_WAIT:
            due = theirs
    return due, rule


def _why(
    world: World,
    a: Assessment,
    play: Play,
    recipient: Contact,
    channel: Channel,
    rule: str,
    notes: list[str],
    content: ContentItem | None,
) -> str:
    parts: list[str] = [f"{a.state}: " + "; ".join(a.facts) if a.facts else str(a.state)]
    parts.append(f"{play.id} ({play.source}): {play.summary}".rstrip(": "))
    if play.requires:
        parts.append("because " + ", ".join(r.replace("_", " ") for r in play.requires))
    if content is not None:
        parts.append(f"shares “{content.title}”")
    if recipient.key != world.deal.contact:
        parts.append(f"to {recipient.name}, not the prospect")
    parts.append(f"{channel}; due: {rule}")
    if notes:
        parts.append("passed over: " + "; ".join(notes))
    return ". ".join(parts)


def _last_meeting(deal: Deal) -> datetime | None:
    held = [m.at for m in deal.meetings if m.status == "held"]
    return max(held) if held else None


def cadence(world: World, now: datetime) -> list[Step]:
    """Rule 8: the whole cadence the deal would follow if no reply came, from `now` on."""
    steps: list[Step] = []
    t = now
    a = assess(world.deal, world.contact, world.cal, world.playbook.settings, t)
    for _ in range(60):  # an active deal: walk forward to the day its silence would begin
        if a.state != "active":
            break
        t = t + timedelta(days=1)
        a = assess(world.deal, world.contact, world.cal, world.playbook.settings, t)
    for _ in range(CADENCE_LIMIT):
        step = next_step(world, a, t)
        if step is None:
            break
        if step.due < t:  # overdue: in the map it happens now
            step = replace(step, due=world.cal.next_business_time(t))
        steps.append(step)
        if step.play in ("check-back",) or a.state == "nurture":
            break
        world = with_step_done(world, step)
        t = step.due
        a = assess(world.deal, world.contact, world.cal, world.playbook.settings, t)
    return steps


def step_touches(step: Step, at: datetime) -> list[Touch]:
    """The touches a done step leaves: a call that comes with an email records both (003 #2)."""
    to = step.to[0] if step.to else None
    if step.channel == "meeting":
        return []  # a task done at a meeting: the meeting is its own touch
    if step.channel in ("call", "voicemail"):
        touches = [
            Touch(at=at, channel=step.channel, direction="out", outcome="left_voicemail",
                  contact=to, body=step.script, play=step.play,
                  variant=None if step.body else step.variant)
        ]  # fmt: skip
        if step.body and step.channel == "call":
            touches.append(
                Touch(at=at + timedelta(seconds=1), channel="email", direction="out",
                      outcome="sent", contact=to, subject=step.subject, body=step.body,
                      play=step.play, variant=step.variant, content=step.content)
            )  # fmt: skip
        return touches
    return [
        Touch(at=at, channel=step.channel, direction="out", outcome="sent", contact=to,
              subject=step.subject, body=step.body, play=step.play, variant=step.variant,
              content=step.content)
    ]  # fmt: skip


def with_step_done(world: World, step: Step, at: datetime | None = None) -> World:
    """The world after a step went out: its touches recorded, the person's history extended."""
    touches = (*world.deal.touches, *step_touches(step, at or step.due))
    sent = dict(world.sent)
    for key in step.to:
        old = world.history(key)
        sent[key] = Sent(
            variants=old.variants | ({step.variant} if step.variant else set()),
            content=old.content | ({step.content} if step.content else set()),
            bodies=[*old.bodies, step.body],
        )
    deal = replace(world.deal, touches=touches)
    known = {p.id: p for p in world.playbook.plays}
    if step.play in known and "permission_to_say_no" in known[step.play].sets:
        deal = replace(deal, permission_to_say_no=True)  # rule 7: the agreement is on the deal
    return replace(world, deal=deal, sent=sent)
