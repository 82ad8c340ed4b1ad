"""Generate large, realistic-looking workspaces for benchmarks (deterministic by seed)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from typing import Any

CHANNELS = ["email", "email", "email", "call", "voicemail", "meeting", "linkedin"]
OUTCOMES_OUT = {
    "email": "sent",
    "call": "no_answer",
    "voicemail": "left_voicemail",
    "meeting": "held",
    "linkedin": "sent",
}
TZS = ["America/New_York", "America/Chicago", "America/Los_Angeles", "Europe/London", None]


def workspace(
    deals: int, touches_per_deal: int, *, seed: int = 7, anchor: datetime | None = None
) -> dict[str, Any]:
    """A workspace of `deals` open deals, each with its own contact and history."""
    rng = random.Random(seed)
    anchor = anchor or datetime(2026, 11, 23, 9, tzinfo=timezone(timedelta(hours=-5)))
    contacts: list[dict[str, Any]] = []
    deal_rows: list[dict[str, Any]] = []
    touches: list[dict[str, Any]] = []
    for i in range(deals):
        cid, did = f"c{i}", f"d{i}"
        contacts.append(
            {
                "id": cid,
                "name": f"Contact {i}",
                "email": f"contact{i}@example.com",
                "company": f"Company {i % 5000}",
                "timezone": TZS[i % len(TZS)],
            }
        )
        start = anchor - timedelta(days=rng.randint(10, 200))
        deal_rows.append(
            {
                "id": did,
                "contact": cid,
                "title": f"Deal {i}",
                "problem": "our month-end close takes too long",
                "urgency": "high" if i % 10 == 0 else "normal",
                "created_at": start.isoformat(),
            }
        )
        at = start
        for _ in range(touches_per_deal):
            at = at + timedelta(hours=rng.randint(20, 200))
            channel = rng.choice(CHANNELS)
            inbound = rng.random() < 0.25
            touches.append(
                {
                    "deal": did,
                    "at": at.isoformat(),
                    "channel": channel,
                    "direction": "in" if inbound else "out",
                    "outcome": "replied" if inbound else OUTCOMES_OUT[channel],
                    "subject": f"Re: deal {i}",
                    "body": "Thanks, let us talk next week.",
                }
            )
    return {
        "format": "unghost-workspace",
        "version": 1,
        "owner": {
            "name": "Bench Owner",
            "email": "bench@example.com",
            "timezone": "America/New_York",
            "country": "US",
        },
        "contacts": contacts,
        "deals": deal_rows,
        "touches": touches,
    }
