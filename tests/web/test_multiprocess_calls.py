"""The pages fed by the calls on a web process that does not drive them (issue 16 item 6).

Process A is the production :class:`~callcenter.app.Hotline` (``role="calls"``): AMI over TCP to the PBX
simulator, IVR, ACD, call tracker, web.  Process B is the same composition root with ``role="web"``
(``[serve] role = "web"``): web pages and APIs only.  They share nothing but PostgreSQL: B's desk,
supervisor, wallboard and live-calls pages work through :mod:`callcenter.web.pgcalls` (the leader's live
frames copied over LISTEN/NOTIFY, requests relayed through a table and run once by the leader).
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import pytest_twisted

from tests.web.conftest import PASSWORD, Client
from tests.web.conftest import test_config as web_config
from tests.web.test_multiprocess import Reader, eventually

pytestmark = pytest.mark.postgres

CALLER = "13912345678"
MASKED = "139****5678"


def _config(pg_url, ami_port, tmp_path, group):
    return web_config(pg_url).with_overrides({
        "ami.host": "127.0.0.1", "ami.port": ami_port, "web.host": "127.0.0.1", "web.port": 0,
        "asr.model": "off", "asr.audiosocket_port": 0, "search.path": str(tmp_path / "search.sqlite3"),
        "ivr.answer_hours": ["00:00-23:59"], "ivr.recordings_dir": str(tmp_path / "rec"),
        "calendar.work_start": "00:00", "calendar.work_end": "23:59", "calendar.lunch_start": "",
        "calendar.lunch_end": "", "failover.group": group, "serve.controller_timeout": 1.0,
        "routing.wrap_up_seconds": 1, "routing.ring_timeout": 20,
        "routing.agents": [{"id": "agent1", "device": "PJSIP/2001", "skills": {"general": 80, "urgent": 80}}],
    })


def _working_today(pg_url):
    from callcenter.db import make_engine
    from ticketing.calendar_data import set_override

    engine = make_engine(pg_url)
    today = datetime.now(timezone.utc).astimezone(ZoneInfo("Asia/Shanghai")).date()
    for day in (today, today + timedelta(days=1)):
        set_override(engine, day, True, "relay test")
    return engine


def _csrf(html: str) -> str:
    return re.search(r'data-csrf="([^"]+)"', html).group(1)


def _form_csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _pending(engine) -> int:
    from sqlalchemy import func, select

    from callcenter.web.pgcalls import calls_relay_requests

    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(calls_relay_requests)).scalar_one()


async def _processes(reactor, config):
    """A (drives the calls) and B (web only), both listening, and their bases."""
    from callcenter.app import Hotline

    a = await Hotline(reactor, config).start()
    b = await Hotline(reactor, config, role="web").start()
    await a.parts["calls_relay"].service.when_listening()
    await b.parts["calls_relay"].service.when_listening()
    await eventually(lambda: a.ami.ready, 20, "A logged in over AMI")
    return a, b


def _base(hotline) -> str:
    return f"http://127.0.0.1:{hotline.web_port.getHost().port}"


@pytest_twisted.ensureDeferred
async def test_an_agent_and_a_supervisor_on_web_process_b_see_and_steer_calls_driven_by_process_a(pg_url, tmp_path):
    """An agent signed in through B (which drives no calls) logs in and sets ready through B; a citizen calls
    the simulator; B's desk stream shows the ringing and connected call exactly as A's does (the same frames,
    the same number policy) and the live transcript's lines; a supervisor on B sees the live call (number masked) and the agent, B's wallboard
    shows the queue and agent figures; listen and hang-up through B are each run once by A."""
    from twisted.internet import reactor

    from callcenter.pbxsim import CallerScript
    from callcenter.pbxsim.simulator import PBXSimulator
    from callcenter.routing.agent import AgentState

    engine = _working_today(pg_url)
    sim = PBXSimulator(reactor, speed=1.0, spool_dir=tmp_path / "spool")
    sim.add_device("PJSIP/2001", answer_after=1.0)
    sim.add_device("PJSIP/9001", answer_after=0.5)
    port = await sim.listen(0)
    a = b = None
    readers: list[Reader] = []
    try:
        a, b = await _processes(reactor, _config(pg_url, port.getHost().port, tmp_path, "relay-1"))
        host, relay = a.parts["calls_relay"].service, b.parts["calls_relay"].service
        auth = b.web_root.deps.auth
        now = datetime.now(timezone.utc)
        auth.add_user("agent1", PASSWORD, "agent", now)
        auth.add_user("sup1", PASSWORD, "supervisor", now, device="PJSIP/9001")

        agent = Client(_base(b))
        assert (await agent.login("agent1")).status == 303          # signed in on B
        page = await agent.get("/agent")                             # rendered by A, through B
        assert page.status == 200 and "坐席工作台" in page.text, page.status
        token = {"X-CSRF-Token": _csrf(page.text)}
        desk_b = await Reader().open(_base(b), "/agent/events", agent.cookies)
        desk_a = await Reader().open(_base(a), "/agent/events", agent.cookies)   # the same browser on A
        readers += [desk_b, desk_a]

        before = host.executed
        logged_in = await agent.post("/agent/api/state", json={"action": "login"}, headers=token)
        assert logged_in.status == 200 and logged_in.json["state"] == "paused", logged_in.body
        ready = await agent.post("/agent/api/state", json={"action": "ready"}, headers=token)
        assert ready.status == 200 and ready.json["state"] == "ready", ready.body
        assert host.executed - before == 2 and a.acd.sessions["agent1"].state is AgentState.READY
        assert _pending(engine) == 0  # answered rows are deleted (no cookie stays at rest)

        sup = Client(_base(b))
        assert (await sup.login("sup1")).status == 303
        board_b = await Reader().open(_base(b), "/wallboard/events", sup.cookies)
        calls_b = await Reader().open(_base(b), "/supervisor/calls/events", sup.cookies)
        readers += [board_b, calls_b]

        caller = sim.dial_in(CALLER, script=CallerScript(keys=["1", "0"], key_delay=0.3))
        await eventually(lambda: any(e == "connected" for e, _ in desk_b.frames), 40, "the call connected on B's desk")
        ringing = [d for e, d in desk_b.frames if e == "ringing"]
        assert ringing and ringing[0]["queue"], desk_b.frames
        await eventually(lambda: [f for f in desk_a.frames if f[0] != "state"][:2] ==
                         [f for f in desk_b.frames if f[0] != "state"][:2], 5, "A's desk frames")
        assert [f for f in desk_b.frames if f[0] in ("ringing", "connected")] == \
            [f for f in desk_a.frames if f[0] in ("ringing", "connected")]

        calls_api_b = await sup.get("/api/v1/calls")
        calls_api_a = await Client(_base(a), cookies=dict(sup.cookies)).get("/api/v1/calls")
        assert calls_api_b.status == 200, calls_api_b.body
        row_b = next(r for r in calls_api_b.json["items"] if r["agent"] == "agent1")
        row_a = next(r for r in calls_api_a.json["items"] if r["agent"] == "agent1")
        assert row_b["caller"] == row_a["caller"] == MASKED
        assert {k: v for k, v in row_b.items() if k != "waited_seconds"} == \
            {k: v for k, v in row_a.items() if k != "waited_seconds"}
        await eventually(lambda: any(MASKED in json.dumps(body) for e, body in calls_b.frames if e == "calls"), 10,
                         "the call on B's live-calls stream")
        assert CALLER not in json.dumps(calls_b.frames) and CALLER not in calls_api_b.text
        supervisor_page = await sup.get("/supervisor")
        assert supervisor_page.status == 200 and "agent1" in supervisor_page.text
        assert "on_call" in supervisor_page.text or "通话" in supervisor_page.text

        await eventually(lambda: any(body["totals"]["offered"] >= 1 and body["agents"]["by_state"].get("on_call") == 1
                                     for e, body in board_b.frames if e == "wallboard"), 10,
                         "queue and agent figures on B's wallboard stream")
        board_api = await sup.get("/api/v1/wallboard")
        assert board_api.status == 200 and board_api.json["totals"]["offered"] >= 1
        assert board_api.json["agents"]["by_state"]["on_call"] == 1

        spies_before = sum(1 for name in sim.created_channels if name.startswith("PJSIP/9001"))
        before = host.executed
        listened = await sup.post("/supervisor/agents/agent1/listen",
                                  data={"csrf_token": _form_csrf(supervisor_page.text)})
        assert listened.status == 303 and "done=1" in (listened.header("location") or ""), listened.body
        assert host.executed - before == 1
        await eventually(lambda: sum(1 for n in sim.created_channels if n.startswith("PJSIP/9001")) == spies_before + 1,
                         10, "the supervisor's phone rung once")

        # a live transcript line, as the speech service hands it to A's desk, reaches the desk on B
        call_id = ringing[0]["call_id"]
        desk = a.web_root.deps.extras["desk"]
        desk.attach_speech("stream-1", call_id)
        desk.on_final("stream-1", "小区路灯坏了三天")
        await eventually(lambda: any(e == "transcript" and d.get("final") == "小区路灯坏了三天" and d["call_id"] == call_id
                                     for e, d in desk_b.frames), 10, "the transcript line on B's desk stream")

        hung = await agent.post("/agent/api/hangup", json={}, headers=token)
        assert hung.status == 200 and hung.json == {"hung_up": True}, hung.body
        await eventually(lambda: caller.hungup, 10, "the caller hung up by the desk on B")
        await eventually(lambda: any(e == "ended" for e, _ in desk_b.frames), 10, "the end on B's desk stream")
        assert relay.frames_read > 0 and relay.refused == 0 and _pending(engine) == 0
    finally:
        for reader in readers:
            reader.close()
        for hotline in (b, a):
            if hotline is not None and hotline.parts:
                await hotline.stop()
        for ch in list(sim.channels.values()):
            if not ch.hungup:
                sim.hangup(ch, 16)
        await port.stopListening()
        engine.dispose()


@pytest_twisted.ensureDeferred
async def test_without_a_controller_b_answers_503_changes_nothing_and_follows_the_next_one(pg_url, tmp_path):
    """A stops (no process drives the calls): a state change through B is 503 ``calls.controller_unavailable``
    and is withdrawn, so the next controller never runs it; the desk page says so in both languages; once a
    new controller runs (the leader changed) the same request through B works."""
    from twisted.internet import reactor, task

    from callcenter.app import Hotline
    from callcenter.pbxsim.simulator import PBXSimulator
    from callcenter.routing.agent import AgentState

    engine = _working_today(pg_url)
    sim = PBXSimulator(reactor, speed=1.0, spool_dir=tmp_path / "spool")
    sim.add_device("PJSIP/2001", answer_after=1.0)
    port = await sim.listen(0)
    config = _config(pg_url, port.getHost().port, tmp_path, "relay-2")
    a = b = a2 = None
    try:
        a, b = await _processes(reactor, config)
        b.web_root.deps.auth.add_user("agent1", PASSWORD, "agent", datetime.now(timezone.utc))
        agent = Client(_base(b))
        assert (await agent.login("agent1")).status == 303
        token = {"X-CSRF-Token": _csrf((await agent.get("/agent")).text)}
        assert (await agent.post("/agent/api/state", json={"action": "login"}, headers=token)).status == 200

        await a.stop()
        refused = await agent.post("/agent/api/state", json={"action": "ready"}, headers=token)
        assert refused.status == 503 and refused.json["error_id"] == "calls.controller_unavailable", refused.body
        assert refused.header("retry-after") == "5"
        zh = await agent.get("/agent")
        en = await agent.get("/agent?lang=en")
        assert zh.status == en.status == 503
        assert "话务控制进程暂不可用" in zh.text and "call controller is not available" in en.text
        stream = await agent.get("/agent/events")
        assert stream.status == 503 and stream.json["error_id"] == "calls.controller_unavailable", stream.body
        assert _pending(engine) == 0  # withdrawn: nothing is left for a later controller to run
        health = await agent.get("/healthz")
        assert health.status == 200 and health.json["role"] == "web"

        a2 = await Hotline(reactor, config).start()   # the next leader
        await a2.parts["calls_relay"].service.when_listening()
        await eventually(lambda: a2.ami.ready, 20, "the new controller logged in")
        await task.deferLater(reactor, 1.5, lambda: None)   # longer than its look for pending requests
        assert a2.acd.sessions["agent1"].state is not AgentState.READY  # the refused request never ran
        ready = await agent.post("/agent/api/state", json={"action": "ready"}, headers=token)
        assert ready.status == 200 and ready.json["state"] == "ready", ready.body
        assert a2.acd.sessions["agent1"].state is AgentState.READY
    finally:
        for hotline in (b, a2, a):
            if hotline is not None and hotline.parts:
                await hotline.stop()
        await port.stopListening()
        engine.dispose()


@pytest_twisted.ensureDeferred
async def test_a_web_role_builds_the_same_named_services_with_only_the_web_running(pg_url, sqlite_url):
    """``role="web"`` goes through the one composition root: the same names as a calls process, the PBX and
    worker steps switched off; on PostgreSQL its calls_relay is a relay, a calls process's is the host; on
    SQLite (one process) there is none."""
    from twisted.internet import reactor

    from callcenter.app import FOUNDATION, SERVICES, WEB_STEPS, Hotline
    from callcenter.web.pgcalls import CallsRelay

    config = web_config(pg_url).with_overrides({"web.port": 0, "asr.model": "off"})
    web = await Hotline(reactor, config, role="web").start()
    try:
        assert list(web.parts) == [name for name, _ in FOUNDATION + SERVICES]
        running = {name for name, part in web.parts.items() if part.service is not None}
        assert running <= WEB_STEPS and {"web", "calls_relay", "live_events"} <= running
        assert isinstance(web.parts["calls_relay"].service, CallsRelay)
        assert web.web_root.deps.extras.get("acd") is None
    finally:
        await web.stop()
    lite = await Hotline(reactor, web_config(sqlite_url).with_overrides({"web.port": 0}), role="web").start()
    try:
        assert lite.parts["calls_relay"].service is None
    finally:
        await lite.stop()


def test_a_relayed_request_is_trusted_only_with_the_shared_key():
    """The leader takes the browser's address and scheme from a relayed request only when its token is the
    HMAC of the shared key; anyone else's headers change nothing."""
    from twisted.web.http_headers import Headers

    from callcenter.web.http import accept_relayed, relay_token

    class Request:
        def __init__(self, token):
            self.requestHeaders = Headers({b"x-hotline-relay": [token], b"x-hotline-relay-client": [b"10.1.2.3"],
                                           b"x-hotline-relay-https": [b"1"]})
            self.hotline_client, self.hotline_https = "127.0.0.1", False

    good = Request(relay_token(b"k1").encode())
    assert accept_relayed(good, b"k1") and (good.hotline_client, good.hotline_https) == ("10.1.2.3", True)
    for request, key in ((Request(relay_token(b"other").encode()), b"k1"), (Request(b"guess"), b"k1"),
                         (Request(relay_token(b"").encode()), b"")):
        assert not accept_relayed(request, key)
        assert (request.hotline_client, request.hotline_https) == ("127.0.0.1", False)


@pytest_twisted.ensureDeferred
async def test_real_processes_a_standby_and_a_web_process_serve_the_desk_and_follow_the_leader_after_kill_9(
        pg_url, pbx_sounds, tmp_path):
    """Three `callcenter serve` processes on one PostgreSQL and the PBX simulator over TCP: a leader, a
    failover standby (which serves the web pages while it waits) and a `[serve] role = "web"` process.  An
    agent's desk works through the standby and through the web process; a pause through the web process is
    run by the leader.  After SIGKILL of the leader (the standby held by SIGSTOP for that moment) the web
    process answers 503 calls.controller_unavailable; once the standby runs again and has taken over, the web
    process shows the agent as the new leader restored them and sets them ready through it: it followed the
    new leader without being told."""
    import os
    import signal

    from twisted.internet import reactor

    from callcenter.auth.service import AuthService
    from callcenter.pbxsim.simulator import PBXSimulator
    from tests.failover.test_takeover import AGENTS, Serve, _config as takeover_config, _prepare_database, _until

    engine = _prepare_database(pg_url)
    sim = PBXSimulator(reactor, speed=1.0, spool_dir=tmp_path / "spool", sounds_dir=pbx_sounds)
    for device in AGENTS:
        sim.add_device(device, answer_after=2.0)
    port = await sim.listen(0)
    config = takeover_config(tmp_path, pg_url, port.getHost().port, pbx_sounds / "hotline")
    web_config_path = tmp_path / "web.toml"
    web_text = open(config, encoding="utf-8").read().replace(str(pbx_sounds / "hotline"), str(tmp_path / "no-prompts"))
    assert "no-prompts" in web_text  # a web process plays nothing: it starts without the prompts
    web_config_path.write_text(web_text + '\n[serve]\nrole = "web"\ncontroller_timeout = 1.0\n', encoding="utf-8")
    AuthService(engine, time_cost=1, memory_kib=1024).add_user("agent1", PASSWORD, "agent",
                                                              datetime.now(timezone.utc))
    procs = []
    try:
        leader = Serve("leader", config, tmp_path)
        procs.append(leader)
        await _until(reactor, lambda: leader.said("serving on") and leader.adoptions(), 90, why=leader.tail)
        standby, web = Serve("standby", config, tmp_path), Serve("web", str(web_config_path), tmp_path)
        procs += [standby, web]
        await _until(reactor, lambda: standby.said("standby health on") and web.said("serving on"), 90,
                     why=lambda: standby.tail() + web.tail())
        assert web.said("web: serving pages and APIs only")
        standby_base = re.search(r"standby health on (http://[^/\s]+)/", standby.out.read_text()).group(1)
        web_base = re.search(r"serving on (http://[^/\s]+)/", web.out.read_text()).group(1)

        on_standby = Client(standby_base)
        assert (await on_standby.login("agent1")).status == 303
        page = await on_standby.get("/agent")                       # relayed by the standby to the leader
        assert page.status == 200 and "坐席工作台" in page.text, page.status
        assert (await on_standby.get("/healthz")).json["status"] == "standby"

        browser = Client(web_base)
        assert (await browser.login("agent1")).status == 303
        token = {"X-CSRF-Token": _csrf((await browser.get("/agent")).text)}
        screen = await browser.get("/agent/api/screen")
        assert screen.status == 200 and screen.json["agent"]["state"] == "ready", screen.body
        paused = await browser.post("/agent/api/state", json={"action": "pause", "reason": "break"}, headers=token)
        assert paused.status == 200 and paused.json["state"] == "paused", paused.body

        # The standby is frozen while the leader dies, so the request below meets a moment with no controller
        # at all (otherwise a quick standby may take over within the relay's own wait and answer 200).
        os.kill(standby.proc.pid, signal.SIGSTOP)
        try:
            os.kill(leader.proc.pid, signal.SIGKILL)
            leader.proc.wait(10)
            during = await browser.get("/agent/api/screen")
        finally:
            os.kill(standby.proc.pid, signal.SIGCONT)
        assert during.status == 503 and during.json["error_id"] == "calls.controller_unavailable", during.body
        answers = []

        async def screen_again():
            answers.append(await browser.get("/agent/api/screen"))
            return answers[-1].status == 200

        deadline = reactor.seconds() + 30
        while not await screen_again():
            assert reactor.seconds() < deadline, (answers[-1].status, standby.tail())
        assert standby.said("leader: starting the hotline")
        assert answers[-1].json["agent"]["state"] == "paused" and answers[-1].json["agent"]["reason"] == "break"
        ready = await browser.post("/agent/api/state", json={"action": "ready"}, headers=token)
        assert ready.status == 200 and ready.json["state"] == "ready", ready.body
    finally:
        for proc in procs:
            proc.kill()
        await port.stopListening()
        engine.dispose()


def test_bench_relay_runs_end_to_end_at_tiny_sizes(pg_url):
    """`callcenter bench relay` relays every request (one at a time and in parallel) and every frame arrives."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    out = subprocess.run([sys.executable, "-m", "callcenter.cli", "bench", "relay", "--requests", "6",
                          "--concurrency", "2", "--frames", "5", "--gap", "0.01", "--pg-url", pg_url],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    records = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    assert [(r["bench"], r.get("requests")) for r in records] == [
        ("relay.requests", 6), ("relay.requests", 6), ("relay.frames", None)], records
    assert records[2]["arrived"] == records[2]["frames"] == 5


@pytest_twisted.ensureDeferred
async def test_metrics_show_whether_the_relay_hears_the_leader_and_how_requests_ended(pg_url):
    """A web process's /metrics say it listens (hotline_calls_relay_listening 1, 0 once stopped), and a request
    nobody claims is counted as unavailable."""
    from twisted.internet import reactor
    from twisted.web.http_headers import Headers

    from callcenter.db import make_engine
    from callcenter.metrics import REGISTRY, generate_latest
    from callcenter.web.pgcalls import CallsRelay, ControllerUnavailable

    def sample(name: str) -> float:
        for line in generate_latest(REGISTRY).decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    class Browser:
        hotline_client = "192.0.2.1"
        requestHeaders = Headers({b"host": [b"x"]})

        def getClientAddress(self):
            return None

        def isSecure(self):
            return False

    engine = make_engine(pg_url)
    relay = CallsRelay(reactor, engine, group="metrics-test", secret=b"k")
    relay.claim_timeout = 0.3
    relay.start()
    try:
        await relay.when_listening()
        assert sample("hotline_calls_relay_listening") == 1.0
        before = sample('hotline_calls_relay_requests_total{outcome="unavailable"}')
        with pytest.raises(ControllerUnavailable):
            await relay.forward(Browser(), "POST", "/agent/api/state", b"{}")
        assert sample('hotline_calls_relay_requests_total{outcome="unavailable"}') == before + 1
        assert _pending(engine) == 0
    finally:
        await relay.stop()
        engine.dispose()
    assert sample("hotline_calls_relay_listening") == 0.0


@pytest_twisted.ensureDeferred
async def test_a_relay_whose_database_fails_answers_503_relay_failed_and_stores_nothing(pg_url):
    """The request cannot be stored (the database refuses): the browser gets 503 calls.relay_failed at once
    rather than a hanging request, and nothing was relayed."""
    from twisted.internet import reactor
    from twisted.web.http_headers import Headers

    from callcenter.db import make_engine
    from callcenter.web.pgcalls import CallsRelay, RelayFailed

    class Browser:
        hotline_client = "192.0.2.1"
        requestHeaders = Headers({b"host": [b"x"]})

        def getClientAddress(self):
            return None

        def isSecure(self):
            return False

    engine = make_engine(pg_url)
    from sqlalchemy.engine import make_url

    nowhere = make_url(pg_url).set(host="127.0.0.1", port=9).render_as_string(hide_password=False)
    broken = make_engine(nowhere, connect_args={"connect_timeout": 2})  # nothing listens on port 9
    relay = CallsRelay(reactor, broken, group="broken-test", secret=b"k")
    try:
        with pytest.raises(RelayFailed) as raised:
            await relay.forward(Browser(), "POST", "/agent/api/state", b"{}")
        assert raised.value.error_id == "calls.relay_failed" and raised.value.http_status == 503
        assert relay.relayed == 0 and _pending(engine) == 0
    finally:
        broken.dispose()
        engine.dispose()
