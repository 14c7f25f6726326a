"""`callcenter demo` (subprocess) feeds its CallTracker: /api/v1/calls lists the simulated callers as the
ACD routes them, numbers masked, and the demo still stops cleanly on Ctrl-C."""
from __future__ import annotations

import json
import re
import signal
import time

from tests.demo.test_demo import _get, _start, _token, _until_started


def test_demo_lists_live_calls_with_the_acds_side(tmp_path):
    """Within a minute of starting, a live call shows its phase, a masked number and the hotline ACD's
    queue and routing state (the demo routes in AsyncAGI, not with Asterisk's Queue())."""
    proc = _start(tmp_path, "--rate", "600")
    lines: list[str] = []
    seen = []
    try:
        web = _until_started(proc, lines)
        token = _token(web, "supervisor")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not seen:
            status, body = _get(f"{web}/api/v1/calls", token)
            assert status == 200
            seen = [c for c in json.loads(body)["items"] if c["acd_state"] and c["caller"]]
            time.sleep(0.5)  # a real subprocess on the wall clock: nothing to inject a clock into
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=90)
        lines.extend(out.splitlines(keepends=True))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert seen, "no routed call listed: " + "".join(lines[-20:])
    call = seen[0]
    assert re.fullmatch(r"\d{3}\*{4}\d{4}", call["caller"]) and call["queue"]
    assert call["phase"] in ("ivr", "ringing", "talking", "answered") and call["hotline_callid"]
    assert proc.returncode == 0, "".join(lines[-20:])
