"""What the command modules share: the consoles, JSON output, and the root context's shape.

cli.py builds the context object (settings, an engine made on first use, the playbook);
the sub-command modules (cli_mail, cli_users, cli_reply) reach it through `shell(ctx)`.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any, Protocol, cast

import orjson
import typer
from rich.console import Console
from sqlalchemy import Engine

from unghost.domain.playbook import Playbook
from unghost.settings import Settings

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]


class Shell(Protocol):
    """What cli.py's context object gives a command."""

    settings: Settings

    @property
    def engine(self) -> Engine: ...

    @property
    def playbook(self) -> Playbook: ...

    def write(self) -> Any: ...


def shell(ctx: typer.Context) -> Shell:
    """The root context object of this command line."""
    return cast(Shell, ctx.find_root().obj)


def print_json(value: Any) -> None:
    """Indented JSON on stdout."""
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")
