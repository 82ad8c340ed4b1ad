"""The tone check: relationship first (PRODUCT §4 rule 4), one easy answer, short."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from unghost.domain.tone import check_tone, count_asks, count_words, without_signature

SIGNATURE = "Ana Ruiz\nRuiz Advisory"
CLEAN = f"""Hi George,

When we last spoke, you described the close as your biggest headache. How is it going now?

{SIGNATURE}"""


def kinds(warnings: list[str]) -> list[str]:
    return [warning.split(":", 1)[0] for warning in warnings]


def email(*paragraphs: str) -> str:
    return "\n\n".join(("Hi George,", *paragraphs, SIGNATURE))


def test_a_clean_message_has_no_warnings() -> None:
    assert check_tone("How is the close going?", CLEAN) == []


@pytest.mark.parametrize(
    "phrase",
    [
        "If I don't hear back from you, the file goes in the drawer.",
        "This is your last chance to keep the price.",
        "Otherwise I'll assume you're not interested any more.",
        "Sign the order, or else the slot goes to someone else.",
        "Reply by Friday or the team moves on.",
        "If you don't reply, that is the end of it.",
        "After that the offer will be withdrawn.",
    ],
)
def test_ultimatums_are_flagged(phrase: str) -> None:
    warnings = check_tone("A note", email(phrase, "How are you doing?"))
    assert kinds(warnings) == ["ultimatum"]
    assert warnings[0].startswith("ultimatum: ")


@pytest.mark.parametrize(
    "phrase",
    [
        "I've tried to reach you several times this month.",
        "You never replied to the note about the close.",
        "You haven't responded since the meeting.",
        "Still waiting on your thoughts about the plan for you.",
        "I'm starting to feel like a pest with your inbox.",
        "Sorry to bother you again with your close.",
        "This is yet another email about your month-end.",
    ],
)
def test_guilt_is_flagged(phrase: str) -> None:
    warnings = check_tone("A note", email(phrase, "How are you and your team doing?"))
    assert "guilt" in kinds(warnings)


@pytest.mark.parametrize(
    "phrase",
    [
        "Act now to lock in your place.",
        "Don't miss your chance to fix the close.",
        "A limited-time price is available for you.",
        "This is urgent for your team.",
        "Your signature is needed ASAP.",
    ],
)
def test_pressure_is_flagged(phrase: str) -> None:
    warnings = check_tone("A note", email(phrase, "How does that sound to you?"))
    assert kinds(warnings) == ["pressure"]


def test_pressure_in_the_subject_counts_too() -> None:
    assert kinds(check_tone("URGENT: your proposal", CLEAN)) == ["pressure"]


def test_pressure_ok_allows_deadlines_and_consequences() -> None:
    body = email(
        "Your proposal's terms run until Tuesday 1 December and it will be withdrawn after that.",
        "If you don't reply, I will move on, and this is your last chance at this price.",
        "Would you like to go ahead before then?",
    )
    assert {"ultimatum", "pressure"} & set(kinds(check_tone("Deadline", body)))
    assert check_tone("Deadline", body, pressure_ok=True) == []


def test_self_focus_is_flagged_when_i_and_we_outnumber_you() -> None:
    body = email("I think our team and I could help, and we would love it. What do you think?")
    warnings = check_tone("Us", body)
    assert kinds(warnings) == ["self-focus"]
    assert "4 first-person" in warnings[0] and "1 second-person" in warnings[0]


def test_as_many_yous_as_is_is_fine() -> None:
    assert check_tone("Hi", email("I wonder how your close is going. Are you there yet?")) == []


def test_the_signature_is_not_counted() -> None:
    body = (
        "Hi George,\n\nHow is your close going?\n\n-- \nAna Ruiz\nWe help our clients and I love it"
    )
    assert check_tone("Hi", body) == []
    short_sign_off = "Hi George,\n\nHow is your close going?\n\nAll our best,\nAna, for our team"
    assert check_tone("Hi", short_sign_off) == []


def test_the_prospects_quoted_words_do_not_count_against_the_seller() -> None:
    body = email("You told me “our close is urgent and we are late every month”. Is it still so?")
    assert check_tone("Hi", body) == []


def test_more_than_one_question_or_ask_is_flagged() -> None:
    body = email("How is the close going for you? Could we talk next week?")
    warnings = check_tone("Hi", body)
    assert kinds(warnings) == ["asks"] and warnings[0].startswith("asks: 2 ")
    body = email("How is your close going?", "Please call me when you can.")
    assert kinds(check_tone("Hi", body)) == ["asks"]
    body = email("Let me know what you think, and drop me a line about your plans.")
    assert count_asks(body) == 1
    assert check_tone("Hi", body) == []


def test_a_question_in_the_subject_is_not_a_second_ask() -> None:
    assert check_tone("How is the close?", CLEAN) == []


def test_no_easy_answer_is_flagged() -> None:
    body = email("Your close matters to you, and the plan is ready for you.")
    warnings = check_tone("Hi", body)
    assert kinds(warnings) == ["no easy answer"]


@pytest.mark.parametrize(
    "invitation",
    ["A one-line reply is plenty.", "A quick note back is welcome.", "A word or two is enough."],
)
def test_an_invitation_to_reply_is_an_easy_answer(invitation: str) -> None:
    body = email("Here is the checklist your team asked about.", invitation)
    assert check_tone("Hi", body) == []


def test_more_than_150_words_is_flagged() -> None:
    body = email("You " * 140, "How are you?", "you " * 20)
    warnings = check_tone("Hi", body)
    assert kinds(warnings) == ["length"] and "165 words" in warnings[0]


def test_every_warning_names_its_kind_first() -> None:
    body = email(
        "I've tried to call several times and I am still waiting, so act now or else.",
        "Can we talk? Will we meet? " + "more words here " * 50,
    )
    found = kinds(check_tone("Last chance", body))
    assert found == ["ultimatum", "guilt", "pressure", "self-focus", "asks", "length"]
    assert set(kinds(check_tone("Hi", "Hi George"))) == {"no easy answer"}


def test_counting_helpers() -> None:
    assert count_words("It's a one-line reply, George.") == 5
    assert without_signature(CLEAN).endswith("How is it going now?")
    assert without_signature("Just one paragraph, no sign-off") == "Just one paragraph, no sign-off"


@given(st.text(max_size=400), st.text(max_size=2000), st.booleans())
def test_check_tone_takes_any_text(subject: str, body: str, pressure_ok: bool) -> None:
    for warning in check_tone(subject, body, pressure_ok=pressure_ok):
        kind = warning.split(":", 1)[0]
        assert kind in {
            "ultimatum",
            "guilt",
            "pressure",
            "self-focus",
            "asks",
            "no easy answer",
            "length",
        }
        assert "\n" not in warning
