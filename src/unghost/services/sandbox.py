"""Trying a template someone is editing: compile, render and tone-check it away from the server.

The playbook's Jinja sandbox keeps a template away from Python's internals, but not from
using all the memory or time there is (`{{ "x" * 10**10 }}`, loops inside loops). So a
template typed into the web editor is tried in a helper process (`python -m
unghost.services.sandbox`, started on first use, with the template code already imported)
which forks one short-lived child per trial, under a memory limit, a CPU limit and a
wall-clock timeout. Whatever a template does, the server gets back a result or a one-line
error, in a few milliseconds. Trials and results cross the pipes as JSON lines.
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import select
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from unghost.domain.playbook import compile_variant, render
from unghost.domain.tone import check_tone
from unghost.errors import BadInput

TIME_LIMIT = 3.0  # seconds of wall clock for one trial
MEMORY_LIMIT = 768 << 20  # bytes of address space for a trial's child
MAX_OUTPUT = 50_000  # characters of a rendered block
HELPERS = 2  # trials at once; more wait for a free helper
_WAIT = 10.0  # seconds a trial waits for a free helper
_MARGIN = 5.0  # seconds a helper may take beyond the time limit before it is replaced


@dataclass(frozen=True)
class Trial:
    """One template to try: its play and name, its source, the context, the tone rule."""

    play: str
    name: str
    source: str
    context: Mapping[str, Any] = field(default_factory=dict)
    pressure_ok: bool = False
    needs_script: bool = False

    @property
    def file(self) -> str:
        return f"templates/{self.play}/{self.name}.j2"


@dataclass(frozen=True)
class Outcome:
    """What a trial rendered, or the one-line error ("line N: …") that stopped it."""

    subject: str = ""
    body: str = ""
    script: str | None = None
    warnings: tuple[str, ...] = ()
    error: str | None = None


def attempt(trial: Trial) -> Outcome:
    """Compile, render and tone-check `trial` where it cannot harm the server."""
    try:
        helper = _pool().get(timeout=_WAIT)
    except queue.Empty:
        return Outcome(error="too many previews at once: try again in a moment")
    try:
        return helper.ask(trial)
    finally:
        _pool().put(helper)


def run(trial: Trial) -> Outcome:
    """The trial itself, in this process (the helper's child runs it; so may tests)."""
    try:
        variant = compile_variant(trial.play, trial.name, trial.source, file=trial.file)
        if trial.needs_script and variant.script is None:
            return Outcome(error="line 1: this play needs a {% block script %} (what to say)")
        draft = render(variant, trial.context)
    except BadInput as exc:
        return Outcome(error=_one_line(exc.message.removeprefix(f"{trial.file}: ")))
    except MemoryError:
        return Outcome(error="the template needs more memory than a message may use")
    except RecursionError:
        return Outcome(error="the template nests too deeply")
    except Exception as exc:  # an expression that fails, like {{ 1 + "a" }}
        frames = traceback.extract_tb(exc.__traceback__)
        lines = [f.lineno for f in frames if f.filename == trial.file]
        where = f"line {lines[-1]}: " if lines else ""
        return Outcome(error=f"{where}{type(exc).__name__}: {_one_line(str(exc))}")
    for text in (draft.subject, draft.body, draft.script or ""):
        if len(text) > MAX_OUTPUT:
            return Outcome(error=f"the message renders to more than {MAX_OUTPUT:,} characters")
    warnings = check_tone(draft.subject, draft.body, pressure_ok=trial.pressure_ok)
    return Outcome(draft.subject, draft.body, draft.script, tuple(warnings))


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 300 else text[:299] + "…"


# -- the server's side: a few helper processes ------------------------------------------


class _Helper:
    """One helper process, started when first asked, replaced when it misbehaves."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None

    def ask(self, trial: Trial) -> Outcome:
        try:
            process = self._running()
            assert process.stdin is not None and process.stdout is not None
            process.stdin.write(json.dumps(_trial_json(trial)).encode() + b"\n")
            process.stdin.flush()
            line = _read_line(process.stdout, TIME_LIMIT + _MARGIN)
        except OSError:
            line = None
        if not line:
            self.stop()
            return Outcome(error="the preview could not run: try again")
        return _outcome(json.loads(line))

    def _running(self) -> subprocess.Popen[bytes]:
        if self._process is None or self._process.poll() is not None:
            self.stop()
            root = str(Path(__file__).resolve().parents[2])
            path = os.environ.get("PYTHONPATH")
            env = {**os.environ, "PYTHONPATH": root + (os.pathsep + path if path else "")}
            self._process = subprocess.Popen(
                [sys.executable, "-m", __name__],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=env,
            )
        return self._process

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        for pipe in (process.stdin, process.stdout):
            if pipe is not None:
                pipe.close()
        if process.poll() is None:
            process.kill()
        process.wait()


def _read_line(stream: IO[bytes], timeout: float) -> bytes | None:
    """One line from the helper, or None when it says nothing in time."""
    ready, _, _ = select.select([stream], [], [], timeout)
    return stream.readline() if ready else None


_helpers: queue.LifoQueue[_Helper] | None = None
_helpers_lock = threading.Lock()


def _pool() -> queue.LifoQueue[_Helper]:
    global _helpers
    with _helpers_lock:
        if _helpers is None:
            _helpers = queue.LifoQueue()
            made = [_Helper() for _ in range(HELPERS)]
            for helper in made:
                _helpers.put(helper)
            atexit.register(_stop_all, made)
        return _helpers


def _stop_all(helpers: list[_Helper]) -> None:
    for helper in helpers:
        helper.stop()


def _trial_json(trial: Trial) -> dict[str, Any]:
    return {**asdict(trial), "context": dict(trial.context)}


def _outcome(data: dict[str, Any]) -> Outcome:
    return Outcome(
        subject=str(data.get("subject") or ""),
        body=str(data.get("body") or ""),
        script=data.get("script"),
        warnings=tuple(str(w) for w in data.get("warnings") or ()),
        error=data.get("error"),
    )


# -- the helper's side: one forked child per trial -----------------------------------------


def serve(inbox: IO[bytes], outbox: IO[bytes]) -> None:  # pragma: no cover - a subprocess
    """Answer each trial line on `inbox` with an outcome line on `outbox`, until EOF."""
    for line in inbox:
        try:
            trial = Trial(**json.loads(line))
            answer = asdict(_forked(trial))
        except Exception as exc:  # a malformed line: answer, never die
            answer = asdict(Outcome(error=f"the preview could not run: {type(exc).__name__}"))
        outbox.write(json.dumps(answer).encode() + b"\n")
        outbox.flush()


def _forked(trial: Trial) -> Outcome:  # pragma: no cover - runs in the helper
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: limits first, then the template
        code = 1
        try:
            os.close(read)
            _limit()
            data = json.dumps(asdict(run(trial))).encode()
            with os.fdopen(write, "wb") as out:
                out.write(data)
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    chunks: list[bytes] = []
    deadline = time.monotonic() + TIME_LIMIT
    finished = False
    with os.fdopen(read, "rb", buffering=0) as source:
        while not finished and (left := deadline - time.monotonic()) > 0:
            if not select.select([source], [], [], left)[0]:
                break
            chunk = source.read(65536)
            finished = not chunk
            chunks.append(chunk)
    if not finished:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return Outcome(error=f"the template takes longer than {TIME_LIMIT:g} seconds to render")
    _, status = os.waitpid(pid, 0)
    if status != 0 or not b"".join(chunks):
        return Outcome(error="the template needs more memory or time than a message may use")
    return _outcome(json.loads(b"".join(chunks)))


def _limit() -> None:  # pragma: no cover - runs in the child
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    cpu = int(TIME_LIMIT) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))


if __name__ == "__main__":  # pragma: no cover - the helper process
    serve(sys.stdin.buffer, sys.stdout.buffer)
