"""Real mail servers for the tests, each on a free loopback port: aiosmtpd and Dovecot.

- `smtp_server()` runs an aiosmtpd SMTP server whose `Sink` keeps what arrives (the
  count is taken on the server's side), can refuse chosen recipients with chosen codes,
  can log in users, and can run a hook before it answers a message (to file it in a
  Sent folder, as Gmail does, or to hold it).
- `dovecot_server()` runs Debian's Dovecot IMAP server with its own configuration in a
  temp dir (TESTSERVERS.md): one user, plaintext login on loopback, a `Sent` mailbox.
"""

from __future__ import annotations

import imaplib
import logging
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from servers import free_port

DOVECOT = Path("/usr/sbin/dovecot")
DOVECOT_MISSING = "Dovecot is not installed: run scripts/install-test-deps (make test does)"


# --- SMTP ------------------------------------------------------------------------------------


@dataclass
class Arrival:
    """One message the server accepted."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    at: float  # time.time() when it was accepted

    @property
    def message(self) -> EmailMessage:
        msg = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        return msg

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"]).strip()


@dataclass
class Sink:
    """aiosmtpd handler: keeps what arrives; answers chosen refusals."""

    arrivals: list[Arrival] = field(default_factory=list)
    # recipient address -> (stage "rcpt" or "data", reply line such as "451 4.7.1 Later")
    refuse: dict[str, tuple[str, str]] = field(default_factory=dict)
    # Called with each accepted message before the server answers 250.
    on_accept: Callable[[Arrival], None] | None = None
    users: dict[str, str] = field(default_factory=dict)
    refused: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self) -> int:
        with self.lock:
            return len(self.arrivals)

    def message_ids(self) -> list[str]:
        with self.lock:
            return [a.message_id for a in self.arrivals]

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        rule = self.refuse.get(address.lower())
        if rule is not None and rule[0] == "rcpt":
            self.refused.append((address, rule[1]))
            return rule[1]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        for address in envelope.rcpt_tos:
            rule = self.refuse.get(address.lower())
            if rule is not None and rule[0] == "data":
                self.refused.append((address, rule[1]))
                return rule[1]
        arrival = Arrival(
            envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content), time.time()
        )
        with self.lock:  # taken: whatever happens next, this message reached the server
            self.arrivals.append(arrival)
        if self.on_accept is not None:
            self.on_accept(arrival)
        return "250 2.0.0 OK: queued"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            user, password = auth_data.login.decode(), auth_data.password.decode()
            if self.users.get(user) == password:
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    sink: Sink


@contextmanager
def smtp_server(users: dict[str, str] | None = None) -> Iterator[SmtpServer]:
    """An SMTP server on a free loopback port; AUTH PLAIN/LOGIN without TLS on loopback."""
    # aiosmtpd logs a deprecation notice of its own on every login.
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    sink = Sink(users=dict(users or {}))
    controller = Controller(
        sink,
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=sink.authenticate,
        auth_require_tls=False,
        auth_required=False,
        ready_timeout=10,
    )
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", controller.port, sink)
    finally:
        controller.stop()


# --- IMAP (Dovecot) --------------------------------------------------------------------------

_DOVECOT_CONF = """\
protocols = imap
listen = 127.0.0.1
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
info_log_path = {base}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{base}/mail/%u
mail_uid = nobody
mail_gid = nogroup
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {base}/passwd
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={base}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    special_use = \\Sent
    auto = create
  }}
}}
"""


@dataclass(frozen=True)
class ImapAccount:
    """One user of the test Dovecot."""

    host: str
    port: int
    user: str
    password: str

    def connect(self) -> imaplib.IMAP4:
        imap = imaplib.IMAP4(self.host, self.port, timeout=10)
        imap.login(self.user, self.password)
        return imap

    def message_ids(self, folder: str = "Sent") -> list[str]:
        """The Message-ID of every message in the folder, in order."""
        imap = self.connect()
        try:
            imap.select(f'"{folder}"', readonly=True)
            _, data = imap.uid("SEARCH", "ALL")
            uids = data[0].split() if data and data[0] else []
            out = []
            for uid in uids:
                _, parts = imap.uid("FETCH", uid, "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
                header = parts[0][1] if parts and isinstance(parts[0], tuple) else b""
                msg = message_from_bytes(header, policy=policy.default)
                out.append(str(msg["Message-ID"]).strip())
            return out
        finally:
            imap.logout()

    def append(self, raw: bytes, folder: str = "Sent") -> None:
        """File a message, as a provider that keeps what it sends does."""
        imap = self.connect()
        try:
            status, data = imap.append(f'"{folder}"', r"(\Seen)", None, raw)
            assert status == "OK", data
        finally:
            imap.logout()


USERS = 500
PASSWORD = "imap-secret"


@dataclass
class Dovecot:
    """A running Dovecot; `account()` hands out a fresh user with an empty mailbox."""

    host: str
    port: int
    base: Path
    used: int = 0

    def account(self) -> ImapAccount:
        # The users exist from the start: Dovecot may miss a passwd-file changed twice a second.
        self.used += 1
        assert self.used <= USERS, "more IMAP users than the test Dovecot was made with"
        return ImapAccount(self.host, self.port, f"user{self.used}@mail.example", PASSWORD)


@contextmanager
def dovecot_server() -> Iterator[Dovecot]:
    """Dovecot on a free loopback port; stopped and removed after."""
    if not DOVECOT.exists():
        raise RuntimeError(DOVECOT_MISSING)
    base = Path(tempfile.mkdtemp(prefix="unghost-dovecot-"))
    os.chmod(base, 0o755)  # Dovecot's own processes run as other users
    mail = base / "mail"
    mail.mkdir()
    if os.geteuid() == 0:
        shutil.chown(mail, user="nobody", group="nogroup")
    (base / "passwd").write_text(
        "".join(f"user{i}@mail.example:{{PLAIN}}{PASSWORD}\n" for i in range(1, USERS + 1))
    )
    conf = base / "dovecot.conf"
    started = False
    try:
        for _ in range(3):
            port = free_port()
            conf.write_text(_DOVECOT_CONF.format(base=base, port=port))
            # The daemon keeps its output open: read it from a file, not a pipe.
            with open(base / "start.out", "w+") as output:
                result = subprocess.run(
                    [str(DOVECOT), "-c", str(conf)],
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    check=False,
                )
            if result.returncode == 0 and _wait_for_port(port):
                started = True
                break
            _stop_dovecot(conf)
        if not started:
            log = (base / "dovecot.log").read_text() if (base / "dovecot.log").exists() else ""
            said = (base / "start.out").read_text()
            raise RuntimeError(f"Dovecot did not start: {said}\n{log}")
        yield Dovecot("127.0.0.1", port, base)
    finally:
        if started:
            _stop_dovecot(conf)
            _wait_for_exit(base / "run" / "master.pid")
        shutil.rmtree(base, ignore_errors=True)


def _stop_dovecot(conf: Path) -> None:
    subprocess.run(
        [str(DOVECOT), "-c", str(conf), "stop"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )


def _wait_for_port(port: int, timeout: float = 10.0) -> bool:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                return sock.recv(64).startswith(b"* OK")
        except OSError:
            time.sleep(0.05)
    return False


def _wait_for_exit(pid_file: Path, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
