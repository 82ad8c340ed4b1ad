"""The playbook as data: the default plays and templates, the loader's errors, rendering."""

from __future__ import annotations

import copy
import itertools
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jinja2.exceptions import SecurityError
from rapidfuzz import fuzz

from unghost.domain.playbook import (
    FIELDS,
    PRECONDITION_MEANINGS,
    PRECONDITIONS,
    Play,
    Playbook,
    Settings,
    Variant,
    load_playbook,
    render,
    sample_context,
)
from unghost.domain.tone import check_tone, count_words
from unghost.errors import BadInput, NotFound

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
PLAYBOOK_DIR = REPO / "src" / "unghost" / "playbook"

CADENCE = [
    "establish-guidelines",  # rule 7: the new deal's first task
    "missed-meeting",
    "personal-concern",
    "ask-referrer",
    "voicemail-then-email",
    "transparent-check-in",
    "progress-check",
    "value-drip",
    "opportunity-cost",
    "personal-touch",
    "client-reference",
    "introduction",
    "assistant-schedule",
    "warm-visit",
    "humor-checklist",
    "did-i-offend",
    "proposal-expiry",
    "go-for-no",
    "final-call",
    "check-back",
]

LONG_PROBLEM = (
    "every month our finance team of twelve spends nine working days reconciling four "
    "ledgers by hand in spreadsheets, and the board pack goes out late each time, which "
    "the chair has started to notice"
)

# What a precondition promises the template: these context entries are set.
PROMISED: dict[str, list[tuple[str, ...]]] = {
    "has_referrer": [("referrer",)],
    "has_assistant": [("assistant",)],
    "has_content": [("content",)],
    "has_interest": [("contact", "interest"), ("contact", "interests")],
    "has_benefits_and_cost": [("deal", "benefits"), ("deal", "cost_of_inaction")],
    "proposal_expiring": [("proposal",)],
    "missed_meeting": [("last_meeting",)],
}


@pytest.fixture(scope="module")
def playbook() -> Playbook:
    return load_playbook()


def all_variants() -> list[tuple[Play, Variant]]:
    return [(play, variant) for play in load_playbook().plays for variant in play.variants]


def context_for(play: Play, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """The sample context changed by `change`, keeping what the play's preconditions promise."""
    sample: dict[str, Any] = sample_context()
    context = copy.deepcopy(sample)
    change(context)
    for name in play.requires:
        for path in PROMISED.get(name, []):
            if len(path) == 1:
                context[path[0]] = sample[path[0]]
            else:
                context[path[0]] = context[path[0]] or dict(sample[path[0]])
                context[path[0]][path[1]] = sample[path[0]][path[1]]
    recipient = {"contact": "contact", "referrer": "referrer", "assistant": "assistant"}[play.to]
    person = context[recipient]
    context["recipient"] = {"name": person["name"], "first_name": person["first_name"]}
    return context


def _no_referrer_company(c: dict[str, Any]) -> None:
    c["referrer"]["company"] = None


def _long_problem(c: dict[str, Any]) -> None:
    c["deal"]["problem"] = LONG_PROBLEM


def _no_proposal(c: dict[str, Any]) -> None:
    c["proposal"] = None


def _bare_deal(c: dict[str, Any]) -> None:
    c["deal"].update(problem=None, benefits=None, cost_of_inaction=None)
    c["contact"].update(company=None, title=None)
    c["content"].update(url=None, summary=None)
    c["last_meeting"] = None


def _nobody_else(c: dict[str, Any]) -> None:
    c.update(referrer=None, assistant=None, content=None, proposal=None, last_meeting=None)
    c["contact"].update(interest="", interests=[])
    c["deal"]["permission_to_say_no"] = False
    c["owner"].update(phone=None, signature=None)


def _hobby_not_team(c: dict[str, Any]) -> None:
    c["contact"].update(interest="trail running", interests=["trail running"])


VARIATIONS: dict[str, Callable[[dict[str, Any]], None]] = {
    "sample": lambda c: None,
    "no referrer company": _no_referrer_company,
    "long problem": _long_problem,
    "no proposal": _no_proposal,
    "bare deal": _bare_deal,
    "nobody else": _nobody_else,
    "a hobby": _hobby_not_team,
}


# --- The default playbook -------------------------------------------------------------------


def test_default_playbook_has_the_nineteen_plays_and_the_setup_task_in_cadence_order(
    playbook: Playbook,
) -> None:
    assert [play.id for play in playbook.plays] == CADENCE


def test_default_settings_are_those_of_the_settings_type(playbook: Playbook) -> None:
    assert playbook.settings == Settings()
    assert playbook.settings.check_back_days == (90, 120)
    assert playbook.settings.silence.no_inbound_days == 21


def test_each_play_has_at_least_three_variants(playbook: Playbook) -> None:
    for play in playbook.plays:
        assert len(play.variants) >= 3, play.id
        assert [v.id for v in play.variants][:3] == [f"{play.id}/{n}" for n in (1, 2, 3)]


def test_progress_check_has_five_statements(playbook: Playbook) -> None:
    assert len(playbook.play("progress-check").variants) == 5


def test_phases_follow_the_cadence(playbook: Playbook) -> None:
    phases = {play.id: play.phase for play in playbook.plays}
    assert phases["missed-meeting"] == phases["personal-concern"] == "recover"
    assert phases["ask-referrer"] == "referrer"
    assert phases["voicemail-then-email"] == phases["transparent-check-in"] == "opener"
    rotation = CADENCE[CADENCE.index("progress-check") : CADENCE.index("did-i-offend") + 1]
    assert {phases[p] for p in rotation} == {"rotation"}
    assert [phases[p] for p in CADENCE[-4:]] == ["expiry", "closing", "final", "check_back"]


def test_only_the_closing_plays_may_press(playbook: Playbook) -> None:
    pressing = {play.id for play in playbook.plays if play.pressure_ok}
    assert pressing == {"proposal-expiry", "go-for-no", "final-call"}


def test_did_i_offend_is_off_by_default(playbook: Playbook) -> None:
    assert [play.id for play in playbook.plays if not play.enabled] == ["did-i-offend"]


def test_voicemail_then_email_calls_then_emails_with_a_script(playbook: Playbook) -> None:
    play = playbook.play("voicemail-then-email")
    assert play.channels == ("call", "email")
    assert play.requires == ("has_phone", "has_email")
    for variant in play.variants:
        draft = render(variant, sample_context())
        assert draft.script and "email" in draft.script.lower()


def test_personal_concern_follows_a_missed_meeting_after_four_days(playbook: Playbook) -> None:
    play = playbook.play("personal-concern")
    assert play.requires == ("after_missed_meeting",)
    assert play.delay_days == 4


def test_ask_referrer_writes_to_the_referrer_and_never_copies_them(playbook: Playbook) -> None:
    play = playbook.play("ask-referrer")
    assert (play.to, play.requires, play.cc_referrer) == ("referrer", ("has_referrer",), False)


def test_every_precondition_has_a_meaning(playbook: Playbook) -> None:
    assert set(PRECONDITION_MEANINGS) == PRECONDITIONS
    assert all(PRECONDITION_MEANINGS.values())
    for play in playbook.plays:
        assert set(play.requires) <= PRECONDITIONS


def test_sample_context_sets_every_field() -> None:
    context: dict[str, Any] = sample_context()
    assert set(context) == set(FIELDS)
    for name, attributes in FIELDS.items():
        if attributes:
            assert set(context[name]) == attributes, name
    assert len(context["times"]) == 3


@pytest.mark.parametrize("variation", list(VARIATIONS))
@pytest.mark.parametrize(("play", "variant"), all_variants(), ids=lambda x: getattr(x, "id", x))
def test_every_default_variant_renders_clean_of_tone_warnings(
    play: Play, variant: Variant, variation: str
) -> None:
    draft = render(variant, context_for(play, VARIATIONS[variation]))
    assert check_tone(draft.subject, draft.body, pressure_ok=play.pressure_ok) == []
    assert count_words(draft.body) <= 150
    assert draft.subject and "\n" not in draft.subject
    assert "None" not in draft.body + draft.subject + (draft.script or "")
    assert "  " not in draft.body and "\n\n\n" not in draft.body


@pytest.mark.parametrize(("play", "variant"), all_variants(), ids=lambda x: getattr(x, "id", x))
def test_scripts_carry_no_pressure_guilt_or_self_focus(play: Play, variant: Variant) -> None:
    draft = render(variant, context_for(play, VARIATIONS["sample"]))
    assert (draft.script is not None) == play.script
    if draft.script:
        warnings = check_tone("", draft.script, pressure_ok=play.pressure_ok)
        assert [w for w in warnings if not w.startswith(("asks", "no easy answer"))] == []
        assert count_words(draft.script) <= 80


def test_closing_plays_state_consequences_without_guilt(playbook: Playbook) -> None:
    for play in playbook.plays:
        for variant in play.variants:
            draft = render(variant, context_for(play, VARIATIONS["sample"]))
            warnings = check_tone(draft.subject, draft.body)
            assert not [w for w in warnings if w.startswith("guilt")], variant.id
    for play_id in ("go-for-no", "proposal-expiry"):
        for variant in playbook.play(play_id).variants:
            draft = render(variant, sample_context())
            assert any(w.startswith("ultimatum") for w in check_tone(draft.subject, draft.body))


def test_variants_of_one_play_are_not_the_same_twice(playbook: Playbook) -> None:
    threshold = playbook.settings.similarity_threshold * 100
    for play in playbook.plays:
        bodies = [render(v, context_for(play, VARIATIONS["sample"])).body for v in play.variants]
        for a, b in itertools.combinations(bodies, 2):
            assert fuzz.token_set_ratio(a, b) < threshold, play.id


def test_plays_that_offer_times_list_all_three(playbook: Playbook) -> None:
    offering = [play for play in playbook.plays if play.offers_times]
    assert {play.id for play in offering} == {"missed-meeting", "assistant-schedule"}
    times: list[str] = sample_context()["times"]  # type: ignore[assignment]
    for play in offering:
        for variant in play.variants:
            body = render(variant, context_for(play, VARIATIONS["sample"])).body
            assert all(time in body for time in times), variant.id


def test_go_for_no_recalls_the_permission_to_say_no_only_when_agreed(playbook: Playbook) -> None:
    for variant in playbook.play("go-for-no").variants:
        agreed: dict[str, Any] = sample_context()
        not_agreed = copy.deepcopy(agreed)
        not_agreed["deal"]["permission_to_say_no"] = False
        with_it, without = render(variant, agreed).body, render(variant, not_agreed).body
        assert len(with_it) > len(without) and "agree" in with_it and "agree" not in without


def test_final_call_says_when_you_will_check_back(playbook: Playbook) -> None:
    for variant in playbook.play("final-call").variants:
        draft = render(variant, sample_context())
        assert "early March" in draft.body and draft.script and "early March" in draft.script


def test_proposal_expiry_gives_the_date(playbook: Playbook) -> None:
    for variant in playbook.play("proposal-expiry").variants:
        draft = render(variant, sample_context())
        assert "Tuesday 1 December" in draft.subject + draft.body


def test_the_problem_is_quoted_in_the_prospects_words(playbook: Playbook) -> None:
    draft = render(playbook.variant("transparent-check-in/1"), sample_context())
    assert "“our month-end close takes nine days”" in draft.body


def test_humor_checklist_offers_no_longer_interested(playbook: Playbook) -> None:
    for variant in playbook.play("humor-checklist").variants:
        assert "no longer interested" in render(variant, sample_context()).body.lower()


def test_looking_up_an_unknown_play_or_variant_is_not_found(playbook: Playbook) -> None:
    assert playbook.variant("ask-referrer/2").play == "ask-referrer"
    with pytest.raises(NotFound, match='no play "nope"'):
        playbook.play("nope")
    with pytest.raises(NotFound, match='no variant "ask-referrer/99"'):
        playbook.variant("ask-referrer/99")


def test_no_template_copies_a_seed_sentence() -> None:
    tool = SHARED / "tools" / "seedcopy.py"
    assert tool.exists(), f"the seed check lives at {tool}, beside this checkout"
    result = subprocess.run(
        [sys.executable, str(tool), str(REPO / "src")], capture_output=True, text=True, check=True
    )
    assert result.stdout.startswith("0 line(s)"), result.stdout


# --- A user's playbook folder ---------------------------------------------------------------

MINIMAL = """{% block subject %}Hello{% endblock %}
{% block body %}
Hi {{ recipient.first_name }}, how are you?
{% endblock %}
"""


def user_dir(tmp_path: Path, yaml: str | None = None, **templates: str) -> Path:
    """A user playbook folder: `playbook.yaml` and templates named like `ask_referrer__9`."""
    if yaml is not None:
        (tmp_path / "playbook.yaml").write_text(yaml, encoding="utf-8")
    for key, text in templates.items():
        play, name = key.replace("_", "-").split("--")
        folder = tmp_path / "templates" / play
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.j2").write_text(text, encoding="utf-8")
    return tmp_path


def test_user_dir_adds_a_variant_and_overrides_a_setting(tmp_path: Path) -> None:
    folder = user_dir(
        tmp_path,
        "settings:\n  spacing_days: 5\n  silence:\n    no_inbound_days: 30\n",
        check_back__4=MINIMAL,
    )
    playbook = load_playbook(folder)
    assert playbook.settings.spacing_days == 5
    assert playbook.settings.silence.no_inbound_days == 30
    assert playbook.settings.silence.unanswered_days == 7
    variants = playbook.play("check-back").variants
    assert [v.id for v in variants] == [f"check-back/{n}" for n in (1, 2, 3, 4)]
    assert variants[-1].path == str(folder / "templates" / "check-back" / "4.j2")
    assert render(variants[-1], sample_context()).body == "Hi George, how are you?"


def test_user_variant_replaces_the_default_of_the_same_name(tmp_path: Path) -> None:
    playbook = load_playbook(user_dir(tmp_path, ask_referrer__2=MINIMAL))
    variants = playbook.play("ask-referrer").variants
    assert len(variants) == 3
    assert render(playbook.variant("ask-referrer/2"), sample_context()).subject == "Hello"


def test_user_play_is_merged_by_id(tmp_path: Path) -> None:
    yaml = "plays:\n  - id: did-i-offend\n    enabled: true\n    channels: [email]\n"
    playbook = load_playbook(user_dir(tmp_path, yaml))
    play = playbook.play("did-i-offend")
    assert (play.enabled, play.channels, play.requires) == (True, ("email",), ("unanswered_3",))
    assert [p.id for p in playbook.plays] == CADENCE


def test_user_play_is_added_after_the_play_it_names(tmp_path: Path) -> None:
    yaml = (
        "plays:\n"
        "  - id: birthday-card\n"
        "    after: warm-visit\n"
        "    phase: rotation\n"
        "    channels: [letter]\n"
        "    requires: [nearby]\n"
    )
    playbook = load_playbook(user_dir(tmp_path, yaml, birthday_card__1=MINIMAL))
    ids = [p.id for p in playbook.plays]
    assert ids.index("birthday-card") == ids.index("warm-visit") + 1
    play = playbook.play("birthday-card")
    assert (play.to, play.pressure_ok, play.enabled, play.source) == ("contact", False, True, "")


def test_user_play_without_after_goes_to_the_end(tmp_path: Path) -> None:
    yaml = "plays:\n  - id: anniversary\n    phase: check_back\n    channels: [email]\n"
    playbook = load_playbook(user_dir(tmp_path, yaml, anniversary__1=MINIMAL))
    assert playbook.plays[-1].id == "anniversary"


def test_a_missing_user_dir_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no such playbook folder"):
        load_playbook(tmp_path / "nowhere")


# --- Mistakes in a user's playbook: one line naming the file, the line and the field ---------


def test_bad_precondition_names_file_line_and_field(tmp_path: Path) -> None:
    yaml = "plays:\n  - id: go-for-no\n    requires:\n      - unanswered_4\n      - has_dog\n"
    folder = user_dir(tmp_path, yaml)
    with pytest.raises(BadInput) as caught:
        load_playbook(folder)
    assert caught.value.message == (
        f'{folder / "playbook.yaml"}: line 5: plays[0].requires: unknown precondition "has_dog"'
    )


@pytest.mark.parametrize(
    ("yaml", "expected"),
    [
        ("settings:\n  spacing_days: 0\n", "line 2: settings.spacing_days: must be between 1"),
        ("settings:\n  spacing_days: weekly\n", "settings.spacing_days: must be a whole number"),
        ("settings:\n  spacing: 3\n", "line 2: settings.spacing: unknown field"),
        ("settings:\n  similarity_threshold: 1.5\n", "similarity_threshold: must be between 0"),
        ("settings:\n  check_back_days: [120, 90]\n", "check_back_days: the earliest day 120"),
        ("settings:\n  cc_referrer: yes please\n", "settings.cc_referrer: must be true or false"),
        ("settings:\n  silence:\n    no_inbound_days: -1\n", "line 3: settings.silence.no_in"),
        ("colour: blue\n", "line 1: colour: unknown field"),
        ("format: something-else\n", 'format: must be "unghost-playbook"'),
        ("version: 2\n", "version: unghost reads version 1"),
        ("plays:\n  - id: Go_For_No\n", 'line 2: plays[0].id: "Go_For_No" is not an id'),
        ("plays:\n  - phase: rotation\n", "line 2: plays[0]: has no id"),
        ("plays:\n  - id: x\n    channels: [email]\n", 'plays[0]: new play "x" needs a phase'),
        ("plays:\n  - id: go-for-no\n    channels: [fax]\n", 'unknown channel "fax"'),
        ("plays:\n  - id: go-for-no\n    channels: []\n", "channels: must name at least one"),
        ("plays:\n  - id: go-for-no\n    phase: later\n", 'unknown phase "later"'),
        ("plays:\n  - id: go-for-no\n    to: boss\n", 'plays[0].to: unknown recipient "boss"'),
        ("plays:\n  - id: go-for-no\n    delay_days: 400\n", "delay_days: must be between 0"),
        ("plays:\n  - id: go-for-no\n    enabled: 1\n", "enabled: must be true or false"),
        ("plays:\n  - id: go-for-no\n    source: 4\n", "source: must be text in quotes"),
        ("plays:\n  - id: go-for-no\n    colour: red\n", "line 3: plays[0].colour: unknown field"),
        ("plays:\n  - id: go-for-no\n    after: nope\n", 'plays[0].after: no play "nope"'),
        ("plays:\n  - id: go-for-no\n    phase: recover\n", 'phase: phase "recover" cannot'),
        ("plays:\n  - id: ask-referrer\n    cc_referrer: true\n", "cannot copy them"),
        ("plays:\n  - id: a\n    phase: check_back\n    channels: [sms]\n", 'play "a" has no'),
        ("plays:\n  - id: go-for-no\n  - id: go-for-no\n    id: x\n", "line 4: plays[1].id: given"),
        ("plays: [unclosed\n", "line 2: "),
        ("plays: &a [*a]\n", "line 1: plays: nested too deeply"),
        ("plays:\n  - id: go-for-no\n  - id: go-for-no\n", 'line 3: plays[1].id: play "go-for'),
        (
            "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n"
            + "".join(
                f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
                for p, c in zip("abcdef", "bcdefg", strict=True)
            ),
            "too large",
        ),
    ],
)
def test_mistakes_in_playbook_yaml_name_file_line_and_field(
    tmp_path: Path, yaml: str, expected: str
) -> None:
    folder = user_dir(tmp_path, yaml)
    with pytest.raises(BadInput) as caught:
        load_playbook(folder)
    assert caught.value.message.startswith(f"{folder / 'playbook.yaml'}: line ")
    assert expected in caught.value.message
    assert "\n" not in caught.value.message


def test_unknown_field_is_a_load_time_error_naming_file_and_line(tmp_path: Path) -> None:
    template = MINIMAL.replace("how are you?", "how are you?\nSay hi to {{ contact.nickname }}.")
    folder = user_dir(tmp_path, ask_referrer__9=template)
    with pytest.raises(BadInput) as caught:
        load_playbook(folder)
    path = folder / "templates" / "ask-referrer" / "9.j2"
    assert caught.value.message == f'{path}: line 4: unknown field "contact.nickname"'


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("{{ colleague.name }}", 'unknown field "colleague"'),
        ("{{ deal['price'] }}", 'unknown field "deal.price"'),
        ("{{ deal[deal.title] }}", 'fields of "deal" must be named'),
        ("{{ last_meeting.upper() }}", 'unknown field "last_meeting.upper"'),
        ("{{ contact.interests.pop() }}", 'unknown field "contact.interests.pop"'),
        ("{% for t in times %}{% endfor %}{{ t }}", 'unknown field "t"'),
        ('{% include "other.j2" %}', "cannot load other templates"),
        ("{{ contact.name | nosuchfilter }}", "nosuchfilter"),
        ("{% if contact.name %}", "line 5: "),
    ],
)
def test_template_mistakes_name_file_and_line(tmp_path: Path, line: str, expected: str) -> None:
    folder = user_dir(tmp_path, ask_referrer__9=MINIMAL.replace("how are you?", f"\n{line}"))
    with pytest.raises(BadInput) as caught:
        load_playbook(folder)
    assert caught.value.message.startswith(f"{folder / 'templates' / 'ask-referrer' / '9.j2'}: ")
    assert expected in caught.value.message


def test_loop_and_set_variables_are_allowed_locally(tmp_path: Path) -> None:
    body = (
        "{% set who = recipient.first_name %}{{ who }}: "
        "{% for time in times %}{{ loop.index }}. {{ time }} {% endfor %}"
        "{% for i in contact.interests %}{{ i|upper }}{% endfor %} {{ times[0] }}"
    )
    folder = user_dir(tmp_path, ask_referrer__9=MINIMAL.replace("how are you?", body))
    draft = render(load_playbook(folder).variant("ask-referrer/9"), sample_context())
    assert draft.body.startswith("Hi George, George: 1. Tuesday 24 November, 10:00 CST 2.")
    assert "THE CUBS" in draft.body


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{% block body %}x{% endblock %}", "line 1: missing {% block subject %}"),
        ("{% block subject %}x{% endblock %}", "line 1: missing {% block body %}"),
        ("{% block subject %}x{% endblock %}\n{% block body %}\n\n{% endblock %}", "line 2: {%"),
        (MINIMAL + "{% block footer %}x{% endblock %}", 'line 5: unknown block "footer"'),
        (MINIMAL + "stray text\n", "line 5: only the blocks subject, body and script"),
    ],
)
def test_empty_or_missing_blocks_are_errors(tmp_path: Path, template: str, expected: str) -> None:
    with pytest.raises(BadInput) as caught:
        load_playbook(user_dir(tmp_path, check_back__9=template))
    assert expected in caught.value.message


def test_a_script_play_needs_a_script_in_every_variant(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match=r"9\.j2: line 1: play \"final-call\" needs a \{% block"):
        load_playbook(user_dir(tmp_path, final_call__9=MINIMAL))


def test_a_template_for_an_unknown_play_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match='no play "nope" in the playbook'):
        load_playbook(user_dir(tmp_path, nope__1=MINIMAL))


def test_a_badly_named_variant_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match='"Final" is not a variant name'):
        load_playbook(user_dir(tmp_path, check_back__Final=MINIMAL))


@pytest.mark.parametrize(
    "expression",
    [
        "{{ contact.__class__ }}",
        "{{ ().__class__.__mro__ }}",
        "{{ contact['__class__'] }}",
        "{{ contact|attr('__class__') }}",
        "{{ times.append('x') }}",
        "{% set t = times %}{{ t.append('x') }}",
        "{% set s = recipient.name %}{{ s.format.__globals__ }}",
        "{{ cycler.__init__.__globals__ }}",
    ],
)
def test_template_cannot_reach_python_internals(tmp_path: Path, expression: str) -> None:
    folder = user_dir(tmp_path, check_back__9=MINIMAL.replace("how are you?", expression))
    try:
        variant = load_playbook(folder).variant("check-back/9")
    except BadInput:
        return  # rejected when the playbook loads
    with pytest.raises(BadInput) as caught:
        render(variant, sample_context())
    assert isinstance(caught.value.__cause__, SecurityError)


def test_rendering_without_a_field_names_the_template_line(tmp_path: Path) -> None:
    template = MINIMAL.replace("how are you?", "how are you?\n\n{{ referrer.first_name }} says hi.")
    folder = user_dir(tmp_path, check_back__9=template)
    context = sample_context()
    context["referrer"] = None
    with pytest.raises(BadInput) as caught:
        render(load_playbook(folder).variant("check-back/9"), context)
    assert caught.value.message.startswith(
        f"{folder / 'templates' / 'check-back' / '9.j2'}: line 5"
    )


def test_rendering_tidies_whitespace(tmp_path: Path) -> None:
    template = (
        "{% block subject %}\n  Hello\n  there  {% endblock %}\n"
        "{% block body %}\n\n\nA   \n\n\n\n\nB\n\n{% endblock %}\n"
        "{% block script %}  {% endblock %}\n"
    )
    with pytest.raises(BadInput, match="script %} is empty"):
        load_playbook(user_dir(tmp_path, check_back__9=template))
    template = template.replace("{% block script %}  {% endblock %}\n", "")
    draft = render(
        load_playbook(user_dir(tmp_path, check_back__9=template)).variant("check-back/9"),
        sample_context(),
    )
    assert (draft.subject, draft.body, draft.script) == ("Hello there", "A\n\nB", None)
