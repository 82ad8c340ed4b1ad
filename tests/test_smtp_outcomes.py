"""What a server's refusal means for the outbox: retry, pause the mailbox, or give up.

Replies are real ones from Gmail, Exchange Online, Outlook.com and Postfix.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from unghost.channels.smtp import Outcome, classify

CASES = [
    # the seller's allowance: pause the mailbox, never the prospect
    (550, "5.4.5 Daily user sending quota exceeded.", "data", "quota", timedelta(hours=24)),
    (421, "4.7.0 Try again later, closing connection.", "mail", "quota", timedelta(minutes=15)),
    (554, "5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; Failed to "
          "process message due to a permanent exception", "data", "quota", timedelta(hours=24)),
    (452, "4.3.1 Message rate limit exceeded, try again later", "rcpt", "quota",
     timedelta(minutes=15)),
    # the prospect's side: their mailbox is full or busy, which is not our quota
    (452, "4.2.2 The email account that you tried to reach is over quota.", "rcpt",
     "temporary", None),
    (450, "4.2.1 The user you are trying to contact is receiving mail at a rate that "
          "prevents additional messages from being delivered.", "rcpt", "temporary", None),
    (451, "4.3.0 Temporary System Problem. Try again later (10).", "data", "temporary", None),
    (450, "4.7.1 Client host rejected: cannot find your hostname", "rcpt", "temporary", None),
    # the account itself
    (535, "5.7.8 Username and Password not accepted.", "auth", "mailbox", timedelta(hours=1)),
    (534, "5.7.9 Application-specific password required.", "auth", "mailbox",
     timedelta(hours=1)),
    # this message or recipient, for good
    (550, "5.1.1 The email account that you tried to reach does not exist.", "rcpt",
     "permanent", None),
    (554, "5.7.1 Message rejected as spam", "data", "permanent", None),
]  # fmt: skip


@pytest.mark.parametrize(("code", "reply", "stage", "kind", "pause"), CASES)
def test_a_refusal_is_classified_by_code_status_and_words(
    code: int, reply: str, stage: str, kind: str, pause: timedelta | None
) -> None:
    assert classify(code, reply, stage) == kind
    if pause is not None:
        assert Outcome(kind, code, reply, stage).pause == pause  # type: ignore[arg-type]


def test_only_an_unknown_address_is_a_hard_bounce() -> None:
    unknown = Outcome("permanent", 550, "5.1.1 <pat@x.example>: Recipient address rejected",
                      "rcpt", "pat@x.example")  # fmt: skip
    spam = Outcome("permanent", 554, "5.7.1 rejected as spam", "data")
    full = Outcome("temporary", 452, "4.2.2 over quota", "rcpt", "pat@x.example")
    assert unknown.hard_bounce and not spam.hard_bounce and not full.hard_bounce
