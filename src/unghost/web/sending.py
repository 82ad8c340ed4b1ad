"""Sending from the web app: a step the seller sends goes through the same outbox as the
worker's (exactly once, crash-safe), in one background pass started at once, so the seller
does not wait for `unghost worker`'s next poll."""

from __future__ import annotations

import logging
import threading

from unghost.services.send import Sender
from unghost.store.liveness import worker_lock
from unghost.web.context import Web
from unghost.worker import Worker, ehlo_name

log = logging.getLogger(__name__)


def send_soon(app: Web) -> threading.Thread:
    """Start one sending pass in the background; passes never overlap within one app."""
    thread = threading.Thread(target=_pass, args=(app,), name="unghost-web-send", daemon=True)
    thread.start()
    return thread


def _pass(app: Web) -> None:
    with app.send_lock:
        try:
            with worker_lock(app.engine) as lock:
                sender = Sender(
                    app.engine,
                    app.settings,
                    lock,
                    app.key,
                    app.playbook,
                    local_hostname=ehlo_name(),
                )
                Worker(app.engine, app.settings, sender, app.clock).run_pass(replan=False)
        except Exception:
            log.exception("sending from the web app failed; the worker will try again")
