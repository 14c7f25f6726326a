"""The agent desk's live side: what each agent's screen shows, kept current.

:class:`DeskService` listens to the ACD (ringing, connected, ended, state
changes) and to live speech (``on_partial``/``on_final`` keyed by the
AudioSocket uuid, mapped to a call with :meth:`DeskService.attach_speech`),
keeps one :class:`LiveCall` per call on a desk, and pushes named events into
the agent's own :class:`~callcenter.web.sse.EventStream`.  Each final
transcript segment re-runs intake, so the work-order draft on screen follows
the conversation.  Submitting creates (and dispatches) the order through the
work-order service and records every field the agent changed from the draft
as an intake correction, so the extractor learns from the desk.
"""
from __future__ import annotations

import logging
import re
import uuid as uuidlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from sqlalchemy import select

from callcenter.clock import now_from
from callcenter.errors import HotlineError
from callcenter.personal_data import mask_phone
from callcenter.routing.agent import PAUSE_REASONS, AgentState
from callcenter.web.sse import EventStream

log = logging.getLogger(__name__)

STATE_ACTIONS = ("login", "ready", "pause", "wrap_up_done", "logout")
CORRECTABLE = ("type", "category", "district", "urgency", "department")
AGENT_PAUSE_REASONS = tuple(r for r in PAUSE_REASONS if r not in ("missed", "login"))
_ADDRESS = re.compile(r"^[A-Za-z0-9.\-]{1,253}:[0-9]{1,5}$")


class DeskError(HotlineError):
    """A desk request that cannot be done; ``error_id`` is stable, nothing was changed."""

    def __init__(self, error_id: str, message: str, status: int = 400, **details):
        super().__init__(error_id, message, http_status=status, **details)


@dataclass
class LiveCall:
    """One call on a desk: who, since when, what was said and the current draft."""

    call_id: str
    agent_id: str
    number: str
    queue: str
    enqueued_at: datetime | None
    state: str = "ringing"
    answered_at: datetime | None = None
    transcript: list[str] = field(default_factory=list)
    partial: str = ""
    draft: dict | None = None
    similar: list[dict] = field(default_factory=list)
    order_number: str | None = None

    @property
    def text(self) -> str:
        return "".join(self.transcript)

    def view(self, *, show_number: bool, now: datetime) -> dict:
        end = self.answered_at or now
        waited = (end - self.enqueued_at).total_seconds() if self.enqueued_at else None
        return {"call_id": self.call_id, "state": self.state, "queue": self.queue,
                "number": self.number if show_number else mask_phone(self.number),
                "waited_seconds": round(waited, 1) if waited is not None else None,
                "answered_at": self.answered_at.isoformat() if self.answered_at else None,
                "transcript": list(self.transcript), "partial": self.partial, "draft": self.draft,
                "similar": list(self.similar), "order_number": self.order_number}


class DeskService:
    """Per-agent live screens over the ACD (see module docs).

    ``db(fn, *args)`` runs blocking work off the reactor and returns a
    Deferred; ``engine`` is read for the caller's history; ``intake`` is an
    :class:`ticketing.intake.service.IntakeService` (optional: without it the
    agent fills the form by hand).
    """

    max_segments = 200           # transcript segments kept per call
    max_ended_calls = 100        # finished calls kept for their order submission
    similar_candidates = 200     # open orders compared for merge suggestions

    def __init__(self, acd, clock, *, db: Callable, engine=None, workorders=None, intake=None,
                 agent_dispatch: bool = True, audiosocket: str = "") -> None:
        if audiosocket and not _ADDRESS.match(audiosocket):
            raise DeskError("desk.bad_audiosocket", "AudioSocket 地址须为 host:port / audiosocket must be host:port",
                            value=str(audiosocket)[:64])
        self.audiosocket = audiosocket
        self.acd = acd
        self.clock = clock
        self.db = db
        self.engine = engine
        self.workorders = workorders
        self.intake = intake
        self.agent_dispatch = agent_dispatch
        self.streams: dict[str, EventStream] = {}
        self.calls: dict[str, LiveCall] = {}
        self.speech: dict[str, str] = {}   # AudioSocket uuid -> call id
        #: what callers told the IVR (callcenter.asr.intake.SpeechIntake): transcript + draft on ringing
        self.ivr_speech = None
        self._ended: list[str] = []
        #: ``fn(agent_id, event, data)`` also given every push (:mod:`callcenter.web.pgcalls`)
        self.mirror = None
        acd.add_listener(self._on_acd)

    def now(self) -> datetime:
        return now_from(self.clock)

    # -- streams ---------------------------------------------------------------

    def stream_for(self, agent_id: str) -> EventStream:
        stream = self.streams.get(agent_id)
        if stream is None:
            stream = self.streams[agent_id] = EventStream(self.clock)
        return stream

    def _push(self, agent_id: str, event: str, data: dict) -> None:
        if self.mirror is not None:  # the agent's browser may be on another web process
            self.mirror(agent_id, event, data)
        stream = self.streams.get(agent_id)
        if stream is not None:
            stream.publish(event, data)

    def close(self) -> None:
        for stream in self.streams.values():
            stream.close()

    # -- agents ------------------------------------------------------------------

    def agent_known(self, agent_id: str) -> bool:
        return agent_id in self.acd.sessions

    def _session(self, agent_id: str):
        session = self.acd.sessions.get(agent_id)
        if session is None:
            raise DeskError("desk.not_an_acd_agent", "该账号不是话务坐席 / this account is not an ACD agent",
                            403, agent=agent_id)
        return session

    def change_state(self, agent_id: str, action: str, reason: str = "", *, device: str | None = None) -> dict:
        """Log in, ready, pause (with a reason), wrap-up done or log out; returns the new state.

        ``device``: the phone in the account's profile; on log-in the ACD rings the agent there
        (hot desking), or on the configured device when the profile has none.
        """
        session = self._session(agent_id)
        if action not in STATE_ACTIONS:
            raise DeskError("desk.unknown_action", "未知的状态操作 / unknown state action", action=str(action)[:32],
                            allowed=list(STATE_ACTIONS))
        if action == "pause":
            if reason not in AGENT_PAUSE_REASONS:
                raise DeskError("desk.bad_pause_reason", "请选择暂停原因 / choose a pause reason",
                                reason=str(reason)[:32], allowed=list(AGENT_PAUSE_REASONS))
            self.acd.agent_pause(agent_id, reason)
        elif action == "login":
            if session.state is AgentState.LOGGED_OUT:
                self.acd.set_agent_device(agent_id, device)  # None: the configured phone again
            self.acd.agent_login(agent_id)
        elif action == "ready":
            self.acd.agent_ready(agent_id)
        elif action == "wrap_up_done":
            if session.state is not AgentState.WRAP_UP:
                raise DeskError("desk.not_in_wrap_up", "当前不在话后整理 / not in wrap-up", 409,
                                state=session.state.value)
            self.acd.wrap_up_done(agent_id)
        else:
            self.acd.agent_logout(agent_id)
        return self.agent_view(agent_id)

    def agent_view(self, agent_id: str) -> dict:
        session = self._session(agent_id)
        return {"agent_id": agent_id, "state": session.state.value, "reason": session.reason,
                "since": session.since.isoformat() if session.since else None, "missed": session.missed,
                "wrap_up_until": session.wrap_up_until.isoformat() if session.wrap_up_until else None}

    def current(self, agent_id: str) -> LiveCall | None:
        """The agent's call on screen: ringing, connected, or just ended (until the next one)."""
        live = [c for c in self.calls.values() if c.agent_id == agent_id]
        return live[-1] if live else None

    def screen(self, agent_id: str, *, show_number: bool) -> dict:
        call = self.current(agent_id)
        return {"agent": self.agent_view(agent_id),
                "call": call.view(show_number=show_number, now=self.now()) if call else None,
                "pause_reasons": {r: PAUSE_REASONS[r] for r in AGENT_PAUSE_REASONS}}

    # -- the ACD's events ----------------------------------------------------------

    def _on_acd(self, kind: str, data: dict) -> None:
        if kind == "agent":
            agent_id = data["agent_id"]
            self._push(agent_id, "state", {"state": data["state"], "reason": data.get("reason", "")})
            if data["state"] == AgentState.RINGING.value and data.get("call_id"):
                self._ringing(agent_id, data["call_id"])
        elif kind == "call":
            call = self.calls.get(data.get("call_id", ""))
            if call is None:
                return
            state = data.get("state")
            if state == "connected":
                call.state = "connected"
                call.answered_at = self.now()
                self._push(call.agent_id, "connected", call.view(show_number=True, now=self.now()))
                self.listen_to(call)
            elif state in ("ended", "abandoned", "requeued"):
                if state == "requeued" and call.answered_at is None:
                    self._forget(call)  # rang out on this desk; it goes to another
                    self._push(call.agent_id, "ended", {"call_id": call.call_id, "state": "missed"})
                    return
                if state == "abandoned" and call.answered_at is None:
                    self._forget(call)
                    self._push(call.agent_id, "ended", {"call_id": call.call_id, "state": "abandoned"})
                    return
                call.state = "ended"
                self._retire(call)
                self._push(call.agent_id, "ended", {"call_id": call.call_id, "state": "ended"})

    def _ringing(self, agent_id: str, call_id: str) -> None:
        qc = self.acd.calls.get(call_id)
        if qc is None:
            return
        for stale in [c for c in self.calls.values() if c.agent_id == agent_id and c.state == "ringing"]:
            self._forget(stale)  # a ring whose end we never heard; ended calls stay for their order
        call = LiveCall(call_id, agent_id, qc.caller.number, qc.caller.queue, qc.caller.enqueued_at)
        self.calls[call_id] = call
        told = self.ivr_speech.prefill(call_id) if self.ivr_speech is not None else None
        if told:
            # the caller described the problem in the IVR: the agent starts from their words and the draft
            call.transcript = [told["transcript"][:2000]]
            call.draft = dict(told["draft"])
        self._push(agent_id, "ringing", call.view(show_number=True, now=self.now()))

    def _forget(self, call: LiveCall) -> None:
        self.calls.pop(call.call_id, None)
        for uuid in [u for u, c in self.speech.items() if c == call.call_id]:
            del self.speech[uuid]

    def _retire(self, call: LiveCall) -> None:
        self._ended.append(call.call_id)
        while len(self._ended) > self.max_ended_calls:
            old = self.calls.get(self._ended.pop(0))
            if old is not None and old.state == "ended":
                self._forget(old)

    # -- live speech (an ``asr.live`` subscriber) -------------------------------------

    def listen_to(self, call: LiveCall):
        """Stream the caller's voice to our AudioSocket server (ChanSpy, caller leg only, quiet).

        The uuid names the stream; transcripts for it land on this call.  A
        failed Originate only costs the live transcript: the agent types.
        """
        qc = self.acd.calls.get(call.call_id)
        if not self.audiosocket or qc is None or not qc.channel:
            return None
        uuid = str(uuidlib.uuid4())
        self.attach_speech(uuid, call.call_id)
        d = self.acd.ami.originate(f"AudioSocket/{self.audiosocket}/{uuid}", application="ChanSpy",
                                   data=f"{qc.channel},qE", timeout=10)

        def failed(failure):
            self.speech.pop(uuid, None)
            log.warning("live transcript not started", extra={"fields": {"call": call.call_id,
                                                                         "error": str(failure.value)[:200]}})

        return d.addErrback(failed)

    def attach_speech(self, uuid: str, call_id: str) -> None:
        """Transcripts arriving for AudioSocket ``uuid`` belong to ``call_id``."""
        self.speech[uuid] = call_id

    def _speech_call(self, uuid: str) -> LiveCall | None:
        return self.calls.get(self.speech.get(uuid, uuid))

    def on_partial(self, uuid: str, text: str) -> None:
        call = self._speech_call(uuid)
        if call is None:
            return
        call.partial = text[:500]
        self._push(call.agent_id, "transcript", {"call_id": call.call_id, "partial": call.partial})

    def on_final(self, uuid: str, segment) -> None:
        call = self._speech_call(uuid)
        text = getattr(segment, "text", segment)
        if call is None or not isinstance(text, str) or not text.strip():
            return
        if len(call.transcript) < self.max_segments:
            call.transcript.append(text.strip()[:2000])
        call.partial = ""
        self._push(call.agent_id, "transcript", {"call_id": call.call_id, "final": call.transcript[-1],
                                                 "transcript": list(call.transcript)})
        self.refresh_draft(call)

    def refresh_draft(self, call: LiveCall):
        """Propose a draft from the transcript so far, then merge suggestions; pushed as ``draft``."""
        if self.intake is None or not call.text:
            return None
        text = call.text
        d = self.intake.propose(text)

        def proposed(proposal):
            if call.transcript and call.text != text:
                return None  # a newer segment is being proposed already
            call.draft = dict(proposal.work_order_fields(), confidence=dict(proposal.confidence))
            self._push(call.agent_id, "draft", {"call_id": call.call_id, "draft": call.draft})
            return self._suggest_similar(call, proposal)

        def failed(failure):
            log.warning("intake proposal failed", extra={"fields": {"call": call.call_id,
                                                                    "error": str(failure.value)[:200]}})

        return d.addCallback(proposed).addErrback(failed)

    def _suggest_similar(self, call: LiveCall, proposal):
        if self.workorders is None:
            return None
        from ticketing.service import Actor

        actor = Actor(user_id=call.agent_id, role="agent")
        d = self.db(self.workorders.list, actor, limit=self.similar_candidates, now=self.now())
        d.addCallback(lambda page: self.intake.similar(proposal, [_candidate(o) for o in page["items"]]))

        def found(matches):
            call.similar = [{"number": m.order_id, "score": m.score, "summary": m.order["summary"],
                             "status": m.order["status"]} for m in matches]
            self._push(call.agent_id, "similar", {"call_id": call.call_id, "similar": call.similar})

        return d.addCallback(found)

    # -- the caller's history -----------------------------------------------------------

    def history(self, call_id: str, number: str, *, show_number: bool) -> dict:
        """Blocking: the caller's previous work orders and calls, and this call's IVR path."""
        from callcenter.routing.store import queue_calls
        from ivr.store import ivr_visits
        from ticketing.persistence.tables import work_orders

        orders, calls, path = [], [], []
        with self.engine.connect() as conn:
            if number:
                rows = conn.execute(
                    select(work_orders.c.number, work_orders.c.status, work_orders.c.summary,
                           work_orders.c.created_at, work_orders.c.category)
                    .where(work_orders.c.caller_phone == number).order_by(work_orders.c.id.desc()).limit(10))
                orders = [{"number": r.number, "status": r.status, "summary": r.summary,
                           "category": r.category, "created_at": _iso(r.created_at)} for r in rows]
                rows = conn.execute(
                    select(queue_calls).where(queue_calls.c.number == number, queue_calls.c.call_id != call_id)
                    .order_by(queue_calls.c.id.desc()).limit(10))
                calls = [{"call_id": r.call_id, "queue": r.queue, "outcome": r.outcome, "agent_id": r.agent_id,
                          "at": _iso(r.enqueued_at), "wait_seconds": round(r.wait_seconds, 1)} for r in rows]
            row = conn.execute(select(ivr_visits.c.path).where(ivr_visits.c.call_id == call_id)
                               .order_by(ivr_visits.c.id.desc()).limit(1)).first()
            if row is not None:
                import json

                path = [{"node": s.get("node"), "keys": s.get("keys"), "result": s.get("result")}
                        for s in json.loads(row.path)]
        return {"number": number if show_number else mask_phone(number), "orders": orders, "calls": calls,
                "ivr_path": path}

    # -- submitting -------------------------------------------------------------------------

    def call_for_order(self, agent_id: str, call_id: str) -> LiveCall:
        call = self.calls.get(call_id)
        if call is None or call.agent_id != agent_id or call.state == "ringing":
            raise DeskError("desk.no_such_call", "没有这通来电 / no such call on your desk", 404, call=call_id[:64])
        if call.order_number is not None:
            raise DeskError("desk.already_submitted", "该来电已提交工单 / this call already has a work order", 409,
                            order=call.order_number)
        return call

    def submit(self, actor, call: LiveCall | None, fields: dict, *, resolve_reply: str | None = None) -> dict:
        """Blocking: create the order, then dispatch it or resolve it on the call.

        The order carries the call id; the caller's number comes from the call
        unless the agent typed another.  Validation happens before anything is
        written, so bad input stores nothing.
        """
        from ticketing.service import Actor

        svc = self.workorders
        fields = dict(fields)
        if call is not None:
            fields.setdefault("caller_phone", call.number or None)
            fields["call_ids"] = [call.call_id]
            if call.text and not fields.get("description"):
                fields["description"] = call.text[:4000]
        fields = {k: v for k, v in fields.items() if v not in (None, "")}
        svc.validate_fields(fields)
        if resolve_reply is not None:
            if not isinstance(resolve_reply, str) or not resolve_reply.strip():
                raise DeskError("desk.reply_required", "当场解答须填写答复内容 / a resolved call needs the answer given",
                                field="reply")
            if fields.get("type") != "consultation":
                raise DeskError("desk.not_a_consultation", "只有咨询类可当场办结 / only consultations are resolved "
                                "on the call", field="type")
        now = self.now()
        then = None
        if resolve_reply is not None:
            then = ("resolve-on-call", {"reply": resolve_reply.strip()}, actor)
        elif self.agent_dispatch:
            # 12345 practice: the desk dispatches directly (直派); recorded under the agent's name.
            then = ("dispatch", {"note": "坐席直派 / dispatched from the desk"},
                    Actor(user_id=actor.user_id, role="dispatcher"))
        # registered and dispatched (or resolved) in one transaction: a crash leaves neither or both
        return svc.create(fields, actor, now, idempotency_key=f"desk:{call.call_id}" if call else None, then=then)

    def corrections(self, call: LiveCall, fields: dict) -> list[tuple[str, str]]:
        """(field, value) the agent changed from the speech draft: training data for intake."""
        if not call.draft or not call.text:
            return []
        return [(name, fields[name]) for name in CORRECTABLE
                if isinstance(fields.get(name), str) and fields[name] and fields[name] != call.draft.get(name)]

    def submitted(self, call: LiveCall, order: dict) -> None:
        call.order_number = order["number"]
        self._push(call.agent_id, "order", {"call_id": call.call_id, "number": order["number"],
                                            "status": order["status"]})


def _candidate(order: dict) -> dict:
    created = order.get("created_at")
    return dict(order, created_at=datetime.fromisoformat(created) if isinstance(created, str) else created,
                text=(order.get("summary") or "") + " " + (order.get("description") or ""))


def _iso(value: Any) -> str | None:
    return value.isoformat() if hasattr(value, "isoformat") else value
