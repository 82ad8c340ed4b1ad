"""The reply parser's rules on hand-written messages: auto-replies, intents, dates, new text."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from unghost.channels.inbox.dates import dates_in, easter
from unghost.channels.inbox.html import html_to_text
from unghost.channels.inbox.intent import classify
from unghost.channels.inbox.message import read_message
from unghost.channels.inbox.newtext import extract_new_text
from unghost.channels.inbox.parse import parse_reply

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)  # a Friday
FRIDAY = NOW.date()


def message(subject: str, body: str, *, headers: str = "", date_header: str = "") -> bytes:
    when = date_header or "Fri, 20 Nov 2026 09:00:00 +0000"
    return (
        f"From: Pat Prospect <pat@acme.example>\nTo: seller@unghost.example\n"
        f"Subject: {subject}\nDate: {when}\nMessage-ID: <1@acme.example>\n{headers}"
        f"Content-Type: text/plain; charset=utf-8\n\n{body}"
    ).encode()


# --- auto-replies ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "body", "back"),
    [
        ("Out of Office: Re: our proposal",
         "I'm out of the office with limited access to email. I'm back on 3 December.",
         date(2026, 12, 3)),
        ("Abwesenheitsnotiz: Ihr Angebot",
         "Ich bin derzeit nicht im Büro und ab dem 03.12. wieder erreichbar. "
         "In dringenden Fällen wenden Sie sich an Frau Weber. Ich bin zurück am 03.12.",
         date(2026, 12, 3)),
        ("Réponse automatique : votre proposition",
         "Je suis actuellement absente. Je serai de retour le 4 janvier. "
         "Pour toute urgence, contactez mon collègue.",
         date(2027, 1, 4)),
        ("Respuesta automática: su propuesta",
         "Estoy fuera de la oficina de vacaciones. Regreso el 5 de enero. "
         "Para asuntos urgentes escriba a soporte.",
         date(2027, 1, 5)),
        ("Automatisch antwoord: uw voorstel",
         "Ik ben afwezig tot en met 5 januari. Ik ben terug op 6 januari. "
         "Voor dringende zaken kunt u mijn collega mailen.",
         date(2027, 1, 6)),
        ("Resposta automática: sua proposta",
         "Estou ausente do escritório. Retorno em 7 de janeiro. "
         "Em caso de urgência fale com a equipe.",
         date(2027, 1, 7)),
    ],
)  # fmt: skip
def test_out_of_office_replies_in_six_languages_name_their_return_date(
    subject: str, body: str, back: date
) -> None:
    parsed = parse_reply(message(subject, body), now=NOW)
    assert parsed.auto_reply == "out_of_office"
    assert parsed.return_date == back
    assert parsed.intent is None and parsed.confidence is None
    assert parsed.unsubscribe is False


def test_an_auto_submitted_header_alone_makes_an_auto_reply() -> None:
    raw = message("Re: proposal", "Back Monday 12/7.", headers="Auto-Submitted: auto-replied\n")
    parsed = parse_reply(raw, now=NOW)
    assert parsed.auto_reply == "out_of_office"
    assert parsed.return_date == date(2026, 12, 7)


def test_a_range_of_absence_returns_on_its_last_day() -> None:
    raw = message("Out of office", "I am out of office from 20 Dec to 2 Jan, on vacation.")
    assert parse_reply(raw, now=NOW).return_date == date(2027, 1, 2)


def test_a_return_date_without_a_year_is_the_next_one_after_the_message_date() -> None:
    raw = message(
        "Out of office",
        "I am on vacation and back on 10 January.",
        date_header="Mon, 28 Dec 2026 10:00:00 +0000",
    )
    assert parse_reply(raw, now=NOW).return_date == date(2027, 1, 10)


def test_a_ticket_acknowledgement_is_an_auto_reply_of_another_kind() -> None:
    raw = message(
        "Request received: [Ticket #4411]",
        "We have received your request. Your ticket number is 4411.",
        headers="Auto-Submitted: auto-generated\n",
    )
    parsed = parse_reply(raw, now=NOW)
    assert parsed.auto_reply == "other"
    assert parsed.return_date is None


def test_precedence_bulk_alone_is_automatic_but_never_out_of_office() -> None:
    raw = message("Our newsletter", "News of the month.", headers="Precedence: bulk\n")
    assert parse_reply(raw, now=NOW).auto_reply == "other"


def test_a_mailing_list_reply_is_a_person_answering() -> None:
    raw = message("Re: proposal", "Sounds great, tell me more.", headers="Precedence: list\n")
    parsed = parse_reply(raw, now=NOW)
    assert parsed.auto_reply is None
    assert parsed.intent == "interested"


def test_a_person_saying_they_are_away_next_week_is_not_an_auto_reply() -> None:
    raw = message("Re: proposal", "I'm on vacation next week, let's talk after that?")
    parsed = parse_reply(raw, now=NOW)
    assert parsed.auto_reply is None
    assert parsed.intent is not None


def test_an_out_of_office_is_never_an_unsubscribe() -> None:
    raw = message(
        "Automatic reply", "I am out of the office. To unsubscribe from our list, click here."
    )
    parsed = parse_reply(raw, now=NOW)
    assert parsed.auto_reply == "out_of_office"
    assert parsed.unsubscribe is False


# --- intents ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("Sounds great, tell me more about the pricing.", "interested"),
        ("We'd like to move forward. Send over the proposal.", "interested"),
        ("Can we talk Tuesday at 3pm? Send me a calendar invite.", "meeting"),
        ("Thursday works for me, see you then.", "meeting"),
        ("Not right now. Circle back in Q2.", "not_now"),
        ("Bad timing, we have no budget this quarter. Maybe next year.", "not_now"),
        ("Not interested, thanks.", "not_interested"),
        ("We already work with another agency, so we'll pass.", "not_interested"),
        ("I'm not the right person. You should contact Dana, she handles this.", "referral"),
        ("I've cc'd our CTO, who is the best person for this.", "referral"),
        ("How does the pilot work and what does it cost?", "question"),
        ("Sorry for the silence, my father passed away last week.", "personal"),
        ("I've been sick and I'm on medical leave until next month.", "personal"),
        ("Got it.", "other"),
    ],
)
def test_each_intent_is_recognised_from_typical_wording(text: str, intent: str) -> None:
    result = classify(text)
    assert result.intent == intent
    assert 0 < result.confidence <= 1


@pytest.mark.parametrize(
    "text",
    [
        "Please remove me from your list.",
        "Stop emailing me.",
        "Take me off your mailing list, not interested.",
        "Unsubscribe",
        "Bitte keine E-Mails mehr.",
        "Merci de me désabonner.",
        "Quiero darme de baja.",
        "Graag afmelden.",
        "Por favor, descadastrar meu e-mail.",
    ],
)
def test_unsubscribe_wording_in_any_language_always_wins(text: str) -> None:
    result = classify(f"Sounds great, let's meet Tuesday at 3pm. {text}")
    assert result.intent == "unsubscribe"
    assert result.unsubscribe is True


def test_a_mailing_list_footer_is_no_request_to_unsubscribe() -> None:
    text = "Thanks, that helps.\nTo unsubscribe from this group, send an email to x@y.example"
    assert classify(text).unsubscribe is False


def test_a_not_now_reply_carries_the_date_it_names() -> None:
    parsed = parse_reply(message("Re: proposal", "Not now, circle back after the holidays."),
                         now=NOW)  # fmt: skip
    assert parsed.intent == "not_now"
    assert parsed.dates == (date(2027, 1, 4),)


# --- dates -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("next week", date(2026, 11, 23)),
        ("next month", date(2026, 12, 1)),
        ("after the holidays", date(2027, 1, 4)),
        ("in the new year", date(2027, 1, 4)),
        ("try me in Q2", date(2027, 4, 1)),
        ("Q4 is busy", date(2027, 10, 1)),
        ("early January", date(2027, 1, 1)),
        ("mid-March", date(2027, 3, 15)),
        ("end of the month", date(2026, 11, 30)),
        ("on the 15th", date(2026, 12, 15)),
        ("Thursday", date(2026, 11, 26)),
        ("Friday", date(2026, 11, 27)),
        ("2027-01-15", date(2027, 1, 15)),
        ("3 December", date(2026, 12, 3)),
        ("December 3rd", date(2026, 12, 3)),
        ("12/03", date(2026, 12, 3)),
        ("03.12.", date(2026, 12, 3)),
        ("in two weeks", date(2026, 12, 4)),
        ("after Easter", date(2027, 3, 30)),
        ("tomorrow", date(2026, 11, 21)),
    ],
)
def test_dates_are_resolved_against_the_message_date(text: str, named: date) -> None:
    assert dates_in(f"Let's talk {text}.", FRIDAY) == [named]


def test_words_that_look_like_dates_are_not_dates() -> None:
    assert dates_in("We may want to see version 1.2.3 at 17.50 on 192.168.1.1", FRIDAY) == []


def test_easter_is_computed_for_any_year() -> None:
    assert [easter(y) for y in (2025, 2026, 2027)] == [
        date(2025, 4, 20),
        date(2026, 4, 5),
        date(2027, 3, 28),
    ]


# --- reading and new text --------------------------------------------------------------------


def test_a_plain_body_that_starts_like_a_header_is_still_a_body() -> None:
    read = read_message("From: Сергей\nДобрый день.\n".encode())
    assert read.text.startswith("From: Сергей")
    assert read.sender is None


def test_a_bad_charset_never_stops_reading() -> None:
    raw = (
        b"From: a@b.example\nSubject: x\nContent-Type: text/plain; charset=no-such-charset\n\n"
        b"caf\xe9 ok"
    )
    assert read_message(raw).text.startswith("caf")


def test_html_keeps_line_breaks_and_marks_quotes_and_drops_styles() -> None:
    html = (
        "<html><head><style>p{color:red}</style></head><body><p>Hi</p><p>Yes<br>Thursday</p>"
        "<blockquote>old text</blockquote><script>x()</script></body></html>"
    )
    assert html_to_text(html) == "Hi\n\nYes\nThursday\n\n> old text"


def test_the_sign_off_and_mobile_signature_are_not_new_text() -> None:
    body = "Thursday works.\n\nBest regards,\nPat\nVP Sales\n\nSent from my iPhone"
    assert extract_new_text(body) == "Thursday works."


def test_an_outlook_header_block_ends_the_new_text() -> None:
    body = (
        "Let's do it.\n\n________________________________\nFrom: Seller <s@x.example>\n"
        "Sent: Monday, November 16, 2026 10:00 AM\nTo: Pat\nSubject: Proposal\n\nOld text"
    )
    assert extract_new_text(body) == "Let's do it."


# --- bounces in the formats servers really send ---------------------------------------------


def bounce_message(sender: str, subject: str, body: str) -> bytes:
    return (
        f"From: {sender}\nTo: seller@unghost.example\nSubject: {subject}\n"
        f"Date: Fri, 20 Nov 2026 09:00:00 +0000\n\n{body}"
    ).encode()


@pytest.mark.parametrize(
    ("raw", "recipient", "status", "hard"),
    [
        (b"550 5.1.1 <bob@acme.example>: Recipient address rejected: User unknown in virtual "
         b"mailbox table", "bob@acme.example", "5.1.1", True),
        (bounce_message(
            "Mail Delivery System <Mailer-Daemon@mx.example>",
            "Mail delivery failed: returning message to sender",
            "This message was created automatically by mail delivery software.\n\n"
            "A message that you sent could not be delivered to one or more of its\n"
            "recipients. This is a permanent error. The following address(es) failed:\n\n"
            "  pat@acme.example\n    SMTP error from remote mail server after RCPT TO:"
            "<pat@acme.example>:\n    552 5.2.2 Mailbox full\n"),
         "pat@acme.example", "5.2.2", False),
        (bounce_message(
            "Postmaster <postmaster@acme.example>",
            "DELIVERY FAILURE: User Pat Prospect (pat@acme.example) not listed in Domino Directory",
            "Your message\n\n  Subject: Proposal\n\nwas not delivered to:\n\n  pat@acme.example\n\n"
            "because:\n\n  User Pat Prospect (pat@acme.example) not listed in Domino Directory\n"),
         "pat@acme.example", None, True),
        (bounce_message(
            "MAILER-DAEMON@yahoo.com",
            "Failure Notice",
            "Sorry, we were unable to deliver your message to the following address.\n\n"
            "<pat@yahoo.example>:\n554: delivery error: dd This user doesn't have a "
            "yahoo.example account (pat@yahoo.example) [0] - mta1.mail.example\n"),
         "pat@yahoo.example", "5.0.0", True),
        (bounce_message(
            "Mail Delivery Subsystem <mailer-daemon@googlemail.com>",
            "Delivery Status Notification (Failure)",
            "** Address not found **\n\nYour message wasn't delivered to pat@acme.example because "
            "the domain acme.example couldn't be found.\n"),
         "pat@acme.example", None, True),
        (bounce_message(
            "Mail Delivery Subsystem <MAILER-DAEMON@relay.example>",
            "Returned mail: see transcript for details",
            "The original message was received at Fri, 20 Nov 2026 09:00:00\n\n"
            "   ----- The following addresses had permanent fatal errors -----\n"
            "<pat@acme.example>\n    (reason: 554 5.7.1 Message rejected as spam)\n"),
         "pat@acme.example", "5.7.1", False),
    ],
)  # fmt: skip
def test_bounces_in_each_servers_format_give_recipient_status_and_kind(
    raw: bytes, recipient: str, status: str | None, hard: bool
) -> None:
    bounce = parse_reply(raw, now=NOW).bounce
    assert bounce is not None
    assert (bounce.recipient, bounce.status, bounce.hard) == (recipient, status, hard)


def test_a_reply_that_mentions_delivery_is_not_a_bounce() -> None:
    raw = message("Re: proposal", "The delivery failed last time, can you resend the deck?")
    parsed = parse_reply(raw, now=NOW)
    assert parsed.bounce is None
    assert parsed.intent == "question"
