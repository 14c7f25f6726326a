"""AMI actions: what each request answers, with Asterisk 22's exact texts.

``dispatch(session, message)`` returns the frames to write (a response, or a
response plus list events) or a Deferred of them for slow actions
(synchronous ``Originate``, ``PlayDTMF``, a failed ``Login``).
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from importlib import resources

from twisted.internet import defer

from callcenter.pbxsim import cli
from callcenter.pbxsim.apps import APPLICATIONS, start_mixmonitor, stop_mixmonitor
from callcenter.pbxsim.legs import create_leg, local_pair
from callcenter.pbxsim.model import UNKNOWN, Channel
from callcenter.pbxsim.queues import QueueError
from callcenter.pbxsim.wire import encode, format_tv

ACTIONS: dict = {}


def action(name):
    def register(fn):
        ACTIONS[name.lower()] = (name, fn)
        return fn
    return register


def dispatch(session, message):
    name = message.get("Action")
    if name is None or name == "":
        session.security_event("RequestBadFormat", "Error", 1, account=session.username,
                               extra=[("RequestType", "Action: NONE")], account_last=True)
        return [session.response(message, "Error", ("Message", "Missing action in request"))]
    key = name.lower()
    if not session.authenticated and key not in session.open_actions:
        session.security_event("RequestNotAllowed", "Error", 1, account="",
                               extra=[("RequestType", f"Action: {name}")])
        return [session.response(message, "Error", ("Message", "Permission denied"))]
    entry = ACTIONS.get(key)
    if entry is None:
        session.security_event("RequestBadFormat", "Error", 1, account=session.username,
                               extra=[("RequestType", f"Action: {name}")], account_last=True)
        return [session.response(message, "Error", ("Message", f"Invalid/unknown command: {name}. "
                                                    "Use Action: ListCommands to show available commands."))]
    return entry[1](session, message)


def error(session, message, text):
    return [session.response(message, "Error", ("Message", text))]


def success(session, message, text=None, *pairs):
    extra = ([("Message", text)] if text is not None else []) + list(pairs)
    return [session.response(message, "Success", *extra)]


def event_list(session, message, text: str, items: list, complete: str, extra_complete=()):
    """Response + items + ``<Name>Complete`` framing [06, 07, 08, 09, 12, 20]."""
    frames = [session.response(message, "Success", ("EventList", "start"), ("Message", text))]
    frames.extend(items)
    tail = [("Event", complete)]
    aid = message.get("ActionID")
    if aid:
        tail.append(("ActionID", aid))
    tail += [("EventList", "Complete"), ("ListItems", str(len(items)))] + list(extra_complete)
    frames.append(tail)
    return frames


def _aid(message) -> list:
    aid = message.get("ActionID")
    return [("ActionID", aid)] if aid else []


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "yes", "true", "on", "y", "t")


# -- session --------------------------------------------------------------------

@action("Login")
def login(session, message):
    if session.authenticated:
        return success(session, message, "Already authenticated")
    if session.check_login(message) is not None:
        d = defer.Deferred()

        def fail():
            d.callback(error(session, message, "Authentication failed"))
            session.close_after()

        # Asterisk delays a failed login by about a second (manager.c), on the real clock
        session.sim.reactor.callLater(session.sim.auth_failure_delay, fail)
        return d
    session.authenticated = True
    session.username = message.get("Username", "")
    session.session_tv = format_tv(session.sim.reactor.seconds())
    mask = message.get("Events")
    if mask is not None:
        session.events = _event_mask(mask)
    frames = success(session, message, "Authentication accepted")
    sim = session.sim
    if session.wants("system"):
        up = str(int(sim.reactor.seconds() - sim.started))
        session._pending_events.append(encode([("Event", "FullyBooted"), ("Privilege", "system,all"),
                                               ("Uptime", up), ("LastReload", up), ("Status", "Fully Booted")]))
    sim.reactor.callLater(0, session.security_event, "SuccessfulAuth", "Informational", 1,
                          account=session.username, extra=[("UsingPassword", "0")])
    return frames


def _event_mask(mask: str):
    value = mask.strip().lower()
    if value in ("on", "yes", "true", "1", "all"):
        return "on"
    if value in ("off", "no", "false", "0", ""):
        return "off"
    return frozenset(c.strip() for c in value.split(",") if c.strip())


@action("Challenge")
def challenge(session, message):
    if (message.get("AuthType") or "").lower() != "md5":
        return error(session, message, "Must specify AuthType")
    session.challenge = session.sim.new_challenge()
    return [session.response(message, "Success", ("Challenge", session.challenge))]


@action("Logoff")
def logoff(session, message):
    session.close_after()
    return [session.response(message, "Goodbye", ("Message", "Thanks for all the fish."))]


@action("Ping")
def ping(session, message):
    now = session.sim.reactor.seconds()
    return [session.response(message, "Success", ("Ping", "Pong"), ("Timestamp", f"{now:.6f}"))]


@action("Events")
def events(session, message):
    mask = message.get("EventMask")
    if mask is None:
        return error(session, message, "Missing EventMask")
    session.events = _event_mask(mask)
    return [session.response(message, "Success", ("Events", "Off" if session.events == "off" else "On"))]


@action("ListCommands")
def list_commands(session, message):
    text = resources.files("callcenter.pbxsim").joinpath("listcommands.txt").read_text(encoding="utf-8")
    pairs = []
    for line in text.splitlines():
        name, _, desc = line.partition(": ")
        if name.lower() in ACTIONS:
            pairs.append((name, desc))
    return [session.response(message, "Success", *pairs)]


@action("Command")
def command(session, message):
    text = message.get("Command")
    if not text:
        return error(session, message, "No command provided")
    ok, lines = cli.run(session.sim, text)
    out = [("Output", line) for line in lines]
    return [session.response(message, "Success" if ok else "Error", ("Message", "Command output follows"), *out)]


@action("UserEvent")
def user_event(session, message):
    name = message.get("UserEvent")
    if not name:
        return error(session, message, "Missing UserEvent")
    pairs = [("UserEvent", name)] + _aid(message)
    for key, value in message.pairs:
        if key.lower() not in ("action", "actionid", "userevent"):
            pairs.append((key, value))
    session.sim.emit("UserEvent", "user", pairs)
    return success(session, message, "Event Sent")


# -- status -------------------------------------------------------------------------

@action("CoreStatus")
def core_status(session, message):
    sim = session.sim
    start = datetime.fromtimestamp(sim.started, tz=timezone.utc)
    return [session.response(
        message, "Success",
        ("CoreStartupDate", start.strftime("%Y-%m-%d")), ("CoreStartupTime", start.strftime("%H:%M:%S")),
        ("CoreReloadDate", start.strftime("%Y-%m-%d")), ("CoreReloadTime", start.strftime("%H:%M:%S")),
        ("CoreCurrentCalls", str(len({c.linkedid for c in sim.channels.values()}))),
        ("CoreProcessedCalls", str(sim.processed_calls)))]


@action("CoreSettings")
def core_settings(session, message):
    sim = session.sim
    return [session.response(
        message, "Success", ("AMIversion", sim.ami_version), ("AsteriskVersion", sim.asterisk_version),
        ("SystemName", ""), ("CoreMaxCalls", "0"), ("CoreMaxLoadAvg", "0.000000"), ("CoreRunUser", ""),
        ("CoreRunGroup", ""), ("CoreMaxFilehandles", "0"), ("CoreRealTimeEnabled", "No"),
        ("CoreCDRenabled", "Yes"), ("CoreHTTPenabled", "No"), ("SoundsSearchCustomDir", "No"))]


@action("ExtensionState")
def extension_state(session, message):
    exten, context = message.get("Exten", ""), message.get("Context", "")
    return success(session, message, "Extension Status", ("Exten", exten), ("Context", context), ("Hint", ""),
                   ("Status", "-1"), ("StatusText", "Unknown"))


@action("DeviceStateList")
def device_state_list(session, message):
    items = []
    session.sim.queues.publish_states()
    states = dict(session.sim.device_states)
    for device, state in states.items():
        items.append([("Event", "DeviceStateChange")] + _aid(message) + [("Device", device), ("State", state)])
    return event_list(session, message, "Device State Changes will follow", items, "DeviceStateListComplete")


def _duration(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


@action("CoreShowChannels")
def core_show_channels(session, message):
    sim = session.sim
    items = []
    now = sim.reactor.seconds()
    for ch in sim.channels.values():
        items.append([("Event", "CoreShowChannel")] + _aid(message) + ch.snapshot(sim.channelvars) + [
            ("Application", ch.application), ("ApplicationData", ch.appdata),
            ("Duration", _duration((now - ch.created) * sim.speed)),
            ("BridgeId", ch.bridge.uniqueid if ch.bridge else "")])
    return event_list(session, message, "Channels will follow", items, "CoreShowChannelsComplete")


@action("Status")
def status(session, message):
    sim = session.sim
    wanted = message.get("Channel")
    names = [v.strip() for v in (message.get("Variables") or "").split(",") if v.strip()]
    if wanted:
        ch = sim.find_channel(wanted)
        if ch is None:
            return error(session, message, "No such channel")
        channels = [ch]
    else:
        channels = list(sim.channels.values())
    now = sim.reactor.seconds()
    items = []
    for ch in channels:
        pairs = [("Event", "Status"), ("Privilege", "Call")] + ch.snapshot(sim.channelvars) + [
            ("Type", ch.tech), ("DNID", ch.dnid), ("EffectiveConnectedLineNum", ch.connected_num),
            ("EffectiveConnectedLineName", ch.connected_name), ("TimeToHangup", "0"),
            ("BridgeID", ch.bridge.uniqueid if ch.bridge else ""), ("Application", ch.application),
            ("Data", ch.appdata), ("Nativeformats", "(slin)"), ("Readformat", "slin"), ("Readtrans", ""),
            ("Writeformat", "slin"), ("Writetrans", ""), ("Callgroup", "0"), ("Pickupgroup", "0"),
            ("Seconds", str(int((now - ch.created) * sim.speed)))]
        for name in names:
            fm = re.match(r"^([A-Z_]+)\((.*)\)$", name)
            value = sim.get_var(ch, fm.group(1), fm.group(2)) if fm else sim.get_var(ch, name)
            pairs.append(("Variable", f"{name}={value}"))
        items.append(pairs + _aid(message))
    return event_list(session, message, "Channel status will follow", items, "StatusComplete",
                      [("Items", str(len(items)))])


# -- queues ------------------------------------------------------------------------------

@action("QueueStatus")
def queue_status(session, message):
    sim = session.sim
    qname, member_name = message.get("Queue"), message.get("Member")
    now = sim.reactor.seconds()
    items = []
    for q in sim.queues.queues.values():
        if qname and q.name != qname:
            continue
        items.append([("Event", "QueueParams"), ("Queue", q.name), ("Max", "0"), ("Strategy", q.strategy),
                      ("Calls", str(len(q.entries))), ("Holdtime", str(int(q.holdtime))),
                      ("TalkTime", str(int(q.talktime))), ("Completed", str(q.completed)),
                      ("Abandoned", str(q.abandoned)), ("ServiceLevel", "0"), ("ServicelevelPerf", "0.0"),
                      ("ServicelevelPerf2", "0.0"), ("Weight", "0")] + _aid(message))
        for m in q.members:
            if member_name and member_name not in (m.name, m.interface):
                continue
            items.append([("Event", "QueueMember"), ("Queue", q.name), ("Name", m.name), ("Location", m.interface),
                          ("StateInterface", m.interface), ("Membership", "dynamic" if m.dynamic else "static"),
                          ("Penalty", str(m.penalty)), ("CallsTaken", str(m.calls_taken)),
                          ("LastCall", str(m.last_call)), ("LastPause", str(m.last_pause)),
                          ("LoginTime", str(m.login_time)), ("InCall", str(int(m.in_call))),
                          ("Status", str(m.status)), ("Paused", str(int(m.paused))), ("PausedReason", m.reason),
                          ("Wrapuptime", "0")] + _aid(message))
        for pos, e in enumerate(q.entries, 1):
            ch = e.channel
            items.append([("Event", "QueueEntry"), ("Queue", q.name), ("Position", str(pos)), ("Channel", ch.name),
                          ("Uniqueid", ch.uniqueid), ("CallerIDNum", ch.caller_num),
                          ("CallerIDName", ch.caller_name), ("ConnectedLineNum", ch.connected_num),
                          ("ConnectedLineName", ch.connected_name),
                          ("Wait", str(int((now - e.joined) * sim.speed))), ("Priority", "0")] + _aid(message))
    return event_list(session, message, "Queue status will follow", items, "QueueStatusComplete")


@action("QueueSummary")
def queue_summary(session, message):
    sim = session.sim
    qname = message.get("Queue")
    now = sim.reactor.seconds()
    items = []
    for q in sim.queues.queues.values():
        if qname and q.name != qname:
            continue
        available = sum(1 for m in q.members if not m.paused and not m.in_call and m.status in (1,))
        longest = max((int((now - e.joined) * sim.speed) for e in q.entries), default=0)
        items.append([("Event", "QueueSummary"), ("Queue", q.name), ("LoggedIn", str(len(q.members))),
                      ("Available", str(available)), ("Callers", str(len(q.entries))),
                      ("HoldTime", str(int(q.holdtime))), ("TalkTime", str(int(q.talktime))),
                      ("LongestHoldTime", str(longest))] + _aid(message))
    return event_list(session, message, "Queue summary will follow", items, "QueueSummaryComplete")


@action("QueueAdd")
def queue_add(session, message):
    queue, interface = message.get("Queue"), message.get("Interface")
    if not queue or not interface:
        return error(session, message, "'Queue' and 'Interface' not specified.")
    penalty = message.get("Penalty") or "0"
    if not penalty.isdigit():
        return error(session, message, "Invalid penalty")
    try:
        session.sim.queues.add(queue, interface, message.get("MemberName"), int(penalty),
                               _truthy(message.get("Paused")), message.get("Reason") or "")
    except QueueError as exc:
        return error(session, message, str(exc))
    return success(session, message, "Added interface to queue")


@action("QueueRemove")
def queue_remove(session, message):
    queue, interface = message.get("Queue"), message.get("Interface")
    if not queue or not interface:
        return error(session, message, "Need 'Queue' and 'Interface' parameters.")
    try:
        session.sim.queues.remove(queue, interface)
    except QueueError as exc:
        return error(session, message, str(exc))
    return success(session, message, "Removed interface from queue")


@action("QueuePause")
def queue_pause(session, message):
    interface, paused = message.get("Interface"), message.get("Paused")
    if not interface or paused is None:
        return error(session, message, "Need 'Interface' and 'Paused' parameters.")
    pause = _truthy(paused)
    try:
        session.sim.queues.pause(interface, pause, message.get("Queue"), message.get("Reason") or "")
    except QueueError as exc:
        return error(session, message, str(exc))
    return success(session, message, "Interface paused successfully" if pause else "Interface unpaused successfully")


@action("QueuePenalty")
def queue_penalty(session, message):
    interface, penalty = message.get("Interface"), message.get("Penalty")
    if not interface or penalty is None or not penalty.isdigit():
        return error(session, message, "Need 'Interface' and 'Penalty' parameters.")
    try:
        session.sim.queues.penalty(interface, int(penalty), message.get("Queue"))
    except QueueError as exc:
        return error(session, message, str(exc))
    return success(session, message, "Interface penalty set successfully")


@action("QueueMemberRingInUse")
def queue_ringinuse(session, message):
    interface, value = message.get("Interface"), message.get("RingInUse")
    if not interface or value is None:
        return error(session, message, "Need 'Interface' and 'RingInUse' parameters.")
    try:
        session.sim.queues.ringinuse(interface, _truthy(value), message.get("Queue"))
    except QueueError as exc:
        return error(session, message, str(exc))
    return success(session, message, "Interface ringinuse set successfully")


# -- channels --------------------------------------------------------------------------------

def _channel(session, message):
    name = message.get("Channel")
    return name, (session.sim.find_channel(name) if name else None)


@action("Hangup")
def hangup(session, message):
    name, ch = _channel(session, message)
    if not name:
        return error(session, message, "No channel specified")
    cause = message.get("Cause") or "16"
    if ch is None:
        return error(session, message, "No such channel")
    session.sim.hangup(ch, int(cause) if cause.isdigit() else 16, soft=True, request=True)
    return success(session, message, "Channel Hungup")


@action("Redirect")
def redirect(session, message):
    name, ch = _channel(session, message)
    if not name:
        return error(session, message, "Channel not specified")
    if ch is None:
        return error(session, message, f"Channel does not exist: {name}")
    context, exten = message.get("Context") or ch.context, message.get("Exten") or ""
    priority = message.get("Priority") or "1"
    if not priority.isdigit():
        return error(session, message, "Invalid priority")
    if not session.sim.dialplan.exists(context, exten, int(priority)):
        return error(session, message, "Redirect failed")
    session.sim.redirect(ch, context, exten, int(priority))
    return success(session, message, "Redirect successful")


def _variable_target(session, message):
    """``(channel or None for a global, variable, refusal)`` for Setvar/Getvar, refusing as Asterisk does."""
    name, ch = _channel(session, message)
    variable = message.get("Variable")
    if not variable:
        return ch, variable, error(session, message, "No variable specified")
    if name and ch is None:
        return ch, variable, error(session, message, "No such channel")
    return ch, variable, None


@action("Setvar")
def setvar(session, message):
    ch, variable, refusal = _variable_target(session, message)
    if refusal:
        return refusal
    session.sim.set_var(ch, variable, message.get("Value") or "")
    return success(session, message, "Variable Set")


@action("Getvar")
def getvar(session, message):
    ch, variable, refusal = _variable_target(session, message)
    if refusal:
        return refusal
    fm = re.match(r"^([A-Z_]+)\((.*)\)$", variable)
    if fm and ch is None:
        return error(session, message, "No channel specified")
    value = session.sim.get_var(ch, fm.group(1), fm.group(2)) if fm else session.sim.get_var(ch, variable)
    return [session.response(message, "Success", ("Variable", variable), ("Value", value))]


@action("AGI")
def agi(session, message):
    name, ch = _channel(session, message)
    cmd = message.get("Command")
    if not name:
        return error(session, message, "Channel not specified")
    if not cmd:
        return error(session, message, "Empty command specified")
    if ch is None:
        return error(session, message, f"Channel {name} does not exist.")
    if ch.agi is None:
        return error(session, message, f"Channel {name} is not setup for Async AGI.")
    ch.agi.enqueue(cmd, message.get("CommandID"))
    return success(session, message, "Added AGI command to queue")


@action("MixMonitor")
def mixmonitor(session, message):
    name, ch = _channel(session, message)
    if not name:
        return error(session, message, "No channel specified")
    if ch is None:
        return error(session, message, "No such channel")
    filename = message.get("File") or f"{ch.uniqueid}.wav"
    if ".." in filename.split("/"):
        return error(session, message, "Invalid file name")
    start_mixmonitor(session.sim, ch, filename, message.get("Options") or "")
    return [session.response(message, "Success")]


@action("MixMonitorMute")
def mixmonitor_mute(session, message):
    name, ch = _channel(session, message)
    if not name:
        return error(session, message, "No channel specified")
    if ch is None:
        return error(session, message, "No such channel")
    if ch.mixmonitor is None:
        return error(session, message, "Cannot set mute flag")
    direction = (message.get("Direction") or "both").lower()
    if direction not in ("read", "write", "both"):
        return error(session, message, "Invalid direction specified. Must be read, write or both")
    state = "1" if _truthy(message.get("State")) else "0"
    session.sim.chan_event("MixMonitorMute", "call", ch, [("Direction", direction), ("State", state)])
    return [session.response(message, "Success")]


@action("StopMixMonitor")
def stop_mix(session, message):
    name, ch = _channel(session, message)
    if not name:
        return error(session, message, "No channel specified")
    if ch is None:
        return error(session, message, "No such channel")
    if not stop_mixmonitor(session.sim, ch):
        return error(session, message, "Could not stop monitoring channel")
    return [session.response(message, "Success")]


@action("PlayDTMF")
def play_dtmf(session, message):
    name, ch = _channel(session, message)
    digit = message.get("Digit")
    if not name:
        return error(session, message, "No channel specified")
    if ch is None:
        return error(session, message, "Channel not found")
    if not digit or digit[0] not in "0123456789*#ABCDabcd":
        return error(session, message, "No digit specified")
    duration_ms = message.get("Duration") or "100"
    duration = int(duration_ms) / 1000 if duration_ms.isdigit() else 0.1
    sim = session.sim
    target = ch.peer if ch.peer is not None else ch
    sim.send_dtmf(ch, target, digit[0], duration=duration)
    d = defer.Deferred()
    sim.later(duration, d.callback, None)
    d.addCallback(lambda _: success(session, message, "DTMF successfully queued"))
    return d


# -- Originate ------------------------------------------------------------------------------

def parse_callerid(text: str | None) -> tuple[str, str]:
    if not text:
        return UNKNOWN, UNKNOWN
    m = re.match(r'^\s*"?([^"<]*?)"?\s*<([^>]*)>\s*$', text)
    if m:
        return (m.group(2) or UNKNOWN), (m.group(1).strip() or UNKNOWN)
    return text.strip(), UNKNOWN


@action("Originate")
def originate(session, message):
    sim = session.sim
    channel = message.get("Channel")
    if not channel:
        return error(session, message, "Channel not specified")
    app = message.get("Application")
    context, exten = message.get("Context"), message.get("Exten")
    priority = message.get("Priority") or "1"
    if not app and not exten:
        return error(session, message, "Exten not specified")
    if not priority.isdigit():
        return error(session, message, "Invalid priority")
    if app and app.lower() not in APPLICATIONS:
        return error(session, message, f"Application {app} is not simulated")
    timeout_ms = message.get("Timeout") or "30000"
    timeout = int(timeout_ms) / 1000 if timeout_ms.isdigit() else 30.0
    variables = []
    for value in message.getall("Variable"):
        for part in value.split(","):
            key, sep, val = part.partition("=")
            if sep and key:
                variables.append((key.strip(), val))
    spec = {
        "action_id": message.get("ActionID"), "channel": channel, "context": context or "",
        "exten": exten or "", "priority": int(priority), "application": app, "data": message.get("Data") or "",
        "callerid": parse_callerid(message.get("CallerID")), "timeout": timeout, "variables": variables,
    }
    if _truthy(message.get("Async")):
        sim.reactor.callLater(0, _originate_async, sim, spec)
        return success(session, message, "Originate successfully queued")
    d = run_originate(sim, spec)
    d.addCallback(lambda r: success(session, message, "Originate successfully queued") if r[0] == 4
                  else error(session, message, "Originate failed"))
    return d


def _originate_async(sim, spec):
    d = run_originate(sim, spec)
    d.addCallback(lambda r: _originate_response(sim, spec, *r))


def _originate_response(sim, spec, reason, ch):
    num, name = spec["callerid"]
    pairs = []
    if spec["action_id"]:
        pairs.append(("ActionID", spec["action_id"]))
    pairs += [("Response", "Success" if reason == 4 else "Failure"),
              ("Channel", ch.name if ch is not None and reason == 4 else spec["channel"]),
              ("Context", spec["context"]), ("Exten", spec["exten"]), ("Reason", str(reason)),
              ("Uniqueid", ch.uniqueid if ch is not None and reason == 4 else UNKNOWN),
              ("CallerIDNum", num if reason == 4 or ch is not None else UNKNOWN),
              ("CallerIDName", name if reason == 4 or ch is not None else UNKNOWN)]
    if ch is not None and reason == 4:
        for var in sim.channelvars:
            pairs.append((f"ChanVariable({ch.name})", f"{var}={ch.variables.get(var, '')}"))
    sim.emit("OriginateResponse", "call", pairs)


@defer.inlineCallbacks
def run_originate(sim, spec):
    """Place the call; fires ``(reason, channel)`` — 4 answered, 3 no answer, 5 busy, 8 congestion, 0 failed."""
    tech, _, rest = spec["channel"].partition("/")
    num, name = spec["callerid"]
    one = None
    if tech == "Local":
        exten, _, context = rest.split("/")[0].partition("@")
        if not context or context not in sim.dialplan.contexts:
            return (0, None)
        one, two = local_pair(sim, exten, context, caller=(num, name), variables=spec["variables"],
                              originate=True)
        if not sim.dialplan.exists(context, exten):
            # Asterisk creates the pair, finds no extension and hangs both up [16]
            sim.hangup(two, 0, soft=False)
            sim.hangup(one, 0, soft=False)
            return (0, None)
        sim.dest_event("DialBegin", one, [("DialString", f"{exten}@{context}")])
        sim.start_dialplan(two)
        one.on_ringing = lambda: sim.dest_event("DialState", one, [("DialStatus", "RINGING")])
    elif tech in ("PJSIP", "AudioSocket"):
        holder = Channel(name="", uniqueid="", linkedid="", context=spec["context"] or "default",
                         exten=spec["exten"] or "s", caller_num=num, caller_name=name)
        one = create_leg(sim, holder, spec["channel"])
        if one is None:
            return (0, None)
        for key, value in spec["variables"]:
            sim.set_var(one, key, value)
        sim.dest_event("DialBegin", one, [("DialString", rest)])
        one.on_ringing = lambda: sim.dest_event("DialState", one, [("DialStatus", "RINGING")])
    else:
        return (0, None)
    outcome = yield sim.ring(one, spec["timeout"])
    status = {"answer": "ANSWER", "busy": "BUSY", "congestion": "CONGESTION"}.get(outcome)
    if status is not None:  # a ring-out timeout ends without DialEnd [16]
        sim.dest_event("DialEnd", one, [("DialStatus", status)])
    if outcome != "answer":
        cause = {"busy": 17, "congestion": 34, "noanswer": 19}.get(outcome, 16)
        if one.tech == "Local" and outcome in ("busy", "congestion"):
            cause = 0   # the ;1 half has no cause of its own; the ;2 keeps Busy()/Congestion()'s [16, h10]
        sim.hangup(one, cause, soft=True, request=outcome == "noanswer")
        return ({"busy": 5, "congestion": 8, "noanswer": 3}.get(outcome, 1), one)
    if spec["application"]:
        sim.reactor.callLater(0, _run_application, sim, one, spec["application"], spec["data"])
    else:
        one.context, one.exten, one.priority = spec["context"], spec["exten"], spec["priority"]
        sim.start_dialplan(one)
    return (4, one)


@defer.inlineCallbacks
def _run_application(sim, ch, app, data):
    ch.running = True
    try:
        yield sim.exec_app(ch, app, data)
    finally:
        ch.running = False
    if not ch.hungup:
        sim.hangup(ch, 16, request=True)
