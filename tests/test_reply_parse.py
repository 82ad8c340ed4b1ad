"""`reply parse` on the real messages of ../shared/data, and its JSON and CLI shells."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from reply_corpus import (
    CRISP_COMMON,
    DATA,
    TALON_HTML_TEXT,
    all_files,
    crisp_bounces,
    crisp_common,
    reply_files,
    talon_hello,
    talon_html,
)
from unghost.channels.inbox.parse import ParsedReply, parse_reply
from unghost.cli_reply import reply_app
from unghost.errors import BadInput, UnghostError
from unghost.services.replies import parse_files

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data is not beside the repo")


def parse(path: Path) -> ParsedReply:
    return parse_reply(path.read_bytes(), now=NOW)


@pytest.mark.parametrize("path", all_files(), ids=lambda p: str(p.relative_to(DATA)))
def test_every_data_file_parses_without_an_exception(path: Path) -> None:
    data = path.read_bytes()
    if not data.strip():
        with pytest.raises(BadInput):
            parse_reply(data, now=NOW)
        return
    parsed = parse_reply(data, now=NOW)
    body = parsed.as_json()
    assert list(body) == [
        "new_text",
        "auto_reply",
        "return_date",
        "bounce",
        "intent",
        "confidence",
        "dates",
        "unsubscribe",
    ]
    json.dumps(body)
    if parsed.bounce is not None or parsed.auto_reply is not None:
        assert parsed.intent is None and parsed.confidence is None


@pytest.mark.parametrize("path", talon_hello(), ids=lambda p: p.name)
def test_talons_replies_from_every_client_give_exactly_hello(path: Path) -> None:
    assert parse(path).new_text == "Hello"


@pytest.mark.parametrize("path", talon_html(), ids=lambda p: p.name)
def test_talons_html_replies_give_the_reply_without_quote_or_sign_off(path: Path) -> None:
    assert parse(path).new_text == TALON_HTML_TEXT


@pytest.mark.parametrize("path", crisp_common(), ids=lambda p: p.name)
def test_replies_in_many_languages_and_clients_lose_their_quoted_history(path: Path) -> None:
    assert parse(path).new_text == CRISP_COMMON


def test_bounces_are_found_with_their_recipient_in_nearly_every_crisp_body() -> None:
    expected = crisp_bounces()
    found = [(case, parse(case.path).bounce) for case in expected]
    detected = [(case, bounce) for case, bounce in found if bounce is not None]
    recall = len(detected) / len(expected)
    right_recipient = sum(b.recipient == case.recipient for case, b in detected) / len(detected)
    right_kind = sum(b.hard == case.hard for case, b in detected) / len(detected)
    assert len(expected) > 100
    assert recall >= 0.95
    assert right_recipient >= 0.95
    assert right_kind >= 0.95


def test_ordinary_replies_are_never_taken_for_bounces_or_auto_replies() -> None:
    replies = reply_files()
    bounces = sum(parse(path).bounce is not None for path in crisp_bounces_paths())
    false_bounces = [p for p in replies if parse(p).bounce is not None]
    false_auto = [p for p in replies if parse(p).auto_reply is not None]
    precision = bounces / (bounces + len(false_bounces))
    assert len(replies) > 250
    assert precision >= 0.98
    assert false_auto == []


def crisp_bounces_paths() -> list[Path]:
    return [case.path for case in crisp_bounces()]


@pytest.mark.parametrize(
    ("name", "recipient", "status", "hard"),
    [
        ("mailgun__flanker/tests/fixtures/messages/bounce/zed.eml", "asdf", "5.1.1", True),
        ("mailgun__flanker/tests/fixtures/messages/bounce/mailbox-full.eml", "user@aol.com",
         "5.2.2", False),
        ("mailgun__flanker/tests/fixtures/messages/bounce/office365.eml", "noname@example.com",
         "5.1.10", True),
        ("mailgun__flanker/tests/fixtures/messages/bounce/gmail-no-dns.eml", "user@example.comm",
         None, True),
        ("mailgun__flanker/tests/fixtures/messages/bounce/delayed.eml", "foo@example.com", "4.0.0",
         False),
        ("cfortune__PHP-Bounce-Handler/eml/1.eml", "somat@ciudad.com.ar", "5.1.1", True),
        ("cfortune__PHP-Bounce-Handler/eml/26.eml", "andres_ferrero@ciudad.com.ar", None, False),
        ("cfortune__PHP-Bounce-Handler/eml/61.eml", "user@yahoo.com", "5.7.9", False),
        ("cfortune__PHP-Bounce-Handler/eml/exchange1.eml", "phk@nordiskeiendom.no", "5.1.1", True),
    ],
)  # fmt: skip
def test_a_bounce_is_hard_only_when_the_address_itself_does_not_work(
    name: str, recipient: str, status: str | None, hard: bool
) -> None:
    bounce = parse(DATA / name).bounce
    assert bounce is not None
    assert (bounce.recipient or "").startswith(recipient)
    assert bounce.status == status
    assert bounce.hard is hard


@pytest.mark.parametrize(
    ("name", "report"),
    [
        ("mailgun__flanker/tests/fixtures/messages/complaints/aol.eml", "complaint"),
        ("mailgun__flanker/tests/fixtures/messages/complaints/yahoo.eml", "complaint"),
        ("cfortune__PHP-Bounce-Handler/eml/arf1.txt", "complaint"),
        ("cfortune__PHP-Bounce-Handler/eml/fbl-hotmail.txt", "complaint"),
        ("mailgun__flanker/tests/fixtures/messages/disposition-notification.eml", "read_receipt"),
    ],
)
def test_spam_complaints_and_read_receipts_are_neither_bounces_nor_replies(
    name: str, report: str
) -> None:
    parsed = parse(DATA / name)
    assert parsed.report == report
    assert parsed.bounce is None
    assert parsed.intent is None
    assert parsed.auto_reply == "other"
    assert parsed.unsubscribe is (report == "complaint")


def test_rule_intents_agree_with_most_hand_labels() -> None:
    labels = Path(__file__).parent / "data" / "intent_labels.csv"
    with labels.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    right = sum(parse(DATA / row["file"]).intent == row["intent"] for row in rows)
    assert len(rows) >= 150
    assert right / len(rows) >= 0.85


def test_the_header_fields_are_kept_for_matching_the_thread() -> None:
    parsed = parse(DATA / "mailgun__talon/tests/fixtures/standard_replies/gmail.eml")
    assert (
        parsed.message_id == "<CAKsfaBW4hj0Gek6TwbR3erng4P1y0CZzJ0d=pXtCNnYnbe7PLg@mail.gmail.com>"
    )
    assert parsed.from_address == "xxx@gmail.com"
    assert parsed.from_name == "Megan One"
    assert parsed.subject == "Re: Test"
    assert parsed.date == datetime(2012, 4, 2, 16, 21, 52, tzinfo=UTC)


def test_an_empty_file_is_bad_input_naming_it(tmp_path: Path) -> None:
    empty = tmp_path / "empty.eml"
    empty.write_bytes(b"\n\n")
    with pytest.raises(BadInput, match=r"empty\.eml"):
        list(parse_files([empty], as_of=None, now=NOW))


def test_a_missing_file_is_bad_input_naming_it_before_anything_is_parsed(tmp_path: Path) -> None:
    present = tmp_path / "a.txt"
    present.write_text("Thanks!")
    with pytest.raises(BadInput, match=r"missing\.eml"):
        list(parse_files([present, tmp_path / "missing.eml"], as_of=None, now=NOW))


# --- the CLI sub-app, mounted as `unghost reply` -------------------------------------------


def run(*args: str) -> tuple[int, str]:
    app = typer.Typer()
    app.add_typer(reply_app, name="reply")
    result = CliRunner().invoke(app, ["reply", *args])
    if isinstance(result.exception, UnghostError):
        return result.exception.exit_code, result.exception.message
    return result.exit_code, result.stdout


def test_reply_parse_json_prints_contracts_object_for_one_file(tmp_path: Path) -> None:
    body = tmp_path / "reply.txt"
    body.write_text(
        "Not right now. Try me in Q2 next year?\n\nOn Mon, Nov 2, 2026, Bob wrote:\n> hi"
    )
    code, out = run("parse", "--json", "--as-of", "2026-11-20T09:00:00+00:00", str(body))
    assert code == 0
    parsed = json.loads(out)
    assert parsed["new_text"] == "Not right now. Try me in Q2 next year?"
    assert parsed["intent"] == "not_now"
    assert parsed["dates"] == ["2027-04-01", "2027-01-01"]
    assert "file" not in parsed


def test_reply_parse_json_prints_one_line_per_file_naming_it(tmp_path: Path) -> None:
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text("Please remove me from your list.")
    second.write_text("Sounds great, tell me more.")
    code, out = run("parse", "--json", str(first), str(second))
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert [(x["file"], x["intent"], x["unsubscribe"]) for x in lines] == [
        (str(first), "unsubscribe", True),
        (str(second), "interested", False),
    ]


def test_reply_parse_prints_a_readable_summary_by_default() -> None:
    code, out = run("parse", str(DATA / "mailgun__flanker/tests/fixtures/messages/bounce/zed.eml"))
    assert code == 0
    assert "bounce: hard, status 5.1.1" in out


def test_reply_parse_of_a_missing_file_is_bad_input(tmp_path: Path) -> None:
    code, message = run("parse", str(tmp_path / "nope.eml"))
    assert code == 2
    assert "nope.eml" in message
