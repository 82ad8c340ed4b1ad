"""The playbook as data: load, validate and render the plays of PRODUCT §4.

The default playbook ships as files in `unghost/playbook/`: `playbook.yaml` (settings and
the ordered plays) and `templates/<play>/<n>.j2` (one Jinja template per variant, with the
blocks `subject`, `body` and optionally `script`). A user's directory of the same form is
laid over it. Every mistake is a `BadInput` of one line naming the file, the line and the
field. Templates may use only the fields of `FIELDS`, checked when they load, and render in
a sandbox. Pure: reads the playbook's files, nothing else.
"""

from __future__ import annotations

import functools
import hashlib
import re
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Literal, NoReturn, get_args

import yaml
from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError, nodes
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from unghost.domain.model import Channel
from unghost.errors import BadInput, NotFound

FORMAT = "unghost-playbook"
VERSION = 1
Phase = Literal[
    "setup",
    "recover",
    "referrer",
    "opener",
    "rotation",
    "expiry",
    "closing",
    "final",
    "check_back",
]
Recipient = Literal["contact", "referrer", "assistant"]
PHASES: tuple[Phase, ...] = get_args(Phase)
PLAY_CHANNELS: tuple[Channel, ...] = (
    "meeting",  # a task for the seller at a meeting (rule 7), not a message
    "email",
    "call",
    "voicemail",
    "linkedin",
    "visit",
    "sms",
    "letter",
)
RECIPIENTS: tuple[Recipient, ...] = get_args(Recipient)
BLOCKS: tuple[str, ...] = ("subject", "body", "script")

PRECONDITION_MEANINGS: dict[str, str] = {
    "missed_meeting": "a confirmed meeting was missed and nothing came from the prospect since",
    "after_missed_meeting": "the missed-meeting step went out and no reply came",
    "has_referrer": "the deal has a referrer or an advocate",
    "has_phone": "the contact has a phone number",
    "has_email": "the contact has a working email address",
    "has_content": "a content item matches the deal and was never sent to this contact",
    "has_interest": "the contact has an interest (team, hobby) on file",
    "has_benefits_and_cost": "the deal records both its benefits and its cost of inaction",
    "has_assistant": "the contact has an assistant",
    "nearby": "the contact is near enough to visit",
    "humor_ok": "the contact enjoys a joke",
    "unanswered_3": "3 or more outbound touches since the last contact from the prospect",
    "unanswered_4": "4 or more outbound touches since the last contact from the prospect",
    "proposal_expiring": "the proposal expires within 7 days or has expired",
    "nurture_due": "the deal is in nurture and its check-back date has come",
    "new_deal": "no meeting held yet, and no agreement yet that a no is welcome",
}
# What a done step may set on its deal (rule 7: agreeing that a no is welcome).
DEAL_FLAGS: tuple[str, ...] = ("permission_to_say_no",)
PRECONDITIONS: frozenset[str] = frozenset(PRECONDITION_MEANINGS)

FIELDS: dict[str, frozenset[str]] = {
    "owner": frozenset({"name", "first_name", "email", "phone", "signature"}),
    "contact": frozenset({"name", "first_name", "company", "title", "interest", "interests"}),
    "deal": frozenset(
        {"title", "problem", "benefits", "cost_of_inaction", "urgency", "permission_to_say_no"}
    ),
    "proposal": frozenset({"sent_on", "expires_on", "amount"}),
    "referrer": frozenset({"name", "first_name", "company"}),
    "assistant": frozenset({"name", "first_name"}),
    "content": frozenset({"title", "url", "summary"}),
    "times": frozenset(),
    "last_meeting": frozenset(),
    "check_back": frozenset(),
    "recipient": frozenset({"name", "first_name"}),
}
_LISTS = frozenset({"times", "contact.interests"})
_JINJA_GLOBALS = frozenset({"range", "dict", "lipsum", "cycler", "joiner", "namespace"})
_ID = re.compile(r"^[a-z][a-z0-9-]*$")
_VARIANT_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")


@dataclass(frozen=True)
class SilenceSettings:
    """When a deal counts as silent (PRODUCT §3)."""

    promise_grace_business_days: int = 1
    proposal_business_days: int = 5
    unanswered_touches: int = 2
    unanswered_days: int = 7
    no_inbound_days: int = 21


@dataclass(frozen=True)
class Settings:
    """The playbook's cadence settings; the defaults are those of the shipped playbook."""

    similarity_threshold: float = 0.72
    spacing_days: int = 7  # 001: one touch a week
    high_urgency_spacing_business_days: int = 3
    check_back_days: tuple[int, int] = (90, 120)  # 001: check back in 3-4 months
    proposal_default_days: int = 30  # 003 #6
    cc_referrer: bool = False  # 003 #5
    withhold_caller_id: bool = False  # 003 #3
    silence: SilenceSettings = SilenceSettings()


@dataclass(frozen=True)
class Variant:
    """One template of a play: `id` is "<play>/<n>"; each block is a compiled template."""

    id: str
    play: str
    path: str
    subject: Template = field(repr=False)
    body: Template = field(repr=False)
    script: Template | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Play:
    """One re-engagement move; see `playbook.yaml` for what each field means."""

    id: str
    source: str
    phase: Phase
    channels: tuple[Channel, ...]
    to: Recipient
    requires: tuple[str, ...]
    delay_days: int | None
    offers_times: bool
    pressure_ok: bool
    enabled: bool
    variants: tuple[Variant, ...] = field(repr=False)
    script: bool = False
    cc_referrer: bool | None = None
    withhold_caller_id: bool | None = None
    summary: str = ""
    sets: tuple[str, ...] = ()


@dataclass(frozen=True)
class Playbook:
    """The settings and the ordered plays in force."""

    settings: Settings
    plays: tuple[Play, ...]
    digest: str = ""  # of every file read: a stored plan made under another playbook is stale

    def play(self, play_id: str) -> Play:
        """The play with this id; `NotFound` if there is none."""
        for play in self.plays:
            if play.id == play_id:
                return play
        raise NotFound(f'no play "{play_id}" in the playbook')

    def variant(self, variant_id: str) -> Variant:
        """The variant with this id ("<play>/<n>"); `NotFound` if there is none."""
        play_id = variant_id.split("/", 1)[0]
        for variant in self.play(play_id).variants:
            if variant.id == variant_id:
                return variant
        raise NotFound(f'no variant "{variant_id}" in the playbook')


@dataclass(frozen=True)
class Draft:
    """A rendered variant, whitespace tidied."""

    subject: str
    body: str
    script: str | None = None


# ---------------------------------------------------------------- YAML with line numbers


class _Doc:
    """A YAML file as plain data, remembering the line of every path ("plays[3].id")."""

    def __init__(self, file: str, text: str) -> None:
        self.file = file
        self.lines: dict[str, int] = {}
        self._loader = yaml.SafeLoader("")
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            line = f"line {mark.line + 1}: " if mark else ""
            raise BadInput(f"{file}: {line}{e.problem or e.context}") from None
        except yaml.YAMLError as e:
            raise BadInput(f"{file}: {e}") from None
        self.data: object = {} if node is None else self._plain(node, "")

    def _plain(self, node: yaml.Node, path: str) -> object:
        self.lines[path] = node.start_mark.line + 1
        # Aliases could make a small file endless (&a [*a]) or huge ("billion laughs").
        if len(path) > 200 or len(self.lines) > 100_000:
            self.fail(path.split("[")[0].split(".")[0], "nested too deeply or too large")
        if isinstance(node, yaml.MappingNode):
            out: dict[str, object] = {}
            for key_node, value_node in node.value:
                key = self._loader.construct_object(key_node)
                sub = f"{path}.{key}" if path else str(key)
                if not isinstance(key, str):
                    self.fail(
                        path, f"key {key!r} must be a name", line=key_node.start_mark.line + 1
                    )
                if key in out:
                    self.fail(sub, "given twice", line=key_node.start_mark.line + 1)
                out[key] = self._plain(value_node, sub)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self._plain(item, f"{path}[{i}]") for i, item in enumerate(node.value)]
        return self._loader.construct_object(node)

    def fail(self, path: str, message: str, *, line: int | None = None) -> NoReturn:
        """Raise `BadInput` naming this file, the line of `path` and the field."""
        if line is None:
            probe = path
            while probe and probe not in self.lines:  # the nearest parent that has a line
                probe = re.sub(r"(\.[^.\[]*|\[\d+\]|[^.\[]+)$", "", probe)
            line = self.lines.get(probe, 1)
        where = f"{path}: " if path else ""
        raise BadInput(f"{self.file}: line {line}: {where}{message}")

    def mapping(self, value: object, path: str, allowed: frozenset[str]) -> dict[str, Any]:
        """`value` as a mapping whose keys are all in `allowed`."""
        if not isinstance(value, dict):
            self.fail(path, "must be a mapping of names to values")
        for key in value:
            if key not in allowed:
                self.fail(f"{path}.{key}" if path else key, "unknown field")
        return value

    def integer(self, value: object, path: str, low: int, high: int) -> int:
        """`value` as a whole number between `low` and `high`."""
        if not isinstance(value, int) or isinstance(value, bool):
            self.fail(path, f"must be a whole number, not {value!r}")
        if not low <= value <= high:
            self.fail(path, f"must be between {low} and {high}, not {value}")
        return value

    def boolean(self, value: object, path: str) -> bool:
        """`value` as true or false."""
        if not isinstance(value, bool):
            self.fail(path, f"must be true or false, not {value!r}")
        return value

    def choice(self, value: object, path: str, allowed: tuple[str, ...], what: str) -> str:
        """`value` as one of the names in `allowed`."""
        if not isinstance(value, str) or value not in allowed:
            self.fail(path, f"unknown {what} {_show(value)} (one of: {', '.join(allowed)})")
        return value

    def names(self, value: object, path: str, allowed: tuple[str, ...], what: str) -> list[str]:
        """`value` as a list of distinct names from `allowed`."""
        if not isinstance(value, list):
            self.fail(path, f"must be a list of {what}s")
        for i, item in enumerate(value):
            if not isinstance(item, str) or item not in allowed:
                self.fail(path, f"unknown {what} {_show(item)}", line=self.lines[f"{path}[{i}]"])
        if len(set(value)) != len(value):
            self.fail(path, f"a {what} is listed twice")
        return value


def _show(value: object) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)


# ---------------------------------------------------------------------- settings and plays

_SETTING_RANGES: dict[str, tuple[int, int]] = {
    "spacing_days": (1, 90),
    "high_urgency_spacing_business_days": (1, 30),
    "proposal_default_days": (1, 365),
    "promise_grace_business_days": (0, 30),
    "proposal_business_days": (1, 60),
    "unanswered_touches": (1, 20),
    "unanswered_days": (1, 90),
    "no_inbound_days": (1, 365),
}
_SETTINGS_KEYS = frozenset(f.name for f in fields(Settings))
_SILENCE_KEYS = frozenset(f.name for f in fields(SilenceSettings))


def _read_settings(doc: _Doc, raw: object, into: dict[str, Any], *, complete: bool) -> None:
    """Check the `settings` mapping of one file and lay it over `into`."""
    given = doc.mapping(raw, "settings", _SETTINGS_KEYS)
    for key, value in given.items():
        path = f"settings.{key}"
        if key == "similarity_threshold":
            if not isinstance(value, int | float) or isinstance(value, bool):
                doc.fail(path, f"must be a number between 0 and 1, not {value!r}")
            if not 0 <= value <= 1:
                doc.fail(path, f"must be between 0 and 1, not {value}")
            into[key] = float(value)
        elif key == "check_back_days":
            if not isinstance(value, list) or len(value) != 2:
                doc.fail(path, "must be two numbers of days, [earliest, latest]")
            low = doc.integer(value[0], f"{path}[0]", 1, 730)
            high = doc.integer(value[1], f"{path}[1]", 1, 730)
            if low > high:
                doc.fail(path, f"the earliest day {low} comes after the latest {high}")
            into[key] = (low, high)
        elif key == "silence":
            silence = doc.mapping(value, path, _SILENCE_KEYS)
            into.setdefault("silence", {})
            for name, number in silence.items():
                low, high = _SETTING_RANGES[name]
                into["silence"][name] = doc.integer(number, f"{path}.{name}", low, high)
            missing = _SILENCE_KEYS - set(into["silence"])
            if complete and missing:
                doc.fail(path, f"missing {', '.join(sorted(missing))}")
        elif key in ("cc_referrer", "withhold_caller_id"):
            into[key] = doc.boolean(value, path)
        else:
            into[key] = doc.integer(value, path, *_SETTING_RANGES[key])
    missing = _SETTINGS_KEYS - set(into)
    if complete and missing:
        doc.fail("settings", f"missing {', '.join(sorted(missing))}")


_PLAY_KEYS = frozenset(f.name for f in fields(Play)) - {"variants"}
_PLAY_DEFAULTS: dict[str, object] = {
    "source": "",
    "to": "contact",
    "requires": (),
    "delay_days": None,
    "offers_times": False,
    "pressure_ok": False,
    "enabled": True,
    "script": False,
    "cc_referrer": None,
    "withhold_caller_id": None,
    "summary": "",
    "sets": (),
}


@dataclass
class _PlayDraft:
    """A play while files are being laid over each other: its fields and where it was set."""

    fields: dict[str, Any]
    doc: _Doc
    path: str


def _read_play_field(doc: _Doc, path: str, key: str, value: object) -> object:
    where = f"{path}.{key}"
    if key in ("id", "after"):
        if not isinstance(value, str) or not _ID.match(value):
            doc.fail(where, f"{_show(value)} is not an id (lower-case letters, digits and -)")
        return value
    if key in ("source", "summary"):
        if not isinstance(value, str):
            doc.fail(where, f'must be text in quotes, like "004", not {value!r}')
        return value
    if key == "phase":
        return doc.choice(value, where, PHASES, "phase")
    if key == "to":
        return doc.choice(value, where, RECIPIENTS, "recipient")
    if key == "channels":
        channels = doc.names(value, where, PLAY_CHANNELS, "channel")
        if not channels:
            doc.fail(where, "must name at least one channel")
        return tuple(channels)
    if key == "requires":
        return tuple(doc.names(value, where, tuple(sorted(PRECONDITIONS)), "precondition"))
    if key == "sets":
        return tuple(doc.names(value, where, DEAL_FLAGS, "deal flag"))
    if key == "delay_days":
        return None if value is None else doc.integer(value, where, 0, 365)
    if key in ("cc_referrer", "withhold_caller_id") and value is None:
        return None
    return doc.boolean(value, where)


def _read_plays(doc: _Doc, raw: object, plays: list[_PlayDraft], *, user: bool) -> None:
    """Check the `plays` list of one file and merge it into `plays`, in order."""
    if not isinstance(raw, list):
        doc.fail("plays", "must be a list of plays")
    allowed = _PLAY_KEYS | {"after"} if user else _PLAY_KEYS
    seen: set[str] = set()
    for i, entry in enumerate(raw):
        path = f"plays[{i}]"
        given = doc.mapping(entry, path, allowed)
        if "id" not in given:
            doc.fail(path, "has no id")
        values: dict[str, Any] = {
            key: _read_play_field(doc, path, key, value) for key, value in given.items()
        }
        if values["id"] in seen:
            doc.fail(f"{path}.id", f'play "{values["id"]}" is listed twice in this file')
        seen.add(values["id"])
        after = values.pop("after", None)
        ids = [p.fields["id"] for p in plays]
        if values["id"] in ids:
            old = plays.pop(ids.index(values["id"]))
            values = {**old.fields, **values}
            position = ids.index(values["id"]) if after is None else None
        else:
            for key in ("phase", "channels"):
                if key not in values:
                    doc.fail(path, f'new play "{values["id"]}" needs a {key}')
            values = {**_PLAY_DEFAULTS, **values}
            position = len(plays) if after is None else None
        if after is not None:
            ids = [p.fields["id"] for p in plays]
            if after not in ids:
                doc.fail(f"{path}.after", f'no play "{after}" to put it after')
            position = ids.index(after) + 1
        assert position is not None
        plays.insert(position, _PlayDraft(values, doc, path))


def _check_plays(plays: list[_PlayDraft], variants: Mapping[str, dict[str, Variant]]) -> None:
    """Rules that hold across files: order of phases, variants, scripts, the referrer's copy."""
    rank = 0
    for draft in plays:
        play = draft.fields
        if PHASES.index(play["phase"]) < rank:
            draft.doc.fail(
                f"{draft.path}.phase",
                f'phase "{play["phase"]}" cannot come after phase "{PHASES[rank]}" '
                "(the order of plays is the cadence)",
            )
        rank = PHASES.index(play["phase"])
        if not variants.get(play["id"]):
            draft.doc.fail(draft.path, f'play "{play["id"]}" has no templates/{play["id"]}/*.j2')
        if play["to"] == "referrer" and play["cc_referrer"]:
            draft.doc.fail(
                f"{draft.path}.cc_referrer", "a message to the referrer cannot copy them"
            )
        if play["script"]:
            for variant in variants[play["id"]].values():
                if variant.script is None:
                    raise BadInput(
                        f'{variant.path}: line 1: play "{play["id"]}" needs a '
                        "{% block script %} in every variant"
                    )


# -------------------------------------------------------------------------------- templates


@functools.cache
def _environment() -> ImmutableSandboxedEnvironment:
    return ImmutableSandboxedEnvironment(
        autoescape=False,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


def _template_fail(file: str, line: int, message: str) -> NoReturn:
    raise BadInput(f"{file}: line {line}: {message}")


def _kind(node: nodes.Node, scope: set[str]) -> str | None:
    """The field an expression names ("contact", "contact.interests"), if it names one."""
    if isinstance(node, nodes.Name):
        return node.name if node.name in FIELDS and node.name not in scope else None
    if isinstance(node, nodes.Getattr | nodes.Getitem):
        base = _kind(node.node, scope)
        attr = _attr(node)
        if base in FIELDS and attr in FIELDS[base]:
            return f"{base}.{attr}"
    return None


def _attr(node: nodes.Getattr | nodes.Getitem) -> str | None:
    if isinstance(node, nodes.Getattr):
        return node.attr
    if isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
        return node.arg.value
    return None


def _names(target: nodes.Node) -> set[str]:
    return {n.name for n in target.find_all(nodes.Name)} | (
        {target.name} if isinstance(target, nodes.Name) else set()
    )


def _check_fields(body: list[nodes.Node], file: str, scope: set[str]) -> None:
    """Reject any name or attribute outside `FIELDS` (locals of for, set and macro allowed)."""
    for node in body:
        _check_node(node, file, scope)


def _check_node(node: nodes.Node, file: str, scope: set[str]) -> None:
    line = node.lineno
    if isinstance(node, nodes.Name):
        if node.ctx == "load" and node.name not in scope | FIELDS.keys() | _JINJA_GLOBALS:
            _template_fail(file, line, f'unknown field "{node.name}"')
        return
    if isinstance(node, nodes.Extends | nodes.Include | nodes.Import | nodes.FromImport):
        _template_fail(file, line, "templates cannot load other templates")
    if isinstance(node, nodes.Block):
        _template_fail(file, line, f'block "{node.name}" cannot sit inside another block')
    if isinstance(node, nodes.Filter) and node.name == "attr":
        _template_fail(file, line, 'the "attr" filter is not allowed; name fields directly')
    if isinstance(node, nodes.Getattr | nodes.Getitem):
        attr = _attr(node)
        if attr is not None and attr.startswith("_"):
            _template_fail(file, line, f'"{attr}" is not a field')
        base = _kind(node.node, scope)
        if base is not None and FIELDS.get(base):
            if attr is None:
                _template_fail(file, line, f'fields of "{base}" must be named, not computed')
            if attr not in FIELDS[base]:
                _template_fail(file, line, f'unknown field "{base}.{attr}"')
        elif base is not None and isinstance(node, nodes.Getattr):
            hint = "" if base in _LISTS else " (use a filter, like |upper)"
            _template_fail(file, line, f'unknown field "{base}.{attr}"{hint}')
    if isinstance(node, nodes.Assign):
        _check_node(node.node, file, scope)
        scope |= _names(node.target)
        return
    if isinstance(node, nodes.AssignBlock):
        _check_fields(node.body, file, set(scope))
        scope |= _names(node.target)
        return
    if isinstance(node, nodes.For):
        _check_node(node.iter, file, scope)
        inner = scope | _names(node.target) | {"loop"}
        if node.test is not None:
            _check_node(node.test, file, inner)
        _check_fields(node.body, file, inner)
        _check_fields(node.else_, file, set(scope))
        return
    if isinstance(node, nodes.Macro | nodes.CallBlock):
        if isinstance(node, nodes.Macro):
            scope.add(node.name)
        else:
            _check_node(node.call, file, scope)
        for default in node.defaults:
            _check_node(default, file, scope)
        inner = scope | {a.name for a in node.args} | {"caller", "varargs", "kwargs"}
        _check_fields(node.body, file, inner)
        return
    if isinstance(node, nodes.With):
        for value in node.values:
            _check_node(value, file, scope)
        inner = scope | {n for t in node.targets for n in _names(t)}
        _check_fields(node.body, file, inner)
        return
    for child in node.iter_child_nodes():
        _check_node(child, file, scope)


def _is_blank(body: list[nodes.Node]) -> bool:
    return all(
        isinstance(n, nodes.Output)
        and all(isinstance(c, nodes.TemplateData) and not c.data.strip() for c in n.nodes)
        for n in body
    )


@functools.lru_cache(maxsize=1024)  # loading the playbook again recompiles nothing unchanged
def _compile_variant(play: str, name: str, file: str, source: str) -> Variant:
    """Parse, check and compile one template file into a variant of `play`."""
    env = _environment()
    variant_id = f"{play}/{name}"
    try:
        tree = env.parse(source, name=variant_id, filename=file)
    except TemplateSyntaxError as e:
        _template_fail(file, e.lineno, e.message or "syntax error")
    blocks: dict[str, nodes.Block] = {}
    for node in tree.body:
        if isinstance(node, nodes.Block) and node.name in BLOCKS:
            blocks[node.name] = node
        elif isinstance(node, nodes.Block):
            _template_fail(
                file, node.lineno, f'unknown block "{node.name}" (one of: subject, body, script)'
            )
        elif not _is_blank([node]):
            _template_fail(
                file, node.lineno, "only the blocks subject, body and script may hold text"
            )
    compiled: dict[str, Template] = {}
    for block_name in BLOCKS:
        block = blocks.get(block_name)
        if block is None:
            if block_name != "script":
                _template_fail(file, 1, f"missing {{% block {block_name} %}}")
            continue
        if _is_blank(block.body):
            _template_fail(file, block.lineno, f"{{% block {block_name} %}} is empty")
        _check_fields(block.body, file, set())
        compiled[block_name] = _compile_block(block, f"{variant_id}:{block_name}", file)
    return Variant(
        id=variant_id,
        play=play,
        path=file,
        subject=compiled["subject"],
        body=compiled["body"],
        script=compiled.get("script"),
    )


def compile_variant(play: str, name: str, source: str, *, file: str | None = None) -> Variant:
    """Check and compile a template being edited, as loading does (same blocks, same fields).

    Not cached, unlike loading: a source typed in an editor is seen once. Raises `BadInput`
    "<file>: line N: message"; `file` defaults to "templates/<play>/<name>.j2".
    """
    return _compile_variant.__wrapped__(play, name, file or f"templates/{play}/{name}.j2", source)


def _compile_block(block: nodes.Block, name: str, file: str) -> Template:
    env = _environment()
    tree = nodes.Template(list(block.body), lineno=1)
    tree.set_environment(env)
    try:
        code = env.compile(tree, name=name, filename=file)
    except TemplateSyntaxError as e:
        _template_fail(file, e.lineno, e.message or "syntax error")
    return env.template_class.from_code(env, code, env.make_globals(None))


def _variant_key(name: str) -> tuple[int, int, str]:
    return (0, int(name), "") if name.isdigit() else (1, 0, name)


def _template_files(root: Traversable) -> Iterator[tuple[str, str, Traversable]]:
    """(play id, variant name, file) for every `templates/<play>/<n>.j2` under `root`."""
    folder = root / "templates"
    if not folder.is_dir():
        return
    for play_dir in sorted(folder.iterdir(), key=lambda t: t.name):
        if not play_dir.is_dir():
            continue
        if not _ID.match(play_dir.name):
            raise BadInput(f'{play_dir}: "{play_dir.name}" is not a play id')
        templates = [t for t in play_dir.iterdir() if t.name.endswith(".j2")]
        for template in sorted(templates, key=lambda t: _variant_key(t.name[:-3])):
            name = template.name[:-3]
            if not _VARIANT_NAME.match(name):
                raise BadInput(f'{template}: "{name}" is not a variant name (like 1, 2, short)')
            yield play_dir.name, name, template


# ------------------------------------------------------------------------------- loading


def _read_folder(
    root: Traversable,
    settings: dict[str, Any],
    plays: list[_PlayDraft],
    variants: dict[str, dict[str, Variant]],
    *,
    user: bool,
    digest: Any,
) -> None:
    yaml_file = root / "playbook.yaml"
    if yaml_file.is_file():
        try:
            text = yaml_file.read_text(encoding="utf-8")
            digest.update(text.encode())
            doc = _Doc(str(yaml_file), text)
        except UnicodeDecodeError:
            raise BadInput(f"{yaml_file}: not UTF-8 text") from None
        top = doc.mapping(doc.data, "", frozenset({"format", "version", "settings", "plays"}))
        for key in ("format", "version", "settings", "plays") if not user else ():
            if key not in top:
                doc.fail("", f"missing {key}")
        if "format" in top and top["format"] != FORMAT:
            doc.fail("format", f'must be "{FORMAT}", not {_show(top["format"])}')
        if "version" in top and top["version"] != VERSION:
            doc.fail("version", f"unghost reads version {VERSION}, not {top['version']!r}")
        if "settings" in top:
            _read_settings(doc, top["settings"], settings, complete=not user)
        if "plays" in top:
            _read_plays(doc, top["plays"], plays, user=user)
    elif not user:
        raise BadInput(f"{yaml_file}: missing")
    ids = {p.fields["id"] for p in plays}
    for play, name, template in _template_files(root):
        if play not in ids:
            raise BadInput(f'{template}: no play "{play}" in the playbook')
        try:
            source = template.read_text(encoding="utf-8")
            digest.update(f"\0{play}/{name}\0{source}".encode())
        except UnicodeDecodeError:
            raise BadInput(f"{template}: not UTF-8 text") from None
        variants.setdefault(play, {})[name] = _compile_variant(play, name, str(template), source)


def load_playbook(user_dir: Path | None = None) -> Playbook:
    """The default playbook, with the user's folder (same form, all optional) laid over it.

    The user's `playbook.yaml` may override settings, change plays by id (fields merged),
    and add plays (`after: <play-id>`, else at the end); its `templates/<play>/<n>.j2` add
    variants or replace the default one of the same name. Raises `BadInput` naming the file,
    line and field of the first mistake.
    """
    settings: dict[str, Any] = {}
    plays: list[_PlayDraft] = []
    variants: dict[str, dict[str, Variant]] = {}
    digest = hashlib.blake2b(digest_size=16)
    _read_folder(
        files("unghost").joinpath("playbook"), settings, plays, variants, user=False, digest=digest
    )
    if user_dir is not None:
        if not user_dir.is_dir():
            raise NotFound(f"{user_dir}: no such playbook folder")
        _read_folder(user_dir, settings, plays, variants, user=True, digest=digest)
    _check_plays(plays, variants)
    silence = SilenceSettings(**settings.pop("silence"))
    return Playbook(
        digest=digest.hexdigest(),
        settings=Settings(**settings, silence=silence),
        plays=tuple(
            Play(
                **p.fields,
                variants=tuple(
                    v
                    for _, v in sorted(
                        variants[p.fields["id"]].items(), key=lambda kv: _variant_key(kv[0])
                    )
                ),
            )
            for p in plays
        ),
    )


# ------------------------------------------------------------------------------- rendering


def _tidy(text: str) -> str:
    # An optional phrase left out leaves two spaces behind; indentation is kept.
    lines = [re.sub(r"(?<=\S) {2,}", " ", line.rstrip()) for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines))


def _render_block(variant: Variant, template: Template, context: Context) -> str:
    try:
        # One context serves every block of the variant: building it is most of the cost.
        try:
            return template.environment.concat(template.root_render_func(context))
        except Exception:
            template.environment.handle_exception()  # template line numbers, as render() has
    except TemplateError as e:
        frames = [
            f.lineno for f in traceback.extract_tb(e.__traceback__) if f.filename == variant.path
        ]
        line = f"line {frames[-1]}: " if frames else ""
        raise BadInput(f"{variant.path}: {line}{e.message or type(e).__name__}") from e


def render(variant: Variant, context: Mapping[str, object]) -> Draft:
    """Render a variant with a context of `FIELDS`; the subject comes out on one line.

    Raises `BadInput` naming the template's file and line when a field it needs is missing.
    """
    shared = variant.body.new_context(dict(context))
    subject = " ".join(_render_block(variant, variant.subject, shared).split())
    body = _tidy(_render_block(variant, variant.body, shared))
    script = None
    if variant.script is not None:
        script = _tidy(_render_block(variant, variant.script, shared)) or None
    return Draft(subject=subject, body=body, script=script)


def sample_context() -> dict[str, object]:
    """A full, realistic context for previews and tests: every field of `FIELDS` is set."""
    text = files("unghost").joinpath("playbook", "sample.yaml").read_text(encoding="utf-8")
    context = yaml.safe_load(text)
    assert isinstance(context, dict) and set(context) == set(FIELDS)
    return context
