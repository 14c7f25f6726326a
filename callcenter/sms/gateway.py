"""Kannel on loopback: bearerbox, smsbox and the fake SMSC (``kannel-extras``) for the tests and
the demo, started the way PostgreSQL is for the tests — generated configuration in a private
directory, free ports, real processes.

:class:`KannelGateway` starts the three; ``phone`` is the fake SMSC's side of the line: it reads
what the handsets received (:meth:`FakePhone.messages`, concatenated parts joined, UCS-2 decoded)
and lets a handset reply (:meth:`FakePhone.reply`, e.g. ``TD``), which smsbox posts to the
hotline's ``/sms/mo``.  The boxes log at warning level: their info lines carry numbers.  Production points ``sms.sendsms_url`` at a real Kannel instead.
"""
from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from callcenter.errors import HotlineError

BEARERBOX = "/usr/sbin/bearerbox"
SMSBOX = "/usr/sbin/smsbox"
FAKESMSC = "/usr/lib/kannel/test/fakesmsc"
SHORT_CODE = "12345"
_GOT = re.compile(r"Got message \d+: <(.*)>\s*$")


class GatewayError(HotlineError, RuntimeError):
    """Kannel could not be started (not installed, a box died, a port never opened)."""

    error_id = "sms.gateway_down"
    http_status = 503


def installed() -> bool:
    return all(os.access(p, os.X_OK) for p in (BEARERBOX, SMSBOX, FAKESMSC))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Handset:
    """One message as the fake SMSC saw it."""

    sender: str
    receiver: str
    text: str


def _decode_line(line: str) -> tuple[str, str, str | None, str]:
    """``sender receiver`` then ``text T`` / ``ucs-2 HEX`` / ``data URL`` / ``udh UDH data URL``:
    sender, receiver, the UDH bytes (hex) or None, and the text."""
    sender, receiver, kind, rest = (line.split(" ", 3) + ["", ""])[:4]
    udh = None
    if kind == "udh":
        udh_raw, _, rest = rest.partition(" data ")
        udh = urllib.parse.unquote_to_bytes(udh_raw).hex()
        kind = "ucs-2"
    if kind in ("ucs-2", "data"):
        raw = urllib.parse.unquote_to_bytes(rest.replace("+", "%20"))  # Kannel writes a space byte as +
        text = raw.decode("utf-16-be", "replace") if kind == "ucs-2" else raw.decode("utf-8", "replace")
    else:
        text = rest
    return sender, receiver, udh, text


class FakePhone:
    """The handsets' side: what the fake SMSC received, and replies sent back through it."""

    def __init__(self, process: subprocess.Popen, log: Path):
        self.process = process
        self.log = log

    def lines(self) -> list[str]:
        if not self.log.exists():
            return []
        return [m.group(1) for m in map(_GOT.search, self.log.read_text("utf-8", "replace").splitlines()) if m]

    def messages(self) -> list[Handset]:
        """Every message received so far, multi-part ones joined (UDH concatenation, 8-bit ref)."""
        out: list[Handset] = []
        parts: dict[tuple, dict[int, str]] = {}
        for line in self.lines():
            sender, receiver, udh, text = _decode_line(line)
            if udh and udh.startswith("050003"):  # IEI 0 (concatenated, 8-bit ref): ref, total, seq
                ref, total, seq = int(udh[6:8], 16), int(udh[8:10], 16), int(udh[10:12], 16)
                key = (sender, receiver, ref, total)
                parts.setdefault(key, {})[seq] = text
                if len(parts[key]) == total:
                    got = parts.pop(key)
                    out.append(Handset(sender, receiver, "".join(got[i] for i in range(1, total + 1))))
            else:
                out.append(Handset(sender, receiver, text))
        return out

    def poke(self) -> None:
        """The fake SMSC reads the line only between waits on its input: an empty line wakes it."""
        if self.process.poll() is None:
            self.process.stdin.write(b"\n")
            self.process.stdin.flush()

    def to(self, number: str) -> list[str]:
        self.poke()
        return [m.text for m in self.messages() if m.receiver == number]

    def wait_for(self, number: str, pattern: str, timeout: float = 20.0) -> re.Match:
        """Block until a message to ``number`` matches ``pattern`` (for tests run in a thread)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for text in self.to(number):
                found = re.search(pattern, text)
                if found:
                    return found
            time.sleep(0.2)
        raise AssertionError(f"no SMS to {number} matching {pattern!r} within {timeout}s; got {self.to(number)}")

    def reply(self, number: str, text: str, to: str = SHORT_CODE) -> None:
        """A handset sends ``text`` (ASCII) to the hotline's short code."""
        self.process.stdin.write(f"{number} {to} text {text}\n".encode("ascii"))
        self.process.stdin.flush()


class KannelGateway:
    """bearerbox + smsbox + fake SMSC on 127.0.0.1 with a generated configuration."""

    def __init__(self, mo_url: str, *, workdir: str | None = None, black_list_regex: str | None = None):
        if not installed():
            raise GatewayError("Kannel is not installed: apt-get install kannel kannel-extras")
        self.dir = Path(workdir or tempfile.mkdtemp(prefix="kannel-"))
        self.own_dir = workdir is None
        self.mo_url = mo_url
        self.black_list_regex = black_list_regex
        self.admin_port, self.smsbox_port, self.fake_port, self.sendsms_port = (free_port() for _ in range(4))
        self.admin_password = secrets.token_hex(8)
        self.username = "hotline"
        self.password = secrets.token_hex(8)
        self.procs: dict[str, subprocess.Popen] = {}
        self.phone: FakePhone | None = None

    @property
    def sendsms_url(self) -> str:
        return f"http://127.0.0.1:{self.sendsms_port}/cgi-bin/sendsms"

    def config_text(self) -> str:
        black = f'black-list-regex = "{self.black_list_regex}"\n' if self.black_list_regex else ""
        return f"""group = core
admin-port = {self.admin_port}
admin-password = {self.admin_password}
admin-interface = 127.0.0.1
admin-allow-ip = 127.0.0.1
smsbox-port = {self.smsbox_port}
smsbox-interface = 127.0.0.1
box-allow-ip = 127.0.0.1
log-file = "{self.dir}/bearerbox.log"
log-level = 2
dlr-storage = internal

group = smsc
smsc = fake
smsc-id = fake
port = {self.fake_port}
our-host = 127.0.0.1
connect-allow-ip = 127.0.0.1

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {self.smsbox_port}
sendsms-port = {self.sendsms_port}
sendsms-interface = 127.0.0.1
log-file = "{self.dir}/smsbox.log"
log-level = 2

group = sendsms-user
username = {self.username}
password = {self.password}
max-messages = 5
concatenation = true
user-allow-ip = 127.0.0.1
{black}
group = sms-service
keyword = default
catch-all = true
max-messages = 0
omit-empty = true
get-url = "{self.mo_url}{'&' if '?' in self.mo_url else '?'}from=%p&to=%P&text=%a"
"""

    def _spawn(self, name: str, argv: list[str], **kw) -> subprocess.Popen:
        log = open(self.dir / f"{name}.out", "ab")
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=self.dir, start_new_session=True,
                                **kw)
        log.close()
        self.procs[name] = proc
        return proc

    def _wait(self, what: str, ready, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise GatewayError(f"{name} exited ({proc.returncode}) while waiting for {what}; "
                                       f"see {self.dir}")
            if ready():
                return
            time.sleep(0.1)
        raise GatewayError(f"{what} not ready within {timeout}s; see {self.dir}")

    def status(self) -> str:
        url = f"http://127.0.0.1:{self.admin_port}/status.txt?password={self.admin_password}"
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.read().decode("utf-8", "replace")

    def _smsc_online(self) -> bool:
        try:
            return bool(re.search(r"fake\[fake\].*online", self.status()))
        except OSError:
            return False

    def start(self) -> "KannelGateway":
        conf = self.dir / "kannel.conf"
        conf.write_text(self.config_text(), "utf-8")
        self._spawn("bearerbox", [BEARERBOX, str(conf)])
        self._wait("bearerbox", lambda: _open(self.admin_port) and _open(self.fake_port))
        self.start_phone()
        self.start_smsbox()
        return self

    def start_phone(self) -> FakePhone:
        log = self.dir / "fakesmsc.out"
        proc = self._spawn("fakesmsc", [FAKESMSC, "-H", "127.0.0.1", "-r", str(self.fake_port), "-v", "0"],
                           stdin=subprocess.PIPE)
        self.phone = FakePhone(proc, log)
        self._wait("fake SMSC", self._smsc_online)
        return self.phone

    def start_smsbox(self) -> None:
        self._spawn("smsbox", [SMSBOX, str(self.dir / "kannel.conf")])
        self._wait("smsbox", lambda: _open(self.sendsms_port))

    def stop_box(self, name: str) -> None:
        """Stop one process (a test takes smsbox down to see retries)."""
        proc = self.procs.pop(name, None)
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if name == "fakesmsc" and proc.stdin:
            proc.stdin.close()

    def stop(self) -> None:
        for name in ("smsbox", "fakesmsc", "bearerbox"):
            self.stop_box(name)
        if self.own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
