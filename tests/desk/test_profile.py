"""Desk accounts map to ACD agents through the user profile (agent_id, device), with the user name as
fallback; the profile is set by `callcenter users`, stored by migration auth_0003 on both databases."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
import pytest_twisted
from twisted.internet import defer

from callcenter.auth.service import AuthError, AuthService
from callcenter.db import make_engine
from callcenter.routing.agent import AgentState
from tests.desk.helpers import CALLER, CALLID, ring_and_answer
from tests.desk.test_web import csrf, wait_for
from tests.web.conftest import PASSWORD


def now():
    return datetime.now(timezone.utc)


def auth_service(db_url) -> AuthService:
    return AuthService(make_engine(db_url), time_cost=1, memory_kib=1024, parallelism=1)


async def signed_in(server, username):
    browser = server.client()
    await browser.login(username)
    page = await browser.get("/agent")
    assert page.status == 200, page.text
    return browser, {"X-CSRF-Token": csrf(page.text)}


@pytest_twisted.ensureDeferred
async def test_account_with_agent_id_takes_that_agents_calls(desk_web):
    """wang.fang's profile says agent 1001: she opens /agent, logs in and goes ready as 1001, the call
    routed to 1001 rings and connects on her screen, and she hangs it up; the user name alone would not
    be an ACD agent."""
    server, pbx, acd, desk = desk_web
    server.deps.auth.add_user("wang.fang", PASSWORD, "agent", now(), agent_id="1001")
    browser, token = await signed_in(server, "wang.fang")
    for action in ("login", "ready"):
        assert (await browser.post("/agent/api/state", json={"action": action}, headers=token)).status == 200
    assert acd.sessions["1001"].state is AgentState.READY and "wang.fang" not in acd.sessions
    ring_and_answer(pbx, acd)
    await wait_for(lambda: desk.current("1001") is not None, "the call on 1001's desk")
    screen = (await browser.get("/agent/api/screen")).json
    assert screen["agent"]["agent_id"] == "1001" and screen["agent"]["state"] == "on_call"
    assert screen["call"]["call_id"] == CALLID and screen["call"]["state"] == "connected"
    pending = defer.ensureDeferred(browser.post("/agent/api/hangup", json={}, headers=token))
    sent = []
    await wait_for(lambda: sent.extend(pbx.take()) or sent, "the Hangup action")
    [hangup] = sent
    assert (hangup.name, hangup["Channel"]) == ("Hangup", CALLER)  # 1001's caller, from wang.fang's desk
    pbx.respond(hangup, Message="Channel Hungup")
    assert (await pending).status == 200


@pytest_twisted.ensureDeferred
async def test_profile_device_is_rung_after_desk_login(desk_web):
    """An account whose profile names another phone (hot desking) is rung there once logged in on the
    desk: the ACD sets AGENT_DEVICE to the profile's device, not the configured PJSIP/1001."""
    server, pbx, acd, _ = desk_web
    server.deps.auth.add_user("li.na", PASSWORD, "agent", now(), agent_id="1001", device="PJSIP/1101")
    browser, token = await signed_in(server, "li.na")
    for action in ("login", "ready"):
        await browser.post("/agent/api/state", json={"action": action}, headers=token)
    ring_and_answer(pbx, acd, answer=False)
    assert acd.router.agent("1001").device == "PJSIP/1101"
    assert acd.sessions["1001"].state is AgentState.RINGING


def test_set_agent_device_only_while_logged_out():
    """The ACD refuses to move a logged-in agent to another phone (a call could be ringing there)
    and refuses a device that is not a plain name; None goes back to the configured device."""
    from callcenter.routing.errors import RoutingError
    from tests.desk.helpers import make_acd

    _, acd = make_acd()
    acd.agent_login("1001")
    with pytest.raises(RoutingError) as busy:
        acd.set_agent_device("1001", "PJSIP/1101")
    assert busy.value.error_id == "routing.agent_active" and acd.router.agent("1001").device == "PJSIP/1001"
    acd.agent_logout("1001")
    with pytest.raises(RoutingError) as bad:
        acd.set_agent_device("1001", "PJSIP/1101\n")
    assert bad.value.error_id == "routing.bad_name"
    acd.set_agent_device("1001", "PJSIP/1101")
    assert acd.router.agent("1001").device == "PJSIP/1101"
    acd.set_agent_device("1001", None)  # an account without a device: the configured phone again
    assert acd.router.agent("1001").device == "PJSIP/1001"
    acd.stopService()


def test_profile_is_validated_unique_and_clearable(db_url):
    """agent_id and device are stored on the account; a device that is not technology/resource (CR/LF,
    commas, no technology) or an agent id held by another account is refused and nothing changes;
    "" clears a field, after which the desk falls back to the user name."""
    auth = auth_service(db_url)
    user = auth.add_user("wang.fang", PASSWORD, "agent", now(), agent_id="1001", device="PJSIP/1001")
    assert (user.agent_id, user.device, user.desk_agent) == ("1001", "PJSIP/1001", "1001")
    for kwargs, error_id in (({"device": "PJSIP/1001\r\nAction: Hangup"}, "user.bad_device"),
                             ({"device": "PJSIP/1001,q"}, "user.bad_device"),
                             ({"device": "1001"}, "user.bad_device"),
                             ({"agent_id": "10 01"}, "user.bad_agent_id"),
                             ({"agent_id": "1001"}, "user.agent_id_taken")):
        with pytest.raises(AuthError) as refused:
            auth.add_user("li.lei", PASSWORD, "agent", now(), **kwargs)
        assert refused.value.error_id == error_id
    assert auth.get_user("li.lei") is None
    auth.add_user("li.lei", PASSWORD, "agent", now())
    with pytest.raises(AuthError) as taken:
        auth.set_profile("li.lei", agent_id="1001")
    assert taken.value.error_id == "user.agent_id_taken" and auth.get_user("li.lei").agent_id is None
    cleared = auth.set_profile("wang.fang", agent_id="", device="")
    assert (cleared.agent_id, cleared.device, cleared.desk_agent) == (None, None, "wang.fang")
    auth.engine.dispose()


def test_users_command_sets_the_profile(db_url, monkeypatch, capsys):
    """`callcenter users add --agent-id --device`, `users profile` to change or clear, `users list` shows
    both; a bad device exits 2 with the error id and changes nothing."""
    import callcenter.logs
    from callcenter.cli import main

    monkeypatch.setattr(callcenter.logs, "setup_logging", lambda *a, **k: None)
    monkeypatch.setenv("HOTLINE_TEST_PW", PASSWORD)
    monkeypatch.setenv("CALLCENTER_AUTH_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("CALLCENTER_AUTH_ARGON2_MEMORY_KIB", "1024")
    base = ["users", "--url", db_url]
    assert main(base + ["add", "wang.fang", "--role", "agent", "--agent-id", "1001", "--device", "PJSIP/1001",
                        "--password-env", "HOTLINE_TEST_PW"]) == 0
    assert main(base + ["add", "sup.zhao", "--role", "supervisor", "--password-env", "HOTLINE_TEST_PW"]) == 0
    assert main(base + ["profile", "sup.zhao", "--device", "PJSIP/9001"]) == 0
    capsys.readouterr()
    assert main(base + ["profile", "sup.zhao", "--device", "PJSIP/9001,qB"]) == 2
    assert "user.bad_device" in capsys.readouterr().err
    assert main(base + ["profile", "nobody", "--device", "PJSIP/9001"]) == 2
    assert main(base + ["list"]) == 0
    rows = {line.split("\t")[0]: line.split("\t")[-2:] for line in capsys.readouterr().out.splitlines()}
    assert rows == {"sup.zhao": ["-", "PJSIP/9001"], "wang.fang": ["1001", "PJSIP/1001"]}
    assert main(base + ["profile", "wang.fang", "--agent-id", ""]) == 0
    assert "wang.fang: agent wang.fang (user name)" in capsys.readouterr().out
