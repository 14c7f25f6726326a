"""The IVR's doors into the rest of the service (adapters, no flow logic).

- :func:`working_hours` — the business-hours branch backed by ticketing's
  :class:`~ticketing.domain.calendar.WorkingCalendar` (holidays, 调休 days).
- :class:`WorkOrderDesk` — status lookup by work-order number, and a message
  left in the IVR registered as a draft work order; blocking service calls
  run off the reactor thread.
- :func:`acd_hooks` — hand callers and callback requests to the ACD
  (:class:`callcenter.routing.acd.QueueController`).
"""
from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Callable

from callcenter.clock import now_from
from ivr.prompts import OrderStatus

log = logging.getLogger(__name__)

_ORDER_NUMBER = re.compile(r"^\d{8,20}$")


def message_key(call_id: str, recording: str) -> str:
    """The idempotency key of the draft order a message left in the IVR registers: one per call and
    recording, so a replay never doubles it and its transcript finds it again."""
    return f"ivr-message:{call_id}:{recording}"[-128:]


def answer_periods(value) -> list[tuple]:
    """``ivr.answer_hours`` (``["08:00-20:00"]``) as (start, end) times; empty: none configured."""
    from datetime import time as dtime

    periods = []
    for item in value or ():
        try:
            start, end = (dtime.fromisoformat(part.strip()) for part in str(item).split("-", 1))
        except ValueError:
            raise ValueError(f"ivr.answer_hours: {item!r} is not HH:MM-HH:MM") from None
        if not start < end:
            raise ValueError(f"ivr.answer_hours: {item!r} ends before it starts")
        periods.append((start, end))
    return periods


def working_hours(calendar, periods=None) -> Callable[[datetime], bool]:
    """``is_open(now)``: a working day of the calendar and inside one of its periods — or, with
    ``periods`` (``ivr.answer_hours``), inside one of those: a hotline may answer through the
    departments' lunch break and into the evening while the SLA clock keeps the calendar's hours.

    A date beyond the calendar's holiday data is treated as Monday–Friday
    rather than closing the hotline by surprise.
    """
    from ticketing.domain.errors import CalendarOutOfRange

    def is_open(now: datetime) -> bool:
        local = now.astimezone(calendar.tz)
        try:
            workday = calendar.is_workday(local.date())
        except CalendarOutOfRange:
            workday = local.weekday() < 5
        if not workday:
            return False
        moment = local.time()
        return any(start <= moment < end for start, end in (periods or calendar.periods))

    return is_open


class WorkOrderDesk:
    """Self-service status lookup and after-hours messages, through ``WorkOrderService``."""

    #: the IVR acts as a front-desk user; callers are not authenticated, so
    #: only status, deadline, summary and reply are ever read back (masked).
    actor_id = "ivr"

    def __init__(self, service, clock, *, run_blocking: Callable, message_category: str,
                 message_district: str, message_type: str = "help", transcriptions=None):
        from ticketing.service import Actor

        self.service = service
        self.clock = clock
        self.run_blocking = run_blocking
        self.actor = Actor(self.actor_id, "agent")
        self.message_category = message_category
        self.message_district = message_district
        self.message_type = message_type
        self.transcriptions = transcriptions  # callcenter.asr.jobs.TranscriptionQueue (optional)
        self.drafts: list[str] = []

    def lookup(self, number: str):
        """Deferred[OrderStatus | None]."""
        return self.run_blocking(self._lookup, number, now_from(self.clock))

    def _lookup(self, number: str, now: datetime) -> OrderStatus | None:
        from ticketing.domain.errors import NotFound

        if not _ORDER_NUMBER.match(number or ""):
            return None
        try:
            view = self.service.get(number, self.actor, now=now)
        except NotFound:
            return None
        due = (view.get("deadlines", {}).get("resolve") or {}).get("due_at") or view.get("next_deadline")
        category = view.get("category_name") or {}
        return OrderStatus(number=view["number"], status=view["status"],
                           deadline=datetime.fromisoformat(due) if due else None,
                           summary=view.get("summary") or "", reply=view.get("reply") or "",
                           category=category.get("zh") or view.get("category") or "")

    def lookup_by_caller(self, caller: str):
        """Deferred[OrderStatus | None]: the latest order still open that this number reported."""
        return self.run_blocking(self._lookup_by_caller, caller, now_from(self.clock))

    def _lookup_by_caller(self, caller: str, now: datetime) -> OrderStatus | None:
        from callcenter.screening.service import caller_key

        # as the caller ID came, and as the list keys it (+86 13800001234 → 13800001234)
        phones = sorted({n for n in ((caller or "").strip(), caller_key(caller)) if len(n) >= 5})
        latest = self.service.latest_open_for_caller(phones, self.actor)
        return self._lookup(latest, now) if latest else None

    def on_message(self, call, recording: str):
        """Register the message as a draft order (受理, not dispatched) for the desk to
        complete once transcribed, and queue the recording for transcription (the
        transcript carries the call id the order lists).  Idempotent per call and recording."""
        return self.run_blocking(self._draft, call, recording, now_from(self.clock))

    def _draft(self, call, recording: str, now: datetime) -> dict:
        fields = {
            "type": self.message_type,
            "category": self.message_category,
            "district": self.message_district,
            "channel": "phone",
            "summary": "热线非工作时间留言（待转写）/ After-hours voice message (awaiting transcription)",
            "description": f"录音 / recording: {recording}",
            "call_ids": [call.uniqueid] if call.uniqueid else [],
        }
        if call.caller:
            fields["caller_phone"] = call.caller
        order = self.service.create(fields, self.actor, now,
                                    idempotency_key=message_key(call.uniqueid, recording))
        self.drafts.append(order["number"])
        if self.transcriptions is not None and not order.get("replayed"):
            self.transcriptions.enqueue(recording, now, call_id=call.uniqueid or None)
        log.info("IVR message registered", extra={"fields": {"order": order["number"], "call": call.uniqueid}})
        return order


def acd_hooks(acd):
    """``(on_transfer, on_callback)`` for :class:`~ivr.runner.IvrRunner` backed by the ACD
    (:meth:`QueueController.on_transfer` takes the caller still in AsyncAGI;
    :meth:`QueueController.on_callback` keeps their number and place)."""
    return acd.on_transfer, acd.on_callback


def screen_refresh_setting(config) -> float:
    """``[ivr] screen_refresh_seconds``: how often the restricted-callers list is reloaded (1 s to 1 h)."""
    return config.number("ivr.screen_refresh_seconds", 1, 3600, unit="seconds", default=10.0)


def build_runner(config, ami, reactor, *, service=None, calendar=None, acd=None, db_engine=None,
                 recognizer=None, on_outcome=None, on_finished=None):
    """The IVR as ``serve``/``demo`` run it, from the ``[ivr]`` config section.

    ``service`` (a ``WorkOrderService``) enables status lookup and messages as
    draft orders; ``calendar`` the business-hours branch (always open without
    it); ``acd`` (a ``QueueController``) takes transfers and callback requests
    — without it the dialplan's ``IVR_ACTION``/``IVR_QUEUE`` hand-off applies;
    ``db_engine`` stores every visit's path (:class:`ivr.store.IvrVisitStore`),
    screens callers against the restricted-callers list
    (:class:`callcenter.screening.service.CallerScreen`, ``runner.caller_screen``) and,
    with ``service``, queues messages for transcription.
    Flows are validated here: a broken flow file stops start-up.
    """
    from twisted.internet.threads import deferToThreadPool

    from ivr.library import FlowLibrary
    from ivr.runner import IvrRunner
    from ivr.tts import TextToSpeech

    def run_blocking(fn, *args):
        return deferToThreadPool(reactor, reactor.getThreadPool(), fn, *args)

    library = FlowLibrary(config.get("ivr.flows_dir") or None)
    desk = None
    if service is not None:
        transcriptions = None
        if db_engine is not None:
            from callcenter.asr.jobs import TranscriptionQueue

            transcriptions = TranscriptionQueue(db_engine)
        desk = WorkOrderDesk(service, reactor, run_blocking=run_blocking,
                             message_category=config.get("ivr.message_category"),
                             message_district=config.get("ivr.message_district"), transcriptions=transcriptions)
    on_transfer = on_callback = None
    if acd is not None:
        on_transfer, on_callback = acd_hooks(acd)
    store = screen = None
    if db_engine is not None:
        from callcenter.screening.service import CallerScreen, RestrictionList
        from ivr.store import IvrVisitStore

        store = IvrVisitStore(db_engine)
        screen = CallerScreen(RestrictionList(db_engine), reactor, run_blocking)
        screen.refresh_seconds = screen_refresh_setting(config)

    def finished(call):
        if store is not None:
            run_blocking(store.record, call).addErrback(
                lambda f: log.error("IVR visit not stored", extra={"fields": {"error": f.getErrorMessage()}}))
        if on_finished is not None:
            on_finished(call)

    runner = IvrRunner(
        ami, library, clock=reactor, sounds_dir=config.get("ivr.sounds_dir"),
        recordings_dir=config.get("ivr.recordings_dir"),
        is_open=(working_hours(calendar, answer_periods(config.get("ivr.answer_hours")))
                 if calendar is not None else (lambda now: True)),
        lookup=desk.lookup if desk else None, lookup_by_caller=desk.lookup_by_caller if desk else None,
        on_message=desk.on_message if desk else None,
        on_transfer=on_transfer, on_callback=on_callback, on_outcome=on_outcome, on_finished=finished,
        recognizer=recognizer, tts=TextToSpeech(), run_blocking=run_blocking,
        pbx_sounds_dir=config.get("ivr.pbx_sounds_dir") or None, caller_screen=screen)
    runner.command_grace = float(config.get("ivr.command_timeout"))
    runner.checkpoints = True  # where each caller waits, on their channel, for re-adoption (callcenter.failover)
    return runner
