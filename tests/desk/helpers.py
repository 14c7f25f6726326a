"""Shared pieces for desk tests: an ACD over AMI bytes, and intake run in line."""
from __future__ import annotations

import json

from twisted.internet import defer
from twisted.web.test.requesthelper import DummyRequest

from callcenter.routing.acd import CallHandle, QueueController
from callcenter.routing.policy import Router
from callcenter.routing.skills import Agent, QueueRules
from tests.routing.wire import FakeAsterisk

CALLER = "PJSIP/trunk-00000001"
CALLID = "1795420800.1"
AGENT_LEG = "PJSIP/1001-00000002"
SPEECH = "我住在海曙区中山西路100号，小区楼顶有人违章搭建彩钢板房，请处理"


class InlineIntake:
    """The real extractor and similarity, run in line (a ``task.Clock`` has no thread pool)."""

    _corrections = None

    def __init__(self):
        from ticketing.intake.resources import default_extractor

        self.extractor = default_extractor()

    def propose(self, text, lang=None):
        return defer.maybeDeferred(self.extractor.propose, text, lang)

    def similar(self, proposal, candidates, **kwargs):
        from ticketing.intake.similar import similar_orders
        from datetime import datetime, timezone

        now = datetime.now(timezone.utc)
        return defer.maybeDeferred(similar_orders, proposal, list(candidates), now, extractor=self.extractor,
                                   **kwargs)


def make_acd():
    pbx = FakeAsterisk()
    router = Router([QueueRules("hotline-general", "general")])
    acd = QueueController(pbx.client, pbx.clock, router, ring_timeout=15, wrap_up_seconds=10)
    acd.add_agent(Agent("1001", {"general": 80}, device="PJSIP/1001"))
    acd.startService()
    return pbx, acd


def ring_and_answer(pbx, acd, number="13812341234", answer=True):
    """A caller queued with agent 1001 ready: the PBX rings the agent, who answers."""
    acd.enqueue(CallHandle(CALLID, CALLER, number), "hotline-general")
    while pbx.ok_all():  # Setvar AGENT_DEVICE, Setvar RING_TIMEOUT, Redirect: one after another
        pass
    pbx.clock.advance(4)  # waited four seconds while it rang
    if answer:
        pbx.event("DialBegin", CALLER, CALLID, CALLID, dest=(AGENT_LEG, "1795420800.2"))
        pbx.event("DialEnd", CALLER, CALLID, CALLID, dest=(AGENT_LEG, "1795420800.2"),
                  extra=[("DialStatus", "ANSWER")])
        pbx.bridge(AGENT_LEG, CALLER, CALLID)  # connected once both legs are in one bridge


class StreamingRequest(DummyRequest):
    """Twisted's DummyRequest holding a push producer the way HTTPChannel does."""

    producer = None

    def registerProducer(self, producer, streaming):
        self.producer = producer

    def unregisterProducer(self):
        self.producer = None


class Listener:
    """A browser on the agent's event stream (a real GET on the EventStream resource)."""

    def __init__(self, stream):
        self.request = StreamingRequest([b""])
        stream.render_GET(self.request)

    def events(self) -> list[tuple[str, dict]]:
        out = []
        for frame in b"".join(self.request.written).decode("utf-8").split("\n\n"):
            lines = dict(line.split(": ", 1) for line in frame.split("\n") if ": " in line and
                         not line.startswith(":"))
            if "event" in lines:
                out.append((lines["event"], json.loads(lines["data"])))
        return out

    def names(self) -> list[str]:
        return [name for name, _ in self.events()]
