"""The simulated people around the hotline, acting only through the service layer.

- :class:`AgentDesk` — simulated agents: when a call they answered ends, they
  file a work order from what the caller said (intake proposal, gaps filled),
  resolve it on the call or leave it for dispatch.
- :class:`Dispatcher` / :class:`Departments` — dispatch new and reopened
  orders, review returns; departments acknowledge (on time or late), return
  misrouted orders, start and reply (:func:`~callcenter.demo.population.department_fate`).

Satisfaction callbacks are not simulated here: the real callback worker
(:mod:`callcenter.callbacks`) dials the citizens, whose simulated phones answer.

Every blocking service call runs in the reactor's thread pool; times come from
the demo's scaled clock through :func:`callcenter.clock.now_from`.
"""
from __future__ import annotations

import logging
from collections import Counter

from twisted.internet import defer
from twisted.internet.threads import deferToThreadPool

from callcenter.clock import now_from
from callcenter.demo.population import department_fate

log = logging.getLogger(__name__)

_AGENT_REPLY = "坐席已在电话中答复 / answered on the call"
_DEPT_REPLY = "已现场处置并答复市民 / handled on site and the citizen informed"


class _Worker:
    """Shared plumbing: the service, actors, the scaled clock and the pool."""

    def __init__(self, reactor, clock, service, stats: Counter):
        self.reactor = reactor
        self.clock = clock
        self.service = service
        self.stats = stats
        self.pending: set[defer.Deferred] = set()

    def blocking(self, fn, *args, **kw) -> defer.Deferred:
        d = deferToThreadPool(self.reactor, self.reactor.getThreadPool(), fn, *args, **kw)
        self.pending.add(d)

        def done(result):
            self.pending.discard(d)
            return result

        d.addBoth(done)
        d.addErrback(self._failed)
        return d

    def perform(self, number: str, action: str, params: dict, actor, now) -> dict:
        """``WorkOrderService.perform``, once more if another worker (the SLA worker's 督办)
        changed the order in between — what a person would do on a conflict."""
        from ticketing.domain.errors import ConcurrentUpdate

        try:
            return self.service.perform(number, action, params, actor, now)
        except ConcurrentUpdate:
            self.stats["retried_conflicts"] += 1
            return self.service.perform(number, action, params, actor, now)

    def _failed(self, failure):
        self.stats["errors"] += 1
        self.stats[f"error:{type(failure.value).__name__}"] += 1
        log.warning("demo actor step failed", extra={"fields": {"actor": type(self).__name__,
                                                                "error": failure.getErrorMessage()[:300]}})

    def drain(self) -> defer.Deferred:
        """Fires once every step already started has finished (clean shutdown)."""
        return defer.DeferredList(list(self.pending), consumeErrors=True)


class AgentDesk(_Worker):
    """Simulated agents file an order for each call they answered."""

    resolve_on_call_share = 0.2

    def __init__(self, reactor, clock, service, stats, *, plans: dict, rnd, phones: dict, heard=None):
        super().__init__(reactor, clock, service, stats)
        self.heard = heard or (lambda call_id: None)   # call id → live transcript segments, if any
        from ticketing.service import Actor

        self.actor = Actor("demo-agent", "agent")
        self.plans = plans      # call id → CallerPlan
        self.rnd = rnd
        self.phones = phones    # order number → caller phone (callers look their orders up by number)

    def call_ended(self, call_id: str, agent_id: str) -> defer.Deferred | None:
        plan = self.plans.get(call_id)
        if plan is None:
            return None
        resolve = self.rnd.random() < self.resolve_on_call_share
        return self.blocking(self._file, plan, call_id, agent_id, resolve, now_from(self.clock),
                             self.heard(call_id))

    def _file(self, plan, call_id: str, agent_id: str, resolve: bool, now, heard=None) -> str:
        from ticketing.intake import propose

        fields = propose(plan.utterance).work_order_fields()
        fields.setdefault("category", plan.category)
        fields.setdefault("district", plan.district)
        if fields.get("subdistrict") and fields["district"] != plan.district and "district" not in fields:
            fields.pop("subdistrict")
        fields.update(channel="phone", caller_phone=plan.number, call_ids=[call_id])
        if heard:
            self.stats["orders_with_transcript"] += 1
            fields["description"] = (fields.get("description", "") + "\n语音转写 / live transcript: "
                                     + " ".join(heard))[:4000]
        try:
            order = self.service.create(fields, self.actor, now, idempotency_key=f"demo-call:{call_id}")
        except Exception:
            # what the agent would do with a proposal the taxonomy refuses: keep the words, fix the fields
            fields = {k: v for k, v in fields.items() if k not in ("subdistrict", "address", "department")}
            fields.update(category=plan.category, district=plan.district)
            order = self.service.create(fields, self.actor, now, idempotency_key=f"demo-call:{call_id}:fixed")
        number = order["number"]
        self.phones[number] = plan.number
        self.stats["orders_created"] += 1
        if resolve and not order.get("replayed"):
            self.perform(number, "resolve-on-call", {"reply": _AGENT_REPLY}, self.actor, now)
            self.stats["resolved_on_call"] += 1
        log.debug("demo agent filed an order", extra={"fields": {"order": number, "agent": agent_id}})
        return number


class Departments(_Worker):
    """The dispatcher and every department, polled on the scaled clock."""

    batch = 200

    def __init__(self, reactor, clock, service, stats, *, seed: int):
        super().__init__(reactor, clock, service, stats)
        from ticketing.service import Actor

        self.seed = seed
        self.dispatcher = Actor("demo-dispatcher", "dispatcher")
        self.Actor = Actor
        self.seen: dict[str, tuple[str, float]] = {}   # order → (status, since simulated seconds)
        self.returned: set[str] = set()
        self._busy = False

    def tick(self) -> defer.Deferred | None:
        if self._busy:
            return None
        self._busy = True
        d = self.blocking(self._round, self.clock.seconds())

        def free(result):
            self._busy = False
            return result

        return d.addBoth(free)

    def _round(self, at: float) -> int:
        now = now_from(self.clock)
        acted = 0
        observed: set[str] = set()
        for status in ("registered", "reopened", "return_requested", "dispatched", "acknowledged", "in_progress"):
            page = self.service.list(self.dispatcher, status=status, limit=self.batch, now=now)
            for order in page["items"]:
                observed.add(order["number"])
                try:
                    acted += self._act(order, status, at, now)
                except Exception as exc:  # one order's refusal must not stop the round
                    self.stats["errors"] += 1
                    self.stats[f"error:{type(exc).__name__}"] += 1
                    log.warning("demo department step refused", extra={"fields": {
                        "order": order["number"], "status": status, "error": str(exc)[:200]}})
        # orders that left the departments' hands are forgotten: memory stays bounded
        self.seen = {number: seen for number, seen in self.seen.items() if number in observed}
        return acted

    def _since(self, number: str, status: str, at: float) -> float:
        seen = self.seen.get(number)
        if seen is None or seen[0] != status:
            self.seen[number] = (status, at)
            return 0.0
        return at - seen[1]

    def _act(self, order: dict, status: str, at: float, now) -> int:
        number = order["number"]
        waited = self._since(number, status, at)
        fate = department_fate(self.seed, number)
        dept = self.Actor("demo-" + (order.get("department") or "dept"), "department", order.get("department"))
        if status == "registered":
            if order.get("channel") == "phone" and "留言" in (order.get("summary") or ""):
                return 0   # an IVR message awaits its transcript and a person
            self.perform(number, "dispatch", {}, self.dispatcher, now)
            self.stats["dispatched"] += 1
        elif status == "reopened":
            if waited < 300:
                return 0
            self.perform(number, "dispatch", {"note": "重办 / reopened after the callback"},
                                 self.dispatcher, now)
            self.stats["redispatched"] += 1
        elif status == "return_requested":
            if waited < 600:
                return 0
            self.perform(number, "review-return", {"approve": False, "reason": "属本单位职责 / within duty"},
                                 self.dispatcher, now)
            self.stats["returns_reviewed"] += 1
        elif status == "dispatched":
            if fate.returns and number not in self.returned and waited >= 300:
                self.returned.add(number)
                self.perform(number, "return", {"reason_code": "not_our_duty",
                                                        "reason": "非本单位职责 / not our duty"}, dept, now)
                self.stats["returned"] += 1
            elif waited >= fate.ack_after:
                self.perform(number, "acknowledge", {}, dept, now)
                self.stats["acknowledged"] += 1
            else:
                return 0
        elif status == "acknowledged":
            if waited < 120:
                return 0
            self.perform(number, "start", {}, dept, now)
        elif status == "in_progress":
            if waited < fate.reply_after:
                return 0
            self.perform(number, "reply", {"reply": _DEPT_REPLY}, dept, now)
            self.stats["replied"] += 1
        return 1

