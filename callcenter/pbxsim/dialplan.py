"""A small ``extensions.conf`` reader and Asterisk expression evaluator.

The simulator runs dialplans written in Asterisk's own syntax, so the hotline
contract (``docker/asterisk/extensions.conf``) and the lab dialplan the AMI
captures were recorded on can be executed as they are, and a test can prove
that the simulator's copy of the contract matches the shipped file.

Supported: ``[context]``, ``exten => pattern,prio[(label)],App(args)``,
``same => n[(label)],App(args)``, ``;`` comments, patterns ``_X Z N . ! [..]``,
``${VAR}``, ``${FUNC(args)}`` (CALLERID, CDR, IF, LEN, UNIQUEID …) and
``$[a = b]`` / ``$[a != b]`` expressions.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field


class DialplanError(ValueError):
    """A dialplan line the reader does not understand."""

    error_id = "pbxsim.dialplan_invalid"

    def __init__(self, message: str, **details) -> None:
        super().__init__(message)
        self.details = details


@dataclass(frozen=True)
class Step:
    priority: int
    label: str | None
    app: str
    data: str
    line: int


@dataclass
class Extension:
    pattern: str
    steps: list[Step] = field(default_factory=list)

    def step(self, priority: int) -> Step | None:
        for s in self.steps:
            if s.priority == priority:
                return s
        return None

    def label(self, name: str) -> int | None:
        for s in self.steps:
            if s.label == name:
                return s.priority
        return None


_LINE = re.compile(r"^(exten|same)\s*=>?\s*(.*)$")
_APP = re.compile(r"^([A-Za-z0-9_]+)(?:\((.*)\))?$", re.S)
_PRIO = re.compile(r"^(\d+|n)(?:\(([^)]+)\))?$")


class Dialplan:
    """Contexts → extensions → steps, with Asterisk's matching rules."""

    def __init__(self) -> None:
        self.contexts: dict[str, dict[str, Extension]] = {}
        self.globals: dict[str, str] = {}

    @classmethod
    def parse(cls, text: str) -> "Dialplan":
        plan = cls()
        context = None
        current: Extension | None = None
        last_prio = 0
        for lineno, raw in enumerate(text.splitlines(), 1):
            line = _strip_comment(raw).strip()
            if not line:
                continue
            if line.startswith("[") and line.endswith("]"):
                context = line[1:-1].strip()
                if context not in ("general",):
                    plan.contexts.setdefault(context, {})
                current = None
                continue
            if context == "general":
                continue
            if context == "globals":
                key, _, value = line.partition("=")
                plan.globals[key.strip()] = value.strip()
                continue
            m = _LINE.match(line)
            if not m or context is None:
                raise DialplanError("unreadable dialplan line", line=lineno, text=raw)
            kind, rest = m.group(1), m.group(2)
            if kind == "exten":
                pattern, _, rest = rest.partition(",")
                pattern = pattern.strip()
                current = plan.contexts[context].setdefault(pattern, Extension(pattern))
                last_prio = 0
            elif current is None:
                raise DialplanError("'same =>' without an extension", line=lineno)
            prio_text, _, app_text = rest.partition(",")
            pm = _PRIO.match(prio_text.strip())
            am = _APP.match(app_text.strip())
            if not pm or not am:
                raise DialplanError("unreadable priority or application", line=lineno, text=raw)
            prio = last_prio + 1 if pm.group(1) == "n" else int(pm.group(1))
            last_prio = prio
            current.steps.append(Step(prio, pm.group(2), am.group(1), am.group(2) or "", lineno))
        return plan

    def merge(self, other: "Dialplan") -> "Dialplan":
        """A new dialplan with ``other``'s contexts added (``other`` wins)."""
        merged = Dialplan()
        for src in (self, other):
            for name, exts in src.contexts.items():
                merged.contexts.setdefault(name, {}).update(exts)
            merged.globals.update(src.globals)
        return merged

    def find(self, context: str, exten: str) -> Extension | None:
        """The extension Asterisk would run: an exact match, else the most specific pattern."""
        exts = self.contexts.get(context)
        if not exts:
            return None
        if exten in exts and not exten.startswith("_"):
            return exts[exten]
        best = None
        for pattern, ext in exts.items():
            if pattern.startswith("_") and _pattern_re(pattern).fullmatch(exten):
                key = _specificity(pattern)
                if best is None or key < best[0]:
                    best = (key, ext)
        return best[1] if best else None

    def exists(self, context: str, exten: str, priority: int = 1) -> bool:
        ext = self.find(context, exten)
        return ext is not None and ext.step(priority) is not None


def _strip_comment(line: str) -> str:
    out = []
    escaped = False
    for ch in line:
        if ch == ";" and not escaped:
            break
        escaped = ch == "\\"
        out.append(ch)
    return "".join(out)


_PATTERN_CACHE: dict[str, re.Pattern] = {}


def _pattern_re(pattern: str) -> re.Pattern:
    cached = _PATTERN_CACHE.get(pattern)
    if cached is not None:
        return cached
    out = []
    body = pattern[1:]
    i = 0
    while i < len(body):
        ch = body[i]
        if ch in "Xx":
            out.append("[0-9]")
        elif ch in "Zz":
            out.append("[1-9]")
        elif ch in "Nn":
            out.append("[2-9]")
        elif ch == ".":
            out.append(".+")
        elif ch == "!":
            out.append(".*")
        elif ch == "[":
            end = body.index("]", i)
            out.append("[" + body[i + 1:end] + "]")
            i = end
        else:
            out.append(re.escape(ch))
        i += 1
    compiled = re.compile("".join(out))
    _PATTERN_CACHE[pattern] = compiled
    return compiled


def _specificity(pattern: str) -> tuple:
    """Smaller sorts first: longer fixed patterns beat ``.``/``!`` wildcards."""
    wild = pattern.count(".") + pattern.count("!")
    return (wild, -len(pattern))


# -- expressions ----------------------------------------------------------

_INNER_VAR = re.compile(r"\$\{([^${}]*)\}")
_INNER_EXPR = re.compile(r"\$\[([^$\[\]]*)\]")
_FUNC = re.compile(r"^([A-Z_]+)\((.*)\)$", re.S)


def substitute(text: str, lookup) -> str:
    """Expand ``${…}`` and ``$[…]`` innermost first, like pbx_substitute_variables.

    ``lookup(name, arg)`` returns a variable's or function's value ('' if unset);
    ``IF`` and ``LEN`` are handled here.
    """
    for _ in range(50):
        m = _INNER_VAR.search(text)
        e = _INNER_EXPR.search(text)
        if m is None and e is None:
            return text
        if m is not None:
            text = text[: m.start()] + _expand(m.group(1), lookup) + text[m.end():]
        else:
            text = text[: e.start()] + evaluate(e.group(1)) + text[e.end():]
    return text


def _expand(inner: str, lookup) -> str:
    fm = _FUNC.match(inner)
    if fm:
        func, arg = fm.group(1), fm.group(2)
        if func == "IF":
            cond, _, branches = arg.partition("?")
            yes, _, no = branches.partition(":")
            return yes if truthy(cond) else no
        if func == "LEN":
            return str(len(arg))
        return lookup(func, arg)
    # ${VAR:offset:length}
    name, _, rest = inner.partition(":")
    value = lookup(name, None)
    if rest:
        parts = rest.split(":")
        try:
            offset = int(parts[0] or 0)
            value = value[offset:]
            if len(parts) > 1 and parts[1]:
                value = value[: int(parts[1])]
        except ValueError:
            pass
    return value


def _unquote(s: str) -> str:
    s = s.strip()
    if len(s) >= 2 and s[0] == '"' and s[-1] == '"':
        return s[1:-1]
    return s


def evaluate(expr: str) -> str:
    """``$[ ]``: string/number (in)equality and comparisons; else the text itself."""
    for op in ("!=", ">=", "<=", "=", ">", "<"):
        left, sep, right = expr.partition(op)
        if sep:
            a, b = _unquote(left), _unquote(right)
            try:
                x, y = float(a), float(b)
            except ValueError:
                x, y = a, b
            result = {
                "=": x == y, "!=": x != y, ">": x > y, "<": x < y, ">=": x >= y, "<=": x <= y,
            }[op]
            return "1" if result else "0"
    return _unquote(expr)


def truthy(text: str) -> bool:
    text = text.strip()
    return text not in ("", "0")


def split_args(data: str) -> list[str]:
    """Split application arguments at top-level commas (parentheses nest)."""
    args, depth, cur = [], 0, []
    for ch in data:
        if ch == "," and depth == 0:
            args.append("".join(cur))
            cur = []
            continue
        if ch in "([":
            depth += 1
        elif ch in ")]" and depth:
            depth -= 1
        cur.append(ch)
    args.append("".join(cur))
    return args


# -- the dialplans ----------------------------------------------------------

#: The hotline contract (same contexts as docker/asterisk/extensions.conf),
#: plus simulated endpoints: ``hotline-pstn`` and agent phones are answered
#: by the simulator's scripted participants (the ``SimPSTN`` application).
HOTLINE_DIALPLAN = r"""
[globals]
HOTLINE_RING_TIMEOUT = 15

[hotline-in]
exten => _X.,1,NoOp(hotline call ${CALLERID(num)} -> ${EXTEN})
 same => n,Answer()
 same => n,Set(HOTLINE_CALLID=${UNIQUEID})
 same => n,Set(CDR(userfield)=${HOTLINE_CALLID})
 same => n,AGI(agi:async,ivr)
 same => n,GotoIf($["${IVR_ACTION}" = "hangup"]?bye)
 same => n(queued),AGI(agi:async,requeue)
 same => n,GotoIf($["${AGISTATUS}" = "FAILURE"]?queued)
 same => n(bye),Hangup()

[hotline-connect]
exten => s,1,ExecIf($["${HOTLINE_RECORDING}" = ""]?MixMonitor(${HOTLINE_CALLID}.wav,b))
 same => n,Set(HOTLINE_RECORDING=${HOTLINE_CALLID}.wav)
 same => n,Dial(${AGENT_DEVICE},${IF($["${RING_TIMEOUT}" = ""]?${HOTLINE_RING_TIMEOUT}:${RING_TIMEOUT})},g)
 same => n,GotoIf($["${ANSWEREDTIME}" != ""]?answered)
 same => n(requeue),AGI(agi:async,requeue)
 same => n,GotoIf($["${AGISTATUS}" = "FAILURE"]?requeue)
 same => n,Hangup()
 same => n(answered),AGI(agi:async,rating)
 same => n,Hangup()

[hotline-transfer]
exten => _X.,1,Set(HOTLINE_TRANSFER=${EXTEN})
 same => n,Dial(PJSIP/${EXTEN},30,g)
 same => n,GotoIf($["${ANSWEREDTIME}" != ""]?done)
 same => n(requeue),AGI(agi:async,requeue)
 same => n,GotoIf($["${AGISTATUS}" = "FAILURE"]?requeue)
 same => n(done),Hangup()

[hotline-survey]
exten => s,1,Answer()
 same => n,Wait(1)
 same => n,AGI(agi:async,survey)
 same => n,Hangup()

[hotline-pstn]
exten => _X.,1,SimPSTN(${EXTEN})
 same => n,Hangup()

[hotline-agents]
exten => _1XXX,1,Dial(PJSIP/${EXTEN},30)
 same => n,Hangup()
exten => 12345,1,Goto(hotline-in,12345,1)
"""

#: The lab PBX the captures in ../shared/ami-captures were recorded on
#: (reconstructed from their Newexten events and the capture README).
LAB_DIALPLAN = r"""
[hotline-in]
exten => 100,1,NoOp(Hotline call from ${CALLERID(all)})
 same => n,Answer()
 same => n,Set(CDR(userfield)=hotline-in)
 same => n,Set(HOTLINE_CALLID=${UNIQUEID})
 same => n,AGI(agi:async,ivr-main)
 same => n,NoOp(IVR finished: action=${IVR_ACTION} queue=${IVR_QUEUE} agi=${AGISTATUS})
 same => n,GotoIf($["${IVR_ACTION}" = "hangup"]?done)
 same => n,MixMonitor(${UNIQUEID}.wav,b)
 same => n,Queue(${IF($["${IVR_QUEUE}" = ""]?hotline-general:${IVR_QUEUE})})
 same => n,Hangup()
 same => n(done),Hangup()
exten => 101,1,Answer()
 same => n,Set(CDR(userfield)=hotline-direct)
 same => n,Set(HOTLINE_CALLID=${UNIQUEID})
 same => n,MixMonitor(${UNIQUEID}.wav,b)
 same => n,Queue(hotline-general,,,,${IF($["${QUEUE_TIMEOUT}" = ""]?300:${QUEUE_TIMEOUT})})
 same => n,NoOp(Queue result ${QUEUESTATUS})
 same => n,Hangup()
exten => 200,1,Queue(hotline-dept,,,,120)
 same => n,Hangup()
exten => 300,1,Answer()
 same => n,AudioSocket(${ASR_UUID},127.0.0.1:9092)
 same => n,Hangup()
exten => 301,1,Answer()
 same => n,Dial(AudioSocket/127.0.0.1:9092/${ASR_UUID})
 same => n,Hangup()
exten => 600,1,Answer()
 same => n,Echo()
 same => n,Hangup()

[hotline-agents]
exten => 1001,1,NoOp(Desk 1001 rings)
 same => n,Ringing()
 same => n,Wait(1)
 same => n,Answer()
 same => n,Playback(hello-world)
 same => n,Wait(${IF($["${AGENT_TALK}" = ""]?30:${AGENT_TALK})})
 same => n,Hangup()
exten => 1002,1,NoOp(Desk 1002 rings, nobody there)
 same => n,Ringing()
 same => n,Wait(120)
exten => 1003,1,Answer()
 same => n,Wait(${IF($["${AGENT_TALK}" = ""]?30:${AGENT_TALK})})
 same => n,Hangup()
exten => 2001,1,NoOp(Department desk 2001 rings)
 same => n,Ringing()
 same => n,Wait(1)
 same => n,Answer()
 same => n,Playback(beep)
 same => n,Wait(4)
 same => n,Hangup()

[hotline-survey]
exten => s,1,NoOp(Satisfaction survey for ${WORKORDER})
 same => n,Set(CDR(userfield)=survey:${WORKORDER})
 same => n,Read(SAT,beep,1,,2,4)
 same => n,UserEvent(SurveyResult,WorkOrder: ${WORKORDER},Score: ${SAT},ReadStatus: ${READSTATUS})
 same => n,Playback(auth-thankyou)
 same => n,Hangup()

[hotline-pstn]
exten => 13800000001,1,Ringing()
 same => n,Wait(2)
 same => n,Answer()
 same => n,Wait(3)
 same => n,SendDTMF(${SURVEY_DIGIT},250)
 same => n,Wait(5)
 same => n,Hangup()
exten => 13800000002,1,Ringing()
 same => n,Wait(120)
exten => 13800000003,1,Busy(10)
exten => 13800000004,1,Congestion(10)

[sim-phone]
exten => caller,1,Wait(${D1})
 same => n,SendDTMF(${DTMF1},250)
 same => n,Wait(${D2})
 same => n,SendDTMF(${DTMF2},250)
 same => n,Wait(${HOLD})
 same => n,Hangup()
exten => talker,1,Wait(${D1})
 same => n,Playback(${PLAY})
 same => n,SendDTMF(${DTMF1},250)
 same => n,Wait(${HOLD})
 same => n,Hangup()
"""

#: The lab's app_queue configuration (queues.conf of the capture PBX).
LAB_QUEUES = {
    "hotline-general": {
        "strategy": "rrmemory", "timeout": 8, "retry": 2, "wrapuptime": 2,
        "members": [("Agent 1001", "Local/1001@hotline-agents/n")],
    },
    "hotline-dept": {
        "strategy": "ringall", "timeout": 15, "retry": 2, "wrapuptime": 0,
        "members": [("Dept 2001", "Local/2001@hotline-agents/n")],
    },
}


def hotline_dialplan() -> Dialplan:
    return Dialplan.parse(HOTLINE_DIALPLAN)


def lab_dialplan() -> Dialplan:
    return Dialplan.parse(LAB_DIALPLAN)
