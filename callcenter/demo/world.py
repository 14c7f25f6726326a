"""The whole hotline in one process: the PBX simulator and every service, wired over TCP.

:class:`DemoWorld` starts, on SQLite under ``var/demo/``:

- the PBX simulator on a loopback AMI port (the dialplan of docker/asterisk),
- every service of the hotline, built by the composition root :class:`callcenter.app.Hotline`
  exactly as ``serve`` builds them (AMI client, IVR, ACD, SLA worker, satisfaction callbacks,
  transcription, web UI/API/metrics), on the scaled clock — callbacks call the same day,
- the simulated world (:mod:`callcenter.demo.actors`): callers arriving on a
  daily curve, agent phones, departments; each caller's phone (a PSTN number of
  the simulator) answers the callback with its planned key, or never.

Simulator, ACD, AMI client, SLA worker, callback worker and the actors share one
:class:`~callcenter.routing.timewarp.ScaledClock`: ``speed`` 60 turns a
minute into an hour of hotline time.  The clock starts at 09:00 (Asia/Shanghai)
of the latest working day, so the IVR is open and SLA working time runs.
"""
from __future__ import annotations

import json
import logging
import random
import shutil
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, time as dtime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from twisted.internet import defer, task

from callcenter.clock import now_from
from callcenter.demo.population import next_gap, plan_caller
from callcenter.demo.summary import SERVICE_LEVEL_SECONDS

log = logging.getLogger(__name__)

TZ = ZoneInfo("Asia/Shanghai")
PASSWORD = "hotline-demo"

#: the accounts printed at start: (user, role, department, display name)
ACCOUNTS = (
    ("agent1", "agent", None, "坐席一 / Agent 1"),
    ("agent2", "agent", None, "坐席二 / Agent 2"),
    ("dispatcher", "dispatcher", None, "派单员 / Dispatcher"),
    ("water", "department", "water", "水务集团 / Water Supply Group"),
    ("urban", "department", "urban-management", "城管 / Urban Management"),
    ("supervisor", "supervisor", None, "值班长 / Supervisor"),
    ("admin", "admin", None, "管理员 / Administrator"),
)
#: the browser agents' phones (ring when they log in at /agent and go ready)
HUMAN_DEVICES = {"agent1": "1001", "agent2": "1002"}


@dataclass
class DemoOptions:
    minutes: float | None = None
    speed: float = 60.0
    rate: float = 120.0          # calls per hour at the daily curve's 1.0
    agents: int = 8              # simulated agents (besides the browser accounts)
    port: int = 8080             # web
    ami_port: int = 0            # the simulator's AMI port (0: any free one)
    seed: int = 1
    directory: Path = Path("var/demo")
    keep: bool = False           # keep the previous run's database
    speech: bool = False         # callers speak (espeak-ng voices) and live ASR transcribes them
    progress_every: float = 10.0  # real seconds between progress lines


def demo_config(config, options: DemoOptions):
    """The service configuration the demo runs with (SQLite and files under ``directory``)."""
    base = options.directory.resolve()
    # the browser agents: ACD agent id = their user name (the desk's rule), a simulated phone each
    agents = [{"id": user, "device": f"PJSIP/{ext}", "skills": {"general": 80, "urgent": 70}, "groups": ["front"]}
              for user, ext in HUMAN_DEVICES.items()]
    for i in range(options.agents):
        ext = str(2001 + i)
        skills = {"general": 60 + (i * 7) % 40}
        if i % 3 == 0:
            skills["urgent"] = 70
        agents.append({"id": ext, "device": f"PJSIP/{ext}", "skills": skills, "groups": ["front"]})
    return config.with_overrides({
        "database.url": f"sqlite:///{base / 'demo.sqlite3'}",
        "search.engine": "embedded",
        "search.path": str(base / "search.sqlite3"),
        # the simulator's Asterisk plays from base/asterisk-sounds; the prompts are its hotline/ (as in compose)
        "ivr.sounds_dir": str(base / "asterisk-sounds" / "hotline"),
        "ivr.pbx_sounds_dir": "hotline",
        "ivr.recordings_dir": str(base / "recordings"),
        # agents answer 08:00-21:00 (through the departments' lunch break), so a demo left running keeps
        # answering across its noon; the SLA clock still keeps the [calendar] working hours
        "ivr.answer_hours": ["08:00-21:00"],
        "attachments.dir": str(base / "attachments"),
        "recordings.dirs": [str(base / "spool")],  # the simulator's MixMonitor files, playable on order pages
        "asr.spool_dir": str(base / "asr-spool"),
        "routing.agents": agents,
        "web.port": options.port,
        "web.host": "127.0.0.1",
        "asr.audiosocket_port": 0,      # with --speech: any free port (the desk is told which)
        "auth.argon2_time_cost": 1,
        "auth.argon2_memory_kib": 8192,
        "sla.worker_interval": 60.0,
        # callbacks within the two-hour span: same day, quick retries, ticks every simulated minute
        "callbacks.next_day": False,
        "callbacks.interval": 60.0,
        "callbacks.max_attempts": 2,
        "callbacks.retry_minutes": [10],
        "callbacks.lease": 600.0,
        "callbacks.webhook_url": "",
    })


def start_of_demo(calendar, real_now: datetime) -> datetime:
    """09:00 local of the latest working day not after ``real_now`` (so timestamps stay in the past)."""
    from ticketing.domain.errors import CalendarOutOfRange

    day = real_now.astimezone(TZ).date()
    if real_now.astimezone(TZ).time() < dtime(9, 0):
        day -= timedelta(days=1)
    for _ in range(30):
        try:
            workday = calendar.is_workday(day)
        except CalendarOutOfRange:
            workday = day.weekday() < 5
        if workday:
            break
        day -= timedelta(days=1)
    return datetime.combine(day, dtime(9, 0), tzinfo=TZ)


class DemoWorld:
    """Starts, runs and stops the demo; :meth:`summary` reports what happened."""

    #: simulated seconds between department rounds
    department_every = 120.0

    def __init__(self, reactor, config, options: DemoOptions, out=print):
        self.reactor = reactor
        self.options = options
        self.config = demo_config(config, options)
        self.out = out
        self.rnd = random.Random(options.seed)
        self.stats: Counter = Counter()
        self.plans: dict = {}
        self.phones: dict[str, str] = {}
        self.enqueued: dict[str, float] = {}   # calls waiting now → when they were queued
        self.patience: dict = {}   # calls waiting now → when the caller gives up (a DelayedCall)
        self.ivr_outcomes: Counter = Counter()
        self.stopping = False
        self._loops: list[task.LoopingCall] = []
        self._arrival = None
        self.seq = 0

    # -- start -----------------------------------------------------------------
    @defer.inlineCallbacks
    def start(self):
        from twisted.internet.threads import deferToThread

        from callcenter.app import Hotline
        from callcenter.demo.actors import AgentDesk, Departments
        from callcenter.demo.population import SPOKEN_EN, UTTERANCES
        from callcenter.demo.speech import make_voices
        from callcenter.pbxsim.simulator import PBXSimulator
        from callcenter.routing.timewarp import ScaledClock

        opts, reactor = self.options, self.reactor
        base = opts.directory.resolve()
        base.mkdir(parents=True, exist_ok=True)
        db_file = base / "demo.sqlite3"
        if not opts.keep:
            stale = [db_file, base / "spool"] + list(base.glob("demo.sqlite3-*")) + list(base.glob("search.sqlite3*"))
            for path in stale:
                if path.is_dir():
                    shutil.rmtree(path)
                elif path.exists():
                    path.unlink()
        for sub in ("asterisk-sounds/hotline", "recordings", "spool"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        reactor.suggestThreadPoolSize(6)
        # every sound the hotline plays, as `callcenter ivr prompts build` renders them (unchanged ones are kept);
        # the simulator, like Asterisk, ends a caller's AGI session on a sound that does not exist
        from ivr.sounds import build_sounds

        yield deferToThread(build_sounds, base / "asterisk-sounds" / "hotline")
        self.sim = PBXSimulator(reactor, speed=opts.speed, spool_dir=base / "spool", sounds_dir=base / "asterisk-sounds")
        # the simulator's channels are stamped with reactor time; its timers run at ``speed``
        self.ami_port = yield self.sim.listen(opts.ami_port)
        ami_port = self.ami_port.getHost().port
        self.config = self.config.with_overrides({"ami.host": "127.0.0.1", "ami.port": ami_port,
                                                  "ami.username": "hotline", "ami.secret": "hotline-secret"})
        self.voices = {}
        self.speech_note = "off (callers press keys; --speech makes them speak)"
        if opts.speech:
            self.voices = yield deferToThread(make_voices, base / "voices", [u[0] for u in UTTERANCES])
            if self.voices:  # English callers describing their problem at key 9
                english = yield deferToThread(make_voices, base / "voices", [u[0] for u in SPOKEN_EN], "en-us")
                self.voices.update(english)
            if not self.voices:
                self.speech_note = "off: espeak-ng and sox are needed to render callers' voices"
        # citizens' handsets: Kannel with its fake SMSC, reached by the hotline's SMS outbox
        from callcenter.demo.citizens import start_gateway

        if not opts.port:
            from callcenter.sms.gateway import free_port

            self.config = self.config.with_overrides({"web.port": free_port()})
        self.gateway, sms = yield deferToThread(start_gateway, int(self.config.get("web.port")))
        self.sms_note = sms if self.gateway is None else f"Kannel (fake SMSC) {self.gateway.sendsms_url}"
        if self.gateway is not None:
            self.config = self.config.with_overrides(sms)
        # the same services serve runs (callcenter.app), on the scaled clock, without AMI keep-alive pings
        self.hotline = hotline = Hotline(reactor, self.config, migrate=True, ami_options={"ping_interval": None},
                                         on_outcome=(self._count_survey,), on_finished=self._ivr_finished,
                                         speech=bool(self.voices), desk_audiosocket=True)
        yield hotline.open()
        self.engine, self.service = hotline.engine, hotline.workorders
        yield deferToThread(self._accounts, self.engine)
        self.started_at = start_of_demo(self.service.calendar, now_from(reactor))
        self.clock = hotline.clock = ScaledClock(reactor, opts.speed, start=self.started_at.timestamp())
        yield hotline.start()
        # hang the simulated calls up while the IVR and ACD still listen, so every call is accounted for
        hotline.before_stopping("ivr", self._hang_up_everyone)
        self.tracker, self.ami, self.acd, self.runner = hotline.tracker, hotline.ami, hotline.acd, hotline.runner
        self.callbacks, self.sla, self.fanout, self.speech = hotline.callbacks, hotline.sla, hotline.fanout, hotline.speech
        self.web_root, self.web_port = hotline.web_root, hotline.web_port
        if self.speech is not None:
            model = self.speech.model
            self.speech_note = (f"{model.name} ({model.language}) via AudioSocket 127.0.0.1:"
                                f"{self.speech.audiosocket_port}"
                                + ("" if model.language.startswith("zh") else
                                   f" — this model recognises {model.language}, not the callers' Mandarin: "
                                   "the transcripts show the path works, not accuracy"))
        elif self.voices:
            self.speech_note = "live desk transcript off: no streaming (Vosk) model installed"
        if hotline.speech_intake is not None:
            self.speech_note += (f"; key 9 (describe the problem), messages and recordings: "
                                 f"{hotline.speech_intake.model.name} (Whisper, Mandarin/English)")
        elif self.voices:
            self.speech_note += "; key 9 off: callcenter models install whisper-base"

        self.acd.add_listener(self._on_acd)
        for user, ext in HUMAN_DEVICES.items():
            self.sim.add_device(f"PJSIP/{ext}", answer_after=2.0)
        self.bots = []
        for agent in list(self.acd.sessions):
            if agent not in HUMAN_DEVICES:
                self.sim.add_device(f"PJSIP/{agent}", answer_after=self.rnd.uniform(1.0, 3.0))
                self.bots.append(agent)
        self.desk = AgentDesk(reactor, self.clock, self.service, self.stats, plans=self.plans, rnd=self.rnd,
                              phones=self.phones, heard=lambda cid: self.fanout.heard.pop(cid, None))
        self.departments = Departments(reactor, self.clock, self.service, self.stats, seed=opts.seed)
        yield self.ami.when_connected()
        for agent in self.bots:
            self.acd.agent_login(agent)
            self.acd.agent_ready(agent)
        self._every(self.department_every, self.departments.tick)
        self.citizens = None
        if self.gateway is not None:  # residents who use the portal instead of the phone
            from callcenter.demo.citizens import WebCitizens

            self.citizens = WebCitizens(reactor, self.clock, f"http://127.0.0.1:{self.config.get('web.port')}",
                                        self.gateway.phone, self.service, self.stats, self.rnd)
            self._every(WebCitizens.every, self.citizens.tick)
        self._schedule_arrival()
        self.wall_started = reactor.seconds()
        self._announce(ami_port)
        progress = task.LoopingCall(self._progress)
        progress.clock = reactor
        progress.start(opts.progress_every, now=False)
        self._loops.append(progress)

    @defer.inlineCallbacks
    def _hang_up_everyone(self):
        for ch in list(self.sim.channels.values()):
            if not ch.hungup:
                self.sim.hangup(ch, 16)
        yield task.deferLater(self.reactor, 0.2, lambda: None)

    def _listen(self, call_id: str) -> None:
        """Spy on a simulated agent's caller into our AudioSocket server (the desk does this for people)."""
        import uuid as uuidlib

        qc = self.acd.calls.get(call_id)
        if self.speech is None or qc is None or not qc.channel:
            return
        uuid = str(uuidlib.uuid4())
        self.fanout.streams[uuid] = call_id
        self.ami.originate(f"AudioSocket/127.0.0.1:{self.speech.audiosocket_port}/{uuid}", application="ChanSpy",
                           data=f"{qc.channel},qE", timeout=10).addErrback(
            lambda f: self.fanout.streams.pop(uuid, None))

    def _accounts(self, engine) -> None:
        from callcenter.auth.service import AuthService

        auth = AuthService(engine, time_cost=1, memory_kib=8192,
                           department_exists=self.service.taxonomy.departments.__contains__)
        now = datetime.now(TZ)
        for user, role, department, display in ACCOUNTS:
            if auth.get_user(user) is None:
                auth.add_user(user, PASSWORD, role, now, display_name=display, department=department)

    def _every(self, seconds: float, fn) -> None:
        loop = task.LoopingCall(fn)
        loop.clock = self.clock
        loop.start(seconds, now=False)
        self._loops.append(loop)

    def _announce(self, ami_port: int) -> None:
        web = f"http://127.0.0.1:{self.web_port.getHost().port}"
        lines = [
            "市民热线演示 / Hotline demo",
            f"  web        {web}/",
            f"  agent desk {web}/agent    department portal {web}/dept",
            f"  wallboard  {web}/wallboard    supervisor {web}/supervisor",
            f"  API        {web}/api/v1/workorders    metrics {web}/metrics",
            f"  live calls {web}/supervisor/calls    accounts (admin) {web}/admin/users",
            f"  AMI (PBX simulator) 127.0.0.1:{ami_port}  user hotline / hotline-secret",
            f"  accounts (password {PASSWORD}): " + ", ".join(f"{u} ({r})" for u, r, _, _ in ACCOUNTS),
            f"  time: x{self.options.speed:g}, starts {self.started_at:%Y-%m-%d %H:%M} Asia/Shanghai; "
            f"{self.options.rate:g} calls/h at peak factor 1; {len(self.bots)} simulated agents; "
            f"browser agents ring on PJSIP/{', PJSIP/'.join(HUMAN_DEVICES.values())}",
            f"  speech: {self.speech_note}",
            f"  citizens   portal {web}/  (report, track, rate; codes by SMS)  SMS: {self.sms_note}",
            "  Ctrl-C stops (in-flight work is finished and stored first)" if self.options.minutes is None
            else f"  runs {self.options.minutes:g} minutes, then prints a summary",
        ]
        self.out("\n".join(lines), flush=True)
        self.out(json.dumps({"event": "started", "web": web, "ami_port": ami_port}), flush=True)

    # -- the world ----------------------------------------------------------------
    def _local_hour(self) -> int:
        return now_from(self.clock).astimezone(TZ).hour

    def _schedule_arrival(self) -> None:
        gap = next_gap(self.rnd, self.options.rate, self._local_hour())
        self._arrival = self.clock.callLater(gap, self._arrive)

    def _arrive(self) -> None:
        from callcenter.pbxsim.participants import CallerScript

        self._arrival = None
        if self.stopping:
            return
        self.seq += 1
        lookup = next(iter(self.phones), None)
        plan = plan_caller(self.rnd, self.seq, lookup_number=lookup, speech=bool(self.voices))
        self.sim.add_pstn(plan.number, behaviour=plan.survey_behaviour, answer_after=3.0,
                          digits=plan.survey_key, digit_after=3.0, hangup_after=60.0)
        # patience runs from joining the agents' queue (``_on_acd``), not from the answer: the IVR's
        # welcome and menus do not use it up
        script = CallerScript(keys=list(plan.keys), key_delay=0.6, patience=None,
                              hangup_after=plan.hangup_after, talk_seconds=plan.talk_seconds,
                              speech_wav=self.voices.get(plan.utterance))
        ch = self.sim.dial_in(plan.number, plan.exten, script=script)
        self.plans[ch.uniqueid] = plan
        self.stats["calls"] += 1
        self._schedule_arrival()

    def _on_acd(self, kind: str, data: dict) -> None:
        if kind != "call":
            return
        cid, state = data.get("call_id"), data.get("state")
        if state == "queued":
            if cid not in self.enqueued:
                self.enqueued[cid] = self.clock.seconds()
                self.stats["queued"] += 1
                plan = self.plans.get(cid)
                if plan is not None and plan.patience is not None and cid not in self.patience:
                    self.patience[cid] = self.clock.callLater(plan.patience, self._impatient, cid)
            return
        if state in ("connected", "abandoned", "callback_booked", "ended"):
            timer = self.patience.pop(cid, None)
            if timer is not None and timer.active():
                timer.cancel()
        if state == "connected" and cid in self.enqueued:
            # counters, not per-call records: memory stays flat however long the demo runs
            wait = self.clock.seconds() - self.enqueued.pop(cid)
            self.stats["answered"] += 1
            self.stats["wait_total_ms"] += int(wait * 1000)
            self.stats["answered_in_sl"] += wait <= SERVICE_LEVEL_SECONDS
            if data.get("agent_id") in self.bots:
                self._listen(cid)
        elif state == "abandoned":
            self.enqueued.pop(cid, None)
            self.stats["abandoned"] += 1
        elif state == "callback_booked":
            self.enqueued.pop(cid, None)
            self.stats["callback_booked"] += 1
        elif state == "ended" and data.get("agent_id") in self.bots:
            self.desk.call_ended(cid, data["agent_id"])

    def _impatient(self, cid: str) -> None:
        """The caller has waited in the queue as long as they would: they hang up (an abandoned call)."""
        self.patience.pop(cid, None)
        if self.stopping or cid not in self.enqueued:
            return
        ch = next((c for c in self.sim.channels.values() if c.uniqueid == cid and not c.hungup), None)
        if ch is not None:
            self.sim.hangup(ch, 16)

    def _count_survey(self, call, name: str, value) -> None:
        """Progress counter of survey answers (the results themselves are stored by the survey hook)."""
        if name == "survey":
            self.stats["callbacks_answered"] += 1

    def _ivr_finished(self, call) -> None:
        if call.flow == "hotline":
            self.ivr_outcomes[call.outcome or "unknown"] += 1
            if call.outcome != "transfer":
                self.plans.pop(call.uniqueid, None)   # never reaches an agent: nothing to file

    def _progress(self) -> None:
        s = self.stats
        self.out(f"[{now_from(self.clock).astimezone(TZ):%H:%M}] calls {s['calls']} answered {s['answered']} "
                 f"abandoned {s['abandoned']} waiting {self.acd.router.waiting_count()} · orders "
                 f"{s['orders_created']} replied {s['replied']} · callbacks answered {s['callbacks_answered']}", flush=True)
        # bounded memory: forget finished calls' plans once their order is filed or long gone
        if len(self.plans) > 5000:
            for cid in list(self.plans)[:1000]:
                self.plans.pop(cid, None)

    # -- stop -----------------------------------------------------------------
    @defer.inlineCallbacks
    def abandon(self):
        """After a failed :meth:`start` (the web port taken, …): close what it had opened — the
        simulator's AMI port and Kannel's processes, which would outlive the demo otherwise; the
        hotline stopped its own services when its start failed."""
        from twisted.internet.threads import deferToThread

        self.stopping = True
        if getattr(self, "ami_port", None) is not None:
            yield self.ami_port.stopListening()
        if getattr(self, "gateway", None) is not None:
            yield deferToThread(self.gateway.stop)

    @defer.inlineCallbacks
    def stop(self):
        """Stop arrivals, let in-flight steps finish and be stored, then close everything."""
        from twisted.internet.threads import deferToThread

        from callcenter.demo.summary import summarize

        self.stopping = True
        if self._arrival is not None and self._arrival.active():
            self._arrival.cancel()
        for timer in self.patience.values():
            if timer.active():
                timer.cancel()
        self.patience.clear()
        for loop in self._loops:
            if loop.running:
                loop.stop()
        for actor in (self.desk, self.departments, self.citizens):
            if actor is not None:
                yield actor.drain()
        result = {}
        # the summary reads the database once every service has stopped, before it is closed
        self.hotline.before_stopping("database", lambda: deferToThread(summarize, self.engine, self).addCallback(
            result.update))
        yield self.hotline.stop()
        yield self.ami_port.stopListening()
        if self.gateway is not None:
            yield deferToThread(self.gateway.stop)
        return result
