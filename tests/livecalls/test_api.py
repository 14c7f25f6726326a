"""/api/v1/calls over a real floor: a call placed through the PBX simulator (real TCP, Asterisk ``Queue()``)
is listed queued with a masked number, talking once the agent answers, and gone after the hang-up; roles,
the agent's own-calls view, and a timeline that counts key presses without ever showing the digits."""
from __future__ import annotations

import pytest_twisted

from callcenter.pbxsim.participants import CallerScript
from tests.livecalls.floor import AGENT_IFACE, MASKED, NUMBER, eventually, start_floor, stop_floor
from tests.web.conftest import start_server, stop_server_async

DIGITS = "110101"  # what the caller types while waiting (an ID number, say): counted, never shown


@pytest_twisted.ensureDeferred
async def test_call_is_listed_queued_then_talking_then_gone(db_url):
    """Queued (masked number, queue, wait, recording, one channel) → talking with agent1 → gone after the
    hang-up, while the call's own page still answers (ended, with its timeline); the DTMF it received is a
    count and the digits appear nowhere in the answers."""
    floor = await start_floor(db_url)
    try:
        server, sim = floor.server, floor.sim
        server.add_user("sup1", "supervisor")
        server.add_user("agent1", "agent")
        sup = server.client()
        await sup.login("sup1")
        agent = server.client()
        await agent.login("agent1")

        caller = sim.dial_in(NUMBER, exten="101", script=CallerScript(dtmf=[(0.2, DIGITS)]))

        async def calls():
            resp = await sup.get("/api/v1/calls")
            assert resp.status == 200, resp.text
            return resp

        queued = await eventually(calls, lambda r: [c["phase"] for c in r.json["items"]] == ["queued"],
                                  what="the call queued")
        [row] = queued.json["items"]
        assert row["caller"] == MASKED and NUMBER not in queued.text
        assert row["queue"] == "hotline-general" and row["queue_position"] == 1
        assert row["waited_seconds"] is not None and row["waited_seconds"] >= 0
        assert row["agent"] is None and row["recording_active"] is True and row["ivr_active"] is False
        assert row["channels"] == 1 and row["hotline_callid"] == row["linkedid"] == caller.uniqueid
        assert queued.json["total"] == 1
        # not yet anyone's call: the agent sees nothing
        assert (await agent.get("/api/v1/calls")).json["items"] == []
        assert (await agent.get(f"/api/v1/calls/{row['linkedid']}")).status == 404

        sim.add_device("PJSIP/1001", answer_after=1.0)
        sim.queues.add("hotline-general", AGENT_IFACE, "agent1")
        talking = await eventually(calls, lambda r: [c["phase"] for c in r.json["items"]] == ["talking"],
                                   what="the agent answering")
        [row] = talking.json["items"]
        assert row["agent"] == "agent1" and row["caller"] == MASKED and row["channels"] > 1

        mine = await agent.get("/api/v1/calls")
        assert [c["linkedid"] for c in mine.json["items"]] == [row["linkedid"]]
        detail = await eventually(lambda: agent.get(f"/api/v1/calls/{row['linkedid']}"),
                                  lambda r: r.json.get("dtmf_count") == len(DIGITS), what="the key presses")
        body = detail.json
        kinds = [e["kind"] for e in body["timeline"]]
        assert {"queue_join", "agent_called", "agent_connect", "recording_start"} <= set(kinds)
        assert kinds.index("queue_join") < kinds.index("agent_connect")
        assert body["phase"] == "talking" and body["caller"] == MASKED
        assert DIGITS not in detail.text and NUMBER not in detail.text and "dtmf" not in body["channel_list"][0]

        await floor.ami.hangup(caller.name)
        gone = await eventually(calls, lambda r: r.json["items"] == [], what="the hang-up")
        assert gone.json["total"] == 0
        ended = (await sup.get(f"/api/v1/calls/{row['linkedid']}")).json
        assert ended["phase"] == "ended" and ended["ended_at"] and ended["channels"] == 0
        assert "hangup" in [e["kind"] for e in ended["timeline"]]
    finally:
        await stop_floor(floor)


@pytest_twisted.ensureDeferred
async def test_roles_and_bad_ids(db_url):
    """Department and dispatcher users get 403 (auth.forbidden) from the API, the page and its event
    stream, no credentials 401; a malformed Linkedid
    is a 400 naming it and an unknown one a 404 calls.not_found; both calls are in the OpenAPI document."""
    floor = await start_floor(db_url)
    try:
        server = floor.server
        server.add_user("sup1", "supervisor")
        server.add_user("water1", "department", department="water")
        server.add_user("disp1", "dispatcher")
        for name in ("water1", "disp1"):
            user = server.client()
            await user.login(name)
            refused = await user.get("/api/v1/calls")
            assert refused.status == 403 and refused.json["error_id"] == "auth.forbidden"
            assert (await user.get("/api/v1/calls/1700000000.1")).status == 403
            assert (await user.get("/supervisor/calls")).status == 403
            assert (await user.get("/supervisor/calls/events")).status == 403
        assert (await server.client().get("/api/v1/calls")).status == 401
        sup = server.client()
        await sup.login("sup1")
        bad = await sup.get("/api/v1/calls/a%20b%3Cscript%3E")
        assert bad.status == 400 and bad.json["error_id"] == "calls.bad_linkedid"
        unknown = await sup.get("/api/v1/calls/1700000000.99")
        assert unknown.status == 404 and unknown.json["error_id"] == "calls.not_found"
        doc = (await sup.get("/api/v1/openapi.json")).json
        assert doc["paths"]["/api/v1/calls"]["get"]["operationId"] == "live_calls"
        assert "dtmf_count" in str(doc["paths"]["/api/v1/calls/{linkedid}"])
    finally:
        await stop_floor(floor)


@pytest_twisted.ensureDeferred
async def test_without_a_tracker_the_api_says_so(sqlite_url):
    """A web app no tracker was attached to answers 503 calls.not_tracked (not an empty list that would
    read as "no calls"), and the page says tracking is not running."""
    server = start_server(sqlite_url)
    try:
        server.add_user("sup1", "supervisor")
        sup = server.client()
        await sup.login("sup1")
        resp = await sup.get("/api/v1/calls")
        assert resp.status == 503 and resp.json["error_id"] == "calls.not_tracked"
        page = await sup.get("/supervisor/calls")
        assert page.status == 200 and 'id="not-tracked"' in page.text
    finally:
        await stop_server_async(server)
